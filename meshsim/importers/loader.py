"""Read mesh configuration files into documents that remember their line numbers.

YAML (multi-document), JSON and HCL (:mod:`.hcl`) all come out as :class:`LDict` /
:class:`LList`: plain dicts and lists that also carry the 1-based line of every key
and item, so each imported value can name the line it came from. Nothing the user
gives is executed: YAML is read with PyYAML's safe constructors only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import MeshsimInputError

__all__ = ["CONFIG_SUFFIXES", "Document", "LDict", "LList", "iter_files", "load_documents"]

#: File names a folder import picks up (``.template``: App Mesh walkthrough manifests).
CONFIG_SUFFIXES = (
    ".yaml", ".yml", ".json", ".hcl",
    ".yaml.template", ".yml.template", ".json.template",
)


class LDict(dict):  # type: ignore[type-arg]
    """A dict that knows the line of each key (``lines``) and of itself (``line``)."""

    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}


class LList(list):  # type: ignore[type-arg]
    """A list that knows the line of each item (``lines``) and of itself (``line``)."""

    line: int = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lines: list[int] = []


@dataclass
class Document:
    """One configuration object (a YAML document, a JSON object, an HCL file or entry)."""

    file: str
    line: int
    data: Any
    explicit: bool  # True when the user named this file, not just its folder
    index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class _LineLoader(yaml.SafeLoader):
    """Safe loader whose mappings and sequences record their lines."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Any:
    out = LDict()
    out.line = node.start_mark.line + 1
    yield out
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found a key that is not a plain value (templating such as {{...}}?)",
                key_node.start_mark,
            ) from None
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Any:
    out = LList()
    out.line = node.start_mark.line + 1
    yield out
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


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
                out.append(text[i:i + 2])
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


def _yaml_error(exc: yaml.YAMLError, file: str) -> MeshsimInputError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    return MeshsimInputError(f"invalid YAML: {problem}", file=file, line=line)


def parse_yaml_text(text: str, file: str) -> list[tuple[int, Any]]:
    """All documents of a YAML text as ``(start line, data)``, empty ones dropped."""
    docs: list[tuple[int, Any]] = []
    loader = _LineLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is not None:
                docs.append((node.start_mark.line + 1, data))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file) from None
    finally:
        loader.dispose()
    return docs


def parse_json_text(text: str, file: str) -> Any:
    """A JSON document with line numbers (validated by :mod:`json` first)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise MeshsimInputError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    # JSON is YAML; re-read it with the line-recording loader. Tabs are legal JSON
    # whitespace but not YAML indentation, and a raw tab cannot sit inside a JSON
    # string, so replacing them keeps lines and meaning.
    docs = parse_yaml_text(text.replace("\t", " "), file)
    return docs[0][1] if docs else None


def load_documents(
    path: Path, display: str, *, explicit: bool, substitute: bool
) -> tuple[list[Document], list[str]]:
    """Read one file into documents. Returns ``(documents, warnings)``.

    ``substitute`` replaces ``${VAR}`` template placeholders (always done for
    ``*.template`` files) and warns once per file naming the variables.
    """
    warnings: list[str] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MeshsimInputError(f"not a UTF-8 text file ({exc.reason})", file=display) from None
    except OSError as exc:
        raise MeshsimInputError(f"cannot read file: {exc.strerror}", file=display) from None
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
        from .hcl import parse_hcl

        data = parse_hcl(text, display)
        return [Document(display, 1, data, explicit)], warnings
    if is_json:
        data = parse_json_text(text, display)
        if data is None:
            return [], warnings
        if isinstance(data, LList):
            return [
                Document(display, data.lines[i], item, explicit, index=i)
                for i, item in enumerate(data)
            ], warnings
        return [Document(display, getattr(data, "line", 1) or 1, data, explicit)], warnings
    docs = []
    for i, (line, data) in enumerate(parse_yaml_text(text, display)):
        docs.append(Document(display, line, data, explicit, index=i))
    return docs, warnings
