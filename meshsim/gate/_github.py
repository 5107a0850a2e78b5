"""GitHub Actions outputs: workflow-command annotations and the job summary.

Annotations are plain stdout lines (``::error file=F,line=L,title=T::message``).
In the message, ``%``, CR and LF are escaped as ``%25``, ``%0D``, ``%0A``; in
property values (file, title) ``:`` and ``,`` are escaped too (``%3A``, ``%2C``).
An annotation does not fail a step; the exit code does.

:func:`emit_ci_outputs` prints annotations only when ``GITHUB_ACTIONS == "true"``
and appends the Markdown summary to ``$GITHUB_STEP_SUMMARY`` only when that
variable is set, so running ``meshsim check`` locally prints neither.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from meshsim.slo import (
    SloVerdict,
    count_passed_failed,
    describe,
    format_interval,
    format_limit,
    format_value,
    summary_line,
)

__all__ = [
    "escape_data",
    "escape_property",
    "github_annotations",
    "github_summary_markdown",
    "emit_ci_outputs",
]

_STATUS_MD = {"met": "✅ met", "missed": "❌ missed", "inconclusive": "⚠️ inconclusive"}


def escape_data(text: str) -> str:
    """Escape an annotation message: ``%`` first, then CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape an annotation property value (file, title): as messages, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(level: str, message: str, title: str, file: str | None, line: int | None) -> str:
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line is not None:
            props.append(f"line={int(line)}")
    props.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def github_annotations(
    verdicts: Sequence[SloVerdict],
    scenario_file: str | None,
    slo_lines: Mapping[str, int] | None,
) -> list[str]:
    """One workflow command per SLO that needs attention; none for a met SLO.

    Missed -> ``::error`` titled "SLO missed"; inconclusive -> ``::error`` titled
    "SLO inconclusive", or ``::warning`` when inconclusive results were allowed.
    ``slo_lines`` maps an SLO name to its 1-based line in ``scenario_file``.
    """
    lines = slo_lines or {}
    out: list[str] = []
    for v in verdicts:
        if v.status == "met":
            continue
        if v.status == "missed":
            level, title = "error", "SLO missed"
        elif v.met:
            level, title = "warning", "SLO inconclusive (allowed)"
        else:
            level, title = "error", "SLO inconclusive"
        out.append(_annotation(level, describe(v), title, scenario_file, lines.get(v.name)))
    return out


def _cell(text: str) -> str:
    # Table cells: no pipes or newlines, and no accidental HTML.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def github_summary_markdown(verdicts: Sequence[SloVerdict], scenario_name: str) -> str:
    """Return the Markdown job summary: heading, a row per SLO, the closing count, notes."""
    passed, failed = count_passed_failed(verdicts)
    level = f"{verdicts[0].confidence * 100:g}%" if verdicts else "95%"
    rows = [
        f"### meshsim check: {_cell(scenario_name)}",
        "",
        f"| SLO | target | metric | value | {level} CI | limit | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        status = _STATUS_MD[v.status]
        if v.status == "inconclusive":
            status += " (allowed)" if v.met else " (fails)"
        rows.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    v.name,
                    f"{v.scope} {v.target}",
                    v.metric,
                    format_value(v.metric, v.value),
                    format_interval(v),
                    format_limit(v),
                    status,
                )
            )
            + " |"
        )
    rows += ["", f"**{summary_line(passed, failed)}**", ""]
    if any(v.status == "inconclusive" for v in verdicts):
        rows += [
            "Inconclusive: the confidence interval straddles the limit. It counts as failed "
            "unless `--allow-inconclusive` is given; more replications narrow the interval.",
            "",
        ]
    notes = [v for v in verdicts if v.note]
    if notes:
        rows += ["Notes:", ""]
        rows += [f"- **{_cell(v.name)}**: {_cell(v.note)}" for v in notes]
        rows.append("")
    return "\n".join(rows)


def _relative_to_workspace(path: str | None, environ: Mapping[str, str]) -> str | None:
    # GitHub resolves annotation paths against the repository root.
    workspace = environ.get("GITHUB_WORKSPACE")
    if not path or not workspace or not os.path.isabs(path):
        return path
    try:
        return Path(path).resolve().relative_to(Path(workspace).resolve()).as_posix()
    except ValueError:
        return path


def emit_ci_outputs(
    verdicts: Sequence[SloVerdict],
    *,
    scenario_name: str,
    scenario_file: str | None = None,
    slo_lines: Mapping[str, int] | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> dict[str, bool]:
    """Write GitHub annotations and the job summary when running under GitHub Actions.

    Annotations go to ``stdout`` only when ``GITHUB_ACTIONS == "true"``; the
    summary is appended to the file named by ``GITHUB_STEP_SUMMARY`` only when it
    is set. A summary that cannot be written is reported on ``stderr`` and does
    not change the gate's outcome. Returns what was written:
    ``{"annotations": bool, "summary": bool}``.
    """
    env = os.environ if environ is None else environ
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    done = {"annotations": False, "summary": False}
    if env.get("GITHUB_ACTIONS") == "true":
        file = _relative_to_workspace(scenario_file, env)
        for line in github_annotations(verdicts, file, slo_lines):
            print(line, file=out)
        done["annotations"] = True
    summary_path = env.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        try:
            with open(summary_path, "a", encoding="utf-8") as fh:
                fh.write(github_summary_markdown(verdicts, scenario_name) + "\n")
            done["summary"] = True
        except OSError as exc:
            print(f"meshsim: could not write the job summary: {exc}", file=err)
    return done
