"""Read YAML, JSON and HCL into plain data that remembers the line of every key and item.

One reader for every file meshsim takes (scenarios, SLO files, mesh configurations), so
each problem can name its file, line and field::

    tree = read_yaml(text, "scenario.yaml")      # LineMap (a dict) / LineList (a list)
    tree.lines["services"]                       # 1-based line of the key
    locate(tree, ("services", "api", "concurrency"))   # (line, column) of a field

Nothing in a file is executed: unknown tags stay inert text.
"""

from __future__ import annotations

from meshsim.yamlio._hcl import read_hcl
from meshsim.yamlio._tree import LineList, LineMap, is_map, is_seq, item_line, key_line, locate, node_line
from meshsim.yamlio._yaml import MAX_DEPTH, MAX_LINES, MAX_VALUES, dump_yaml, read_json, read_yaml, read_yaml_documents

__all__ = [
    "MAX_DEPTH",
    "MAX_LINES",
    "MAX_VALUES",
    "LineList",
    "LineMap",
    "dump_yaml",
    "is_map",
    "is_seq",
    "item_line",
    "key_line",
    "locate",
    "node_line",
    "read_hcl",
    "read_json",
    "read_yaml",
    "read_yaml_documents",
]
