"""Write a calibrated scenario as a readable, commented YAML file (ruamel.yaml round-trip types).

Small mappings (distributions, calls, placement, profile steps) are written in
flow style so that one value stays on one line, and each value that has a
provenance entry gets its text as an end-of-line comment.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

__all__ = ["scenario_yaml", "to_commented"]

# Mappings written in block style: the file's skeleton. Everything below them
# (distributions, calls, placement, profile steps) is written in flow style.
_BLOCK_MAPS = {None, "services", "versions", "policies", "workload", "locations", "mesh", "network"}
_BLOCK_LISTS = {"workload", "calls", "profile", "faults", "slos"}


def to_commented(value: Any, key: str | None = None, parent: str | None = None) -> Any:
    """Convert plain dicts/lists into ruamel Commented types, choosing flow style for small values.

    ``key`` is the mapping key holding ``value`` and ``parent`` the key above it.
    """
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = to_commented(v, str(k), key)
        block = key in _BLOCK_MAPS or key == "workload[]" or parent in ("services", "versions", "policies")
        if not block:
            out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        seq = CommentedSeq(to_commented(v, f"{key}[]", key) for v in value)
        if key not in _BLOCK_LISTS:
            seq.fa.set_flow_style()
        return seq
    return value


def _walk(root: Any, path: list[str]) -> tuple[Any, Any] | None:
    """Return (container, key) for a dotted path, or None when the path is not in the file."""
    node = root
    for part in path[:-1]:
        key: Any = int(part) if isinstance(node, CommentedSeq) and part.isdigit() else part
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
    last: Any = path[-1]
    if isinstance(node, CommentedSeq) and last.isdigit():
        last = int(last)
        return (node, last) if last < len(node) else None
    if isinstance(node, CommentedMap) and last in node:
        return node, last
    return None


def scenario_yaml(scenario: dict[str, Any], provenance: dict[str, dict[str, Any]], header: list[str]) -> str:
    """Render ``scenario`` as YAML with ``provenance[path]["comment"]`` after each value."""
    root = to_commented(scenario)
    # Longest paths first: a dotted service name must not be split at its dots.
    for path, info in sorted(provenance.items(), key=lambda kv: -kv[0].count(".")):
        comment = info.get("comment")
        if not comment:
            continue
        found = _walk(root, _split_path(path, scenario))
        if found is None:
            continue
        container, key = found
        container.yaml_add_eol_comment(comment, key)
    services = root.get("services")
    if isinstance(services, CommentedMap):
        for i, name in enumerate(services):
            if i:  # a blank line between services
                services.yaml_set_comment_before_after_key(name, before="\n", indent=2)
    if header:
        root.yaml_set_start_comment("\n".join(header))
    yaml = YAML(typ="rt")
    yaml.width = 110
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(root, buf)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def _split_path(path: str, scenario: dict[str, Any]) -> list[str]:
    """Split a dotted provenance path, keeping service names that contain dots whole."""
    parts = path.split(".")
    if parts[0] in ("services", "policies") and len(parts) > 2:
        names = scenario.get(parts[0], {})
        for i in range(len(parts), 1, -1):
            candidate = ".".join(parts[1:i])
            if candidate in names:
                return [parts[0], candidate] + parts[i:]
    return parts
