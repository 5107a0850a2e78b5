"""Read mesh configuration files into documents that remember their line numbers.

YAML (multi-document), JSON and HCL all come out of :mod:`meshsim.yamlio` as plain
dicts and lists that also carry the 1-based line of every key and item, so each
imported value can name the line it came from. Nothing the user gives is executed.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from meshsim.errors import MeshsimInputError, os_reason, read_input_bytes, read_input_text
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


#: Bounds of a folder walk: configuration files found, entries looked at, depth and total size.
MAX_WALK_FILES = 5_000
MAX_WALK_ENTRIES = 100_000
MAX_WALK_DEPTH = 24
MAX_WALK_BYTES = 64 * 1024 * 1024
#: Trees of the operating system a walk never enters (and refuses to start from).
SYSTEM_TREES = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/lost+found",
    "/proc",
    "/run",
    "/sbin",
    "/snap",
    "/sys",
    "/usr",
    "/var",
)


def _is_system_tree(path: Path) -> bool:
    return str(path) in SYSTEM_TREES or path == Path(path.anchor)


def _walk_error(root: Path, message: str) -> MeshsimInputError:
    return MeshsimInputError(message, file=str(root))


def iter_files(path: Path) -> list[Path]:
    """Configuration files under ``path`` (recursive, sorted, hidden entries skipped), within bounds.

    A file is returned as it is (read later through the input gate). A folder is walked
    without following symbolic links to folders (no loops, no escape), never into the
    system's own trees (``/proc``, ``/usr`` ...), and at most :data:`MAX_WALK_FILES` files,
    :data:`MAX_WALK_ENTRIES` entries, :data:`MAX_WALK_DEPTH` levels and
    :data:`MAX_WALK_BYTES` bytes of configuration: past a bound the import stops with a
    message naming it. Anything else (a pipe, a device) is refused.

    Raises:
        MeshsimInputError: the path is missing, special, the whole file system or a system
            tree, or the walk passes a bound.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _walk_error(path, "no such file or folder") from None
    except (OSError, ValueError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else "the name contains a NUL character"
        raise _walk_error(path, f"cannot read: {reason}") from None
    if stat.S_ISREG(info.st_mode):
        return [path]
    if not stat.S_ISDIR(info.st_mode):
        read_input_bytes(path, what="configuration file")  # raises: a pipe, socket or device
        return []
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:
        raise _walk_error(path, f"cannot read: {exc}") from None
    if _is_system_tree(resolved):
        raise _walk_error(
            path, "refusing to search the system's own folders; name the folder that holds the mesh configuration"
        )
    found: list[Path] = []
    entries = 0
    total_bytes = 0

    def walk_failed(exc: OSError) -> None:
        raise _walk_error(Path(exc.filename or path), f"cannot read folder: {os_reason(exc)}")

    for folder, dirs, files in os.walk(path, onerror=walk_failed, followlinks=False):
        here = Path(folder)
        depth = len(here.relative_to(path).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not _is_system_tree(here.resolve() / d))
        if depth >= MAX_WALK_DEPTH and dirs:
            raise _walk_error(here / dirs[0], f"folders nested deeper than {MAX_WALK_DEPTH} levels")
        entries += len(dirs) + len(files)
        if entries > MAX_WALK_ENTRIES:
            raise _walk_error(path, f"more than {MAX_WALK_ENTRIES:,} entries under this folder; name a smaller one")
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(CONFIG_SUFFIXES):
                continue
            p = here / name
            try:
                st = os.stat(p)
            except OSError:  # a dangling link: reading it later says why
                found.append(p)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue  # a pipe or device named like a configuration file
            total_bytes += st.st_size
            found.append(p)
            if len(found) > MAX_WALK_FILES:
                raise _walk_error(path, f"more than {MAX_WALK_FILES:,} configuration files; name a smaller folder")
            if total_bytes > MAX_WALK_BYTES:
                raise _walk_error(
                    path, f"more than {MAX_WALK_BYTES // 2**20} MB of configuration files; name a smaller folder"
                )
    return sorted(found)


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
        text = read_input_text(path, what="configuration file")
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
