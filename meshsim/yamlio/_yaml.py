"""YAML and JSON text -> :class:`LineMap`/:class:`LineList` trees, safely and within bounds.

One reader for scenarios, SLO files and mesh configurations. ruamel.yaml's round-trip
loader builds only plain data (a tag it does not know stays inert text: nothing in a file
is executed), and keeps the position of every key and item; the tree is then copied into
plain dicts and lists that carry those positions. The copy is bounded: YAML aliases can
make a small file expand without limit ("billion laughs"), and deep nesting would exhaust
the interpreter's recursion, so both end in a clear error instead.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import sys
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from meshsim.errors import MeshsimInputError
from meshsim.yamlio._tree import LineList, LineMap

__all__ = ["MAX_DEPTH", "MAX_LINES", "MAX_VALUES", "dump_yaml", "read_json", "read_yaml", "read_yaml_documents"]

#: Deepest nesting of mappings and lists accepted (real configurations stay under 30).
MAX_DEPTH = 100
#: Most values one file may hold once YAML aliases are expanded (a large Kubernetes
#: manifest holds a few tens of thousands).
MAX_VALUES = 250_000
#: Most lines (plus commas of flow collections) one YAML file may have. The pure-Python
#: reader takes about 0.1 ms per item, so this bounds reading one file to seconds.
MAX_LINES = 100_000
#: Python refuses to turn longer digit strings into an int (its int-string limit).
_MAX_DIGITS = sys.get_int_max_str_digits() or 4300
_LONG_NUMBER = re.compile(rf"[0-9]{{{_MAX_DIGITS + 1},}}")


def _syntax_error(exc: MarkedYAMLError, file: str | None) -> MeshsimInputError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    col = mark.column + 1 if mark is not None else None
    problem = exc.problem or exc.context or "syntax error"
    ctx = exc.context_mark
    if ctx is not None and mark is not None and ctx.line != mark.line and exc.context:
        problem += f" ({exc.context.replace('while parsing ', '')} started at line {ctx.line + 1})"
    return MeshsimInputError(f"YAML syntax: {problem}", file=file, line=line, column=col)


class _Copier:
    """Copies a ruamel tree into plain positioned containers, counting values and depth."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.values = 0

    def fail(self, message: str, line: int | None) -> MeshsimInputError:
        return MeshsimInputError(message, file=self.file, line=line)

    def key(self, key: Any, line: int | None) -> Any:
        if isinstance(key, (CommentedMap, CommentedSeq)) or not _hashable(key):
            raise self.fail("YAML: found a key that is not a plain value (templating such as {{...}}?)", line)
        return self.scalar(key)

    def scalar(self, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if type(value).__name__ == "ScalarBoolean":  # ruamel's bool is an int subclass
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, TaggedScalar):  # e.g. CloudFormation's !Ref: keep the text, never evaluate
            return str(value.value)
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value
        return str(value)

    def copy(self, node: Any, depth: int, line: int | None) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise self.fail(f"YAML: the document holds more than {MAX_VALUES:,} values once aliases are expanded", line)
        if isinstance(node, (CommentedMap, CommentedSeq)) and depth > MAX_DEPTH:
            raise self.fail(f"YAML: nested more than {MAX_DEPTH} levels deep", line)
        if isinstance(node, CommentedMap):
            return self._map(node, depth, line)
        if isinstance(node, CommentedSeq):
            return self._seq(node, depth, line)
        return self.scalar(node)

    def _map(self, node: CommentedMap, depth: int, line: int | None) -> LineMap:
        out = LineMap()
        out.line, out.col = _pos(node, line)
        own = node.lc.data if isinstance(node.lc.data, dict) else {}
        for key, value in node.items():
            pos = own.get(key)
            k_line, k_col = (pos[0] + 1, pos[1] + 1) if pos else (out.line, out.col)
            k = self.key(key, k_line)
            out[k] = self.copy(value, depth + 1, k_line)
            out.lines[k], out.cols[k] = k_line, k_col
        return out

    def _seq(self, node: CommentedSeq, depth: int, line: int | None) -> LineList:
        out = LineList()
        out.line, out.col = _pos(node, line)
        own = node.lc.data if isinstance(node.lc.data, dict) else {}
        for i, value in enumerate(node):
            pos = own.get(i)
            i_line, i_col = (pos[0] + 1, pos[1] + 1) if pos else (out.line, out.col)
            out.append(self.copy(value, depth + 1, i_line))
            out.lines.append(i_line)
            out.cols.append(i_col)
        return out


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _pos(node: Any, fallback: int | None) -> tuple[int, int]:
    # ruamel records no position for some nodes (e.g. explicitly tagged flow collections):
    # fall back to the parent's line rather than fail.
    line, col = getattr(node.lc, "line", None), getattr(node.lc, "col", None)
    if isinstance(line, int):
        return line + 1, (col + 1 if isinstance(col, int) else 0)
    return fallback or 0, 0


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, max(0, offset)) + 1


