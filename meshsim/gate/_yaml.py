"""Safe YAML reading with 1-based line numbers (ruamel.yaml round-trip nodes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import MeshsimInputError

__all__ = ["load_documents", "node_line", "key_line", "item_line", "locate", "is_map", "is_seq"]


def is_map(node: object) -> bool:
    """Return True for a YAML mapping (as loaded by the round-trip loader)."""
    return isinstance(node, CommentedMap)


def is_seq(node: object) -> bool:
    """Return True for a YAML sequence (as loaded by the round-trip loader)."""
    return isinstance(node, CommentedSeq)


def load_documents(text: str, file: str) -> list[Any]:
    """All documents in ``text``; a syntax error becomes a located MeshsimInputError.

    The round-trip loader builds only plain data (tags it does not know stay
    inert), so nothing in the file is executed.
    """
    yaml = YAML(typ="rt")
    try:
        return list(yaml.load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise MeshsimInputError(
            f"YAML syntax: {problem}", file=file, line=line, column=column
        ) from None
    except YAMLError as exc:
        raise MeshsimInputError(f"YAML syntax: {exc}", file=file) from None


def _line(position: Any) -> int | None:
    # ruamel records no position for some nodes (e.g. explicitly tagged flow
    # collections); fall back to the parent rather than fail.
    if isinstance(position, (tuple, list)) and position and isinstance(position[0], int):
        return position[0] + 1
    return None


def node_line(node: object) -> int | None:
    """1-based line where a mapping or sequence starts."""
    if isinstance(node, (CommentedMap, CommentedSeq)) and isinstance(node.lc.line, int):
        return int(node.lc.line) + 1
    return None


def key_line(node: object, key: object) -> int | None:
    """1-based line of ``key`` in a mapping, or of the mapping itself when the key is absent."""
    if isinstance(node, CommentedMap):
        if key in node:
            return _line(node.lc.key(key)) or node_line(node)
        return node_line(node)
    return None


def item_line(node: object, index: int) -> int | None:
    """1-based line of item ``index`` of a sequence."""
    if isinstance(node, CommentedSeq) and 0 <= index < len(node):
        return _line(node.lc.item(index)) or node_line(node)
    return node_line(node)


def locate(node: object, loc: Sequence[object], start: int | None = None) -> int | None:
    """Walk a pydantic error ``loc`` through the tree; return the deepest line found.

    A missing key (e.g. "Field required") stops the walk and points at its parent.
    """
    line = start if start is not None else node_line(node)
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line = key_line(node, key) or line
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            line = item_line(node, key) or line
            node = node[key]
        else:
            break
    return line
