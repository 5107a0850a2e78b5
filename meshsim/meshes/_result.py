"""What an import produces: policies with the origin of every value, and its commented YAML.

:meth:`ImportResult.to_yaml` gives a ``policies:`` block (and ``services:`` hints) that
can be pasted into a scenario file or loaded on its own; every value carries a comment
``# from file:line Kind/name field`` so a reader sees where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshsim.yamlio import dump_yaml

__all__ = ["ImportResult", "Origin", "render_yaml"]


@dataclass(frozen=True)
class Origin:
    """Where an imported value came from."""

    file: str
    line: int | None
    object: str  # "VirtualService/reviews"
    source_field: str  # "spec.http[0].retries.attempts"
    note: str = ""  # set when the value is a mesh default, not written in the file

    def describe(self) -> str:
        """``file:line Kind/name field`` (plus the default's note)."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where} {self.object} {self.source_field}".rstrip()
        return f"{text} ({self.note})" if self.note else text


@dataclass
class ImportResult:
    """What an import produced, in the scenario file's own format."""

    format: str
    policies: dict[str, dict[str, Any]]
    services: dict[str, dict[str, Any]]
    origins: dict[str, Origin]
    warnings: list[str]
    defaults: str | None
    files: list[str] = field(default_factory=list)

    def to_yaml(self) -> str:
        """A commented ``policies:`` (and ``services:`` hints) YAML text."""
        return render_yaml(self)


def _scalar(value: Any) -> str:
    """One value in YAML flow syntax on one line (quoted where YAML needs it)."""
    text = dump_yaml(value, flow=True).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    elif text.endswith("..."):
        text = text[:-3].rstrip()
    return text


def _comment(origin: Origin | None) -> str:
    if origin is None:
        return ""
    return "  # from " + origin.describe().replace("\n", " ")


def _emit(lines: list[str], node: dict[str, Any], prefix: str, indent: int, origins: dict[str, Origin]) -> None:
    pad = "  " * indent
    for key, value in node.items():
        path = f"{prefix}.{key}"
        if isinstance(value, dict) and value:
            own = origins.get(path)
            lines.append(f"{pad}{_scalar(key)}:" + (_comment(own) if own is not None else ""))
            _emit(lines, value, path, indent + 1, origins)
        else:
            lines.append(f"{pad}{_scalar(key)}: {_scalar(value)}{_comment(origins.get(path))}")


def render_yaml(result: ImportResult) -> str:
    """The commented YAML text of an import."""
    plural = "s" if len(result.files) != 1 else ""
    lines = [f"# meshsim policies imported from {result.format} configuration ({len(result.files)} file{plural})."]
    if result.defaults:
        lines.append(
            f"# Unset fields follow the {result.defaults} preset: "
            f"put `mesh: {{defaults: {result.defaults}}}` in the scenario."
        )
    lines.append("# Each value names the file, line, object and field it came from; a note in")
    lines.append("# parentheses marks a mesh default that the object implies but does not write.")
    if "*" in result.policies:
        lines.append("# '*' applies to every service, under the fields a named service sets itself.")
    if result.warnings:
        lines.append("#")
        lines.append(f"# {len(result.warnings)} warning(s): fields that matter to traffic but are not modelled:")
        for w in result.warnings:
            lines.append("#   - " + w.replace("\n", " "))
    if result.policies:
        lines.append("policies:")
        _emit(lines, result.policies, "policies", 1, result.origins)
    else:
        lines.append("policies: {}")
    if result.services:
        lines.append("services:  # hints from Kubernetes workloads: replicas and versions")
        _emit(lines, result.services, "services", 1, result.origins)
    return "\n".join(lines) + "\n"
