"""Read an SLO file: meshsim's ``slos: [...]`` and/or OpenSLO v1 documents.

A file holds one or more YAML documents (``---``). Each is either meshsim's
format, a mapping with only ``slos:`` (the same items as a scenario's
``slos:``), or an OpenSLO v1 document (``apiVersion: openslo/v1``; see
:mod:`meshsim.gate.openslo`). Every problem is reported with file, line and
field; unsupported OpenSLO fields become warnings, not errors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from meshsim.errors import InputProblem, MeshsimInputError, read_input_text
from meshsim.scenario import SloSpec
from meshsim.slo._openslo import convert_openslo, is_openslo
from meshsim.yamlio import is_map, is_seq, item_line, key_line, locate, node_line, read_yaml_documents

__all__ = [
    "SloFile",
    "SloFileWarning",
    "read_slo_file",
    "parse_slo_text",
    "load_slo_file",
    "slo_lines_in_yaml",
]


class SloFileWarning(UserWarning):
    """A field of an SLO file that meshsim read but does not act on."""


@dataclass(frozen=True)
class SloFile:
    """What an SLO file gave: SLOs in file order, their lines, and warnings.

    ``lines`` maps each SLO name to its 1-based line (for JUnit ``line`` and
    GitHub annotations); ``warnings`` are located :class:`InputProblem` s.
    """

    path: str
    slos: list[SloSpec]
    lines: dict[str, int] = field(default_factory=dict)
    warnings: list[InputProblem] = field(default_factory=list)


def _clean_msg(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _loc_text(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _meshsim_doc(doc: Any, file: str) -> tuple[list[tuple[SloSpec, int | None]], list[InputProblem]]:
    """Validate a ``{slos: [...]}`` document item by item."""
    problems: list[InputProblem] = []
    for key in doc:
        if key != "slos":
            problems.append(
                InputProblem(
                    f"unknown top-level key {key!r}: an SLO file holds only slos: [...] or OpenSLO v1 documents",
                    file=file,
                    line=key_line(doc, key),
                    field=str(key),
                )
            )
    items = doc.get("slos")
    if not is_seq(items):
        problems.append(
            InputProblem("slos must be a list of SLOs", file=file, line=key_line(doc, "slos"), field="slos")
        )
        return [], problems
    out: list[tuple[SloSpec, int | None]] = []
    for i, item in enumerate(items):
        line = item_line(items, i)
        if not is_map(item):
            problems.append(
                InputProblem(
                    "each SLO is a mapping, e.g. {name: p99, workload: browse, metric: latency_p99, max: 300ms}",
                    file=file,
                    line=line,
                    field=f"slos[{i}]",
                )
            )
            continue
        try:
            out.append((SloSpec.model_validate(dict(item)), line))
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                problems.append(
                    InputProblem(
                        _clean_msg(err["msg"]),
                        file=file,
                        line=locate(item, loc)[0] or line,
                        field=f"slos[{i}]{_loc_text(loc)}",
                    )
                )
    return out, problems


def parse_slo_text(text: str, file: str = "<slo file>") -> SloFile:
    """Parse SLO YAML text (see module docstring); ``file`` is used in messages."""
    docs = [d for _, d in read_yaml_documents(text, file)]
    problems: list[InputProblem] = []
    found: list[tuple[SloSpec, int | None]] = []
    openslo_docs: list[tuple[int, Any]] = []
    for index, doc in enumerate(docs):
        if is_openslo(doc):
            openslo_docs.append((index, doc))
        elif is_map(doc) and "slos" in doc:
            slos, errs = _meshsim_doc(doc, file)
            found += slos
            problems += errs
        else:
            problems.append(
                InputProblem(
                    "not an SLO document: expected slos: [...] or apiVersion: openslo/v1",
                    file=file,
                    line=node_line(doc) or 1,
                )
            )
    warned: list[InputProblem] = []
    if openslo_docs:
        slos, errs, warned = convert_openslo(openslo_docs, file)
        warned = sorted(warned, key=lambda p: p.line or 0)
        found += slos
        problems += errs
    lines: dict[str, int] = {}
    seen: set[str] = set()
    for spec, line in found:
        if spec.name in seen:
            problems.append(InputProblem(f"duplicate SLO name {spec.name!r}", file=file, line=line, field="name"))
        seen.add(spec.name)
        if line is not None:
            lines.setdefault(spec.name, line)
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise MeshsimInputError(problems=problems)
    if not found:
        # A gate with nothing to check must not pass by default.
        raise MeshsimInputError(
            problems=[InputProblem("no SLO that meshsim can evaluate in this file", file=file, line=1)] + warned
        )
    return SloFile(path=file, slos=[s for s, _ in found], lines=lines, warnings=warned)


def read_slo_file(path: str | Path) -> SloFile:
    """Read and check an SLO file; raises MeshsimInputError (file, line, field) on bad input."""
    name = str(path)
    return parse_slo_text(read_input_text(path, what="SLO file", field="--slo"), name)


def load_slo_file(path: str | Path) -> list[SloSpec]:
    """Return the SLOs of a file; each unsupported field is issued as a SloFileWarning.

    Use :func:`read_slo_file` to get the warnings, the SLOs' lines and no
    ``warnings`` module side effects.
    """
    result = read_slo_file(path)
    for problem in result.warnings:
        warnings.warn(problem.render(), SloFileWarning, stacklevel=2)
    return list(result.slos)


def slo_lines_in_yaml(path: str | Path) -> dict[str, int]:
    """SLO name -> 1-based line for the ``slos:`` list of a YAML file such as a scenario.

    Best effort and silent: returns ``{}`` when the file cannot be read or has no
    such list (the scenario loader reports those problems itself).
    """
    try:
        docs = [d for _, d in read_yaml_documents(read_input_text(path), str(path))]
    except MeshsimInputError:
        return {}
    lines: dict[str, int] = {}
    for doc in docs:
        items: Any = doc.get("slos") if is_map(doc) else None
        if not is_seq(items):
            continue
        for i, item in enumerate(items):
            if is_map(item) and isinstance(item.get("name"), str):
                line = item_line(items, i)
                if line is not None:
                    lines.setdefault(item["name"], line)
    return lines
