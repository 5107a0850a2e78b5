"""Plain dicts and lists that remember where each key and item sat in the file (1-based lines)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeGuard

__all__ = ["LineList", "LineMap", "is_map", "is_seq", "item_line", "key_line", "locate", "node_line"]


class LineMap(dict[Any, Any]):
    """A dict that knows its own line and column and those of each key (``lines``, ``cols``)."""

    line: int = 0
    col: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}
        self.cols: dict[Any, int] = {}


class LineList(list[Any]):
    """A list that knows its own line and column and those of each item (``lines``, ``cols``)."""

    line: int = 0
    col: int = 0
    # Set only on lists the HCL reader built from repeated blocks (read with getattr).
    _from_blocks: bool

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lines: list[int] = []
        self.cols: list[int] = []


def is_map(node: object) -> TypeGuard[LineMap]:
    """Return True for a mapping read with positions."""
    return isinstance(node, LineMap)


def is_seq(node: object) -> TypeGuard[LineList]:
    """Return True for a sequence read with positions."""
    return isinstance(node, LineList)


def node_line(node: object) -> int | None:
    """1-based line where a mapping or sequence starts (None for a scalar or an unknown position)."""
    if isinstance(node, (LineMap, LineList)) and node.line:
        return node.line
    return None


def key_line(node: object, key: object) -> int | None:
    """1-based line of ``key`` in a mapping, or of the mapping itself when the key is absent."""
    if isinstance(node, LineMap):
        return node.lines.get(key) or node_line(node)
    return None


def item_line(node: object, index: int) -> int | None:
    """1-based line of item ``index`` of a sequence (the sequence's own line when out of range)."""
    if isinstance(node, LineList) and 0 <= index < len(node.lines):
        return node.lines[index] or node_line(node)
    return node_line(node)


def locate(node: object, loc: Sequence[object]) -> tuple[int | None, int | None]:
    """The 1-based ``(line, column)`` of the deepest node of ``loc`` found in the tree.

    Parts of ``loc`` that are not in the tree (pydantic's union tags and model names, or a
    missing key such as "Field required") are skipped, so the answer is the nearest parent.
    """
    line: int | None = None
    col: int | None = None
    for key in loc:
        if isinstance(node, LineMap) and key in node:
            line, col = node.lines.get(key) or line, node.cols.get(key) or col
            node = node[key]
        elif isinstance(node, LineList) and isinstance(key, int) and 0 <= key < len(node):
            if key < len(node.lines):
                line, col = node.lines[key] or line, node.cols[key] if key < len(node.cols) else col
            node = node[key]
    if line is None and isinstance(node, (LineMap, LineList)) and node.line:
        line = node.line
    return line, col
