"""What an import produces: policies with the origin of every value, and its commented YAML.

:meth:`ImportResult.to_yaml` gives a ``policies:`` block (and ``services:`` hints) that
can be pasted into a scenario file or loaded on its own; every value carries a comment
``# from file:line Kind/name field`` so a reader sees where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshsim.yamlio import dump_yaml

__all__ = ["NOTE_KINDS", "ImportResult", "Note", "Origin", "render_report", "render_yaml"]


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


#: What a note says about a field or a file, in the order ``--report`` lists them.
NOTE_KINDS = ("problem", "approximated", "ignored", "irrelevant")


@dataclass(frozen=True)
class Note:
    """Something an import did not take as written.

    ``kind`` is one of :data:`NOTE_KINDS`: ``problem`` (a file or object that could not be
    imported), ``approximated`` (modelled differently; the text says how), ``ignored``
    (matters to traffic, not modelled) or ``irrelevant`` (no effect on traffic in meshsim).
    """

    kind: str
    file: str | None
    line: int | None
    text: str  # the whole message, starting with ``file:line: Kind/name: field:`` when it has them


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
    notes: list[Note] = field(default_factory=list)

    @property
    def problems(self) -> list[Note]:
        """Files or objects that could not be imported (``meshsim import --strict`` fails on them)."""
        return [n for n in self.notes if n.kind == "problem"]

    def to_yaml(self) -> str:
        """A commented ``policies:`` (and ``services:`` hints) YAML text."""
        return render_yaml(self)

    def report(self) -> str:
        """Per file: what was modelled, approximated, ignored, and any problem (``meshsim import --report``)."""
        return render_report(self)


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
        lines.append(f"# {len(result.warnings)} warning(s): problems, approximations and fields not modelled:")
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


_HEADINGS = {
    "problem": "problems (not imported)",
    "approximated": "approximated",
    "ignored": "not modelled",
    "irrelevant": "no effect on traffic",
}


def render_report(result: ImportResult) -> str:
    """Per file: the policy fields it set, then its notes by kind (plain text)."""
    modelled: dict[str, list[str]] = {}
    for path, origin in sorted(result.origins.items()):
        if path.startswith("policies.") or path.startswith("services."):
            where = f"line {origin.line}" if origin.line is not None else "file"
            how = f" ({origin.note})" if origin.note else ""
            row = f"{path} <- {where} {origin.object} {origin.source_field}".rstrip()
            modelled.setdefault(origin.file, []).append(row + how)
    by_file: dict[str | None, list[Note]] = {}
    for note in result.notes:
        by_file.setdefault(note.file, []).append(note)
    files = list(result.files) + sorted(f for f in set(modelled) | {f for f in by_file if f} if f not in result.files)
    out = [
        f"meshsim import {result.format}: {len(files)} file(s)"
        + (f", mesh.defaults: {result.defaults}" if result.defaults else "")
    ]
    for f in files + ([None] if None in by_file else []):
        out.append("")
        out.append(f"{f}:" if f is not None else "(the import as a whole):")
        rows = modelled.get(f, []) if f is not None else []
        notes = by_file.get(f, [])
        if not rows and not notes:
            out.append("  nothing to import")
            continue
        if rows:
            out.append(f"  modelled ({len(rows)}):")
            out.extend(f"    {r}" for r in rows)
        for kind in NOTE_KINDS:
            mine = [n for n in notes if n.kind == kind]
            if mine:
                out.append(f"  {_HEADINGS[kind]} ({len(mine)}):")
                out.extend("    " + _short(n, f) for n in mine)
    counts = {k: sum(1 for n in result.notes if n.kind == k) for k in NOTE_KINDS}
    out.append("")
    out.append(
        f"total: {sum(len(r) for r in modelled.values())} modelled, {counts['approximated']} approximated, "
        f"{counts['ignored']} not modelled, {counts['irrelevant']} with no effect, {counts['problem']} problem(s)"
    )
    return "\n".join(out) + "\n"


def _short(note: Note, file: str | None) -> str:
    """A note's text without its leading file name (the report already groups by file)."""
    text = note.text.replace("\n", " ")
    if file and text.startswith(file + ":"):
        text = "line " + text[len(file) + 1 :] if note.line is not None else text[len(file) + 1 :].lstrip(": ")
    return text
