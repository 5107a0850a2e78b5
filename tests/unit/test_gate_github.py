"""GitHub Actions outputs: escaping, annotation format, and emission only under GitHub's variables.

Escaping rules from GitHub's workflow-command docs, as summarised in
the conventions in docs/ci-gate.md: messages escape %, CR, LF; property
values also escape ':' and ','.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest

from meshsim.gate import emit_ci_outputs, escape_data, escape_property, github_annotations, github_summary_markdown
from meshsim.scenario import SloSpec
from meshsim.slo import METRICS_COLUMNS, SloVerdict, evaluate_slos

_COMMAND = re.compile(r"^::(error|warning|notice) ((?:[a-zA-Z]+=[^,:]*)(?:,[a-zA-Z]+=[^,:]*)*)::(.*)$")


def verdicts(allow: bool = False) -> list[SloVerdict]:
    slos = [
        SloSpec(name="browse-p99", workload="browse", metric="latency_p99", max="300ms"),
        SloSpec(name="browse|errors", workload="browse", metric="error_rate", max="0.5%"),
        SloSpec(name="cart-availability", service="cart", metric="availability", min="99.9%"),
    ]
    rows = []
    for rep, (p99, err, avail) in enumerate([(0.45, 0.001, 0.9985), (0.46, 0.002, 0.9995), (0.44, 0.001, 0.9990)]):
        rows += [
            (rep, "workload", "browse", "latency_p99", p99),
            (rep, "workload", "browse", "error_rate", err),
            (rep, "service", "cart", "availability", avail),
        ]
    metrics = pd.DataFrame(rows, columns=list(METRICS_COLUMNS))
    return evaluate_slos(slos, metrics, allow_inconclusive=allow)


def test_escape_data_and_property() -> None:
    assert escape_data("50% of\r\nrequests") == "50%25 of%0D%0Arequests"
    # '%' is escaped first, so an already-escaped-looking input survives a round trip.
    assert escape_data("%0A") == "%250A"
    assert escape_property("dir,a/b:c.yaml") == "dir%2Ca/b%3Ac.yaml"
    assert escape_property("x%\n") == "x%25%0A"
    assert escape_data("a:b,c") == "a:b,c"  # ':' and ',' stay in messages


def test_annotations_only_for_slos_needing_attention() -> None:
    lines = github_annotations(verdicts(), "scenarios/check out,1.yaml", {"browse-p99": 40})
    assert len(lines) == 2  # the met error-rate SLO has none
    missed, unsure = lines
    for line in lines:
        m = _COMMAND.match(line)
        assert m, line
        assert "\n" not in line and "\r" not in line
    assert missed.startswith("::error file=scenarios/check out%2C1.yaml,line=40,title=SLO missed::")
    assert "450.0 ms" in missed and "<= 300.0 ms" in missed and "95%25 CI" in missed
    assert unsure.startswith("::error file=scenarios/check out%2C1.yaml,title=SLO inconclusive::")


def test_allowed_inconclusive_is_a_warning_and_no_file_means_no_file_property() -> None:
    lines = github_annotations(verdicts(allow=True), None, None)
    assert lines[1].startswith("::warning title=SLO inconclusive (allowed)::")
    assert lines[0].startswith("::error title=SLO missed::")


def test_summary_markdown_table() -> None:
    md = github_summary_markdown(verdicts(), "checkout | multicloud")
    assert md.startswith("### meshsim check: checkout \\| multicloud\n")
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 3  # header + one row per SLO
    assert all(r.count(" | ") == rows[0].count(" | ") for r in rows), "escaped pipes keep columns"
    assert "browse\\|errors" in md
    assert "❌ missed" in md and "✅ met" in md and "⚠️ inconclusive (fails)" in md
    assert "**1 passed, 2 failed**" in md
    assert "&lt;= 300.0 ms" in md and "--allow-inconclusive" in md


@pytest.mark.parametrize(
    ("environ", "annotations", "summary"),
    [
        ({}, False, False),
        ({"GITHUB_ACTIONS": "false"}, False, False),
        ({"GITHUB_ACTIONS": "true"}, True, False),
        ({"GITHUB_STEP_SUMMARY": "SUMMARY"}, False, True),
        ({"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": "SUMMARY"}, True, True),
    ],
)
def test_outputs_appear_only_under_github_variables(
    tmp_path: Path, environ: dict[str, str], annotations: bool, summary: bool
) -> None:
    summary_file = tmp_path / "step_summary.md"
    summary_file.write_text("earlier step\n", encoding="utf-8")
    env = {k: (str(summary_file) if v == "SUMMARY" else v) for k, v in environ.items()}
    out, err = io.StringIO(), io.StringIO()
    done = emit_ci_outputs(
        verdicts(),
        scenario_name="checkout",
        scenario_file="s.yaml",
        slo_lines={"browse-p99": 3},
        environ=env,
        stdout=out,
        stderr=err,
    )
    assert done == {"annotations": annotations, "summary": summary}
    printed = out.getvalue()
    assert ("::error file=s.yaml,line=3,title=SLO missed::" in printed) is annotations
    assert (printed == "") is (not annotations)
    text = summary_file.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n"), "the summary is appended, never overwritten"
    assert ("### meshsim check: checkout" in text) is summary
    assert err.getvalue() == ""


def test_absolute_scenario_path_is_made_relative_to_the_workspace(tmp_path: Path) -> None:
    scenario = tmp_path / "scenarios" / "x.yaml"
    out = io.StringIO()
    emit_ci_outputs(
        verdicts(),
        scenario_name="x",
        scenario_file=str(scenario),
        environ={"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path)},
        stdout=out,
    )
    assert "::error file=scenarios/x.yaml,title=SLO missed::" in out.getvalue()


def test_unwritable_summary_is_reported_not_fatal(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    done = emit_ci_outputs(
        verdicts(), scenario_name="x", environ={"GITHUB_STEP_SUMMARY": str(tmp_path)}, stdout=out, stderr=err
    )
    assert done["summary"] is False
    assert "could not write the job summary" in err.getvalue()
