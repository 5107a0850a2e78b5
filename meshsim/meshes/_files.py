"""Read mesh configuration files into documents that remember their line numbers.

YAML (multi-document), JSON and HCL all come out of :mod:`meshsim.yamlio` as plain
dicts and lists that also carry the 1-based line of every key and item, so each
imported value can name the line it came from. Nothing the user gives is executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from meshsim.errors import MeshsimInputError, read_input_text
from meshsim.yamlio import LineList, read_hcl, read_json, read_yaml_documents

__all__ = ["CONFIG_SUFFIXES", "Document", "iter_files", "load_documents", "substitute_placeholders"]

#: File names a folder import picks up (``.template``: App Mesh walkthrough manifests).
CONFIG_SUFFIXES = (
    ".yaml",
    ".yml",
    ".json",
    ".hcl",
    ".yaml.template",
    ".yml.template",
    ".json.template",
)


@dataclass
class Document:
    """One configuration object (a YAML document, a JSON object, an HCL file or entry)."""

    file: str
    line: int
    data: Any
    explicit: bool  # True when the user named this file, not just its folder
    index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def iter_files(path: Path) -> list[Path]:
    """Configuration files under ``path`` (recursive, sorted, hidden entries skipped)."""
    if path.is_file():
        return [path]
    found = []
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).parts
        if any(part.startswith(".") for part in rel):
            continue
        if p.is_file() and p.name.lower().endswith(CONFIG_SUFFIXES):
            found.append(p)
    return found


_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BARE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _dummy(name: str) -> str:
    # A DNS-label-safe stand-in, so color.${APP_NAMESPACE}.svc.cluster.local stays a host name.
    return name.lower().replace("_", "-")


def substitute_placeholders(text: str, is_json: bool) -> tuple[str, list[str]]:
    """Replace ``${VAR}`` (and, in JSON, bare ``$VAR`` values) with dummy names.

    Returns the new text and the variable names, in order of first use. No newline
    is added or removed, so line numbers stay those of the original file.
    """
    names: list[str] = []

    def note(name: str) -> None:
        if name not in names:
            names.append(name)

    if not is_json:

        def sub(m: re.Match[str]) -> str:
            note(m.group(1))
            return _dummy(m.group(1))

        return _BRACED.sub(sub, text), names
    # JSON: inside strings substitute text; outside strings a placeholder must
    # become a quoted string for the document to parse at all.
    out: list[str] = []
    i, in_str = 0, False
    while i < len(text):
        ch = text[i]
        if in_str:
            if ch == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            if ch == '"':
                in_str = False
            elif ch == "$":
                m = _BRACED.match(text, i) or None
                if m:
                    note(m.group(1))
                    out.append(_dummy(m.group(1)))
                    i = m.end()
                    continue
            out.append(ch)
            i += 1
            continue
        if ch == '"':
            in_str = True
        elif ch == "$":
            m = _BRACED.match(text, i) or _BARE.match(text, i)
            if m:
                note(m.group(1))
                out.append(f'"{_dummy(m.group(1))}"')
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out), names


def load_documents(path: Path, display: str, *, explicit: bool, substitute: bool) -> tuple[list[Document], list[str]]:
    """Read one file into documents. Returns ``(documents, warnings)``.

    ``substitute`` replaces ``${VAR}`` template placeholders (always done for
    ``*.template`` files) and warns once per file naming the variables.
    """
    warnings: list[str] = []
    try:
        text = read_input_text(path)
    except MeshsimInputError as exc:  # name the file as the user gave it
        raise MeshsimInputError(problems=[replace(p, file=display) for p in exc.problems]) from None
    name = path.name.lower()
    base = name.removesuffix(".template")
    is_json = base.endswith(".json")
    if substitute or name.endswith(".template"):
        text, names = substitute_placeholders(text, is_json)
        if names:
            shown = ", ".join("${" + n + "}" for n in names)
            warnings.append(
                f"{display}: template placeholders {shown} replaced with dummy values "
                "(render the template to import real names)"
            )
    if base.endswith(".hcl"):
        data = read_hcl(text, display)
        return [Document(display, 1, data, explicit)], warnings
    if is_json:
        data = read_json(text, display)
        if data is None:
            return [], warnings
        if isinstance(data, LineList):
            return [Document(display, data.lines[i], item, explicit, index=i) for i, item in enumerate(data)], warnings
        return [Document(display, getattr(data, "line", 1) or 1, data, explicit)], warnings
    docs = []
    for i, (line, data) in enumerate(read_yaml_documents(text, display)):
        docs.append(Document(display, line, data, explicit, index=i))
    return docs, warnings