def _too_deep_line(text: str) -> int | None:
    """The first line nested more than MAX_DEPTH levels (block indentation plus open brackets)."""
    indents: list[int] = []
    flow = 0
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.lstrip(" ")
        if flow == 0 and stripped and not stripped.startswith("#"):
            indent = len(line) - len(stripped)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
        quote = ""
        for ch in stripped:
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "\"'":
                quote = ch
            elif ch == "#":
                break
            elif ch in "[{":
                flow += 1
                if len(indents) + flow > MAX_DEPTH:
                    return number
            elif ch in "]}":
                flow = max(0, flow - 1)
        if len(indents) + flow > MAX_DEPTH:
            return number
    return None


def _check_size(text: str, file: str | None) -> None:
    items = text.count("\n") + text.count(",")
    if items > MAX_LINES:
        raise MeshsimInputError(
            f"YAML: too large to read: {items:,} lines and list items (the limit is {MAX_LINES:,})", file=file
        )


def _number_too_long(text: str, file: str | None, what: str) -> MeshsimInputError:
    m = _LONG_NUMBER.search(text)
    line = _line_at(text, m.start()) if m else None
    return MeshsimInputError(f"{what}: a number with more than {_MAX_DIGITS} digits", file=file, line=line)


def _too_deep(text: str, file: str | None, what: str) -> MeshsimInputError:
    return MeshsimInputError(f"{what}: nested more than {MAX_DEPTH} levels deep", file=file, line=_too_deep_line(text))


def _load_all(text: str, file: str | None) -> list[Any]:
    _check_size(text, file)
    yaml = YAML(typ="rt")
    try:
        return list(yaml.load_all(io.StringIO(text)))
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except ReaderError as exc:  # a control character YAML does not allow
        line = _line_at(text, exc.position)
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        raise MeshsimInputError(
            f"YAML: the control character {char!r} is not allowed in YAML text", file=file, line=line
        ) from None
    except YAMLError as exc:  # a few unmarked errors (e.g. duplicate keys in some versions)
        raise MeshsimInputError(f"YAML: {exc}", file=file) from None
    except RecursionError:
        raise _too_deep(text, file, "YAML") from None
    except ValueError:
        if _LONG_NUMBER.search(text):  # ruamel hands the digits to int()
            raise _number_too_long(text, file, "YAML") from None
        raise


def read_yaml_documents(text: str, file: str | None = None) -> list[tuple[int, Any]]:
    """Every non-empty document of a YAML text as ``(start line, tree)``.

    Raises:
        MeshsimInputError: a syntax error (with its line and column), too deep, or too large.
    """
    copier = _Copier(file)
    out: list[tuple[int, Any]] = []
    for doc in _load_all(text, file):
        if doc is None:
            continue
        tree = copier.copy(doc, 0, None)
        start = tree.line if isinstance(tree, (LineMap, LineList)) and tree.line else 1
        out.append((start, tree))
    return out


def read_yaml(text: str, file: str | None = None) -> Any:
    """The single document of a YAML text (None when empty); more than one document is an error."""
    docs = read_yaml_documents(text, file)
    if len(docs) > 1:
        raise MeshsimInputError(
            "YAML: expected one document, found several (separated by ---)", file=file, line=docs[1][0]
        )
    return docs[0][1] if docs else None


def read_json(text: str, file: str | None = None) -> Any:
    """A JSON document with positions (None when empty); syntax errors name their line.

    JSON is checked by :mod:`json` first, for its error messages, then read as YAML for the
    positions. Tabs are legal JSON whitespace but not YAML indentation, and a raw tab cannot
    sit inside a JSON string, so replacing them keeps lines and meaning.
    """
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise MeshsimInputError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise _too_deep(text, file, "JSON") from None
    except ValueError:  # the int-string limit
        raise _number_too_long(text, file, "JSON") from None
    docs = read_yaml_documents(text.replace("\t", " "), file)
    return docs[0][1] if docs else None


def dump_yaml(data: Any, *, flow: bool = False) -> str:
    """Plain data as YAML text: block style (or one flow line with ``flow``), keys in their order."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.allow_unicode = True
    yaml.width = 10**9
    buf = io.StringIO()
    yaml.dump(_plain(data), buf)
    return buf.getvalue()


def _plain(data: Any) -> Any:
    # The safe representer knows dict and list, not their subclasses (LineMap, LineList).
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    return data
