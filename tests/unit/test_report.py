"""The HTML report: one self-contained file with every chart, the SLO verdicts and the tables."""

from __future__ import annotations

import re

import pytest

import meshsim
from meshsim import viz
from meshsim.cli import main as cli_main
from meshsim.report import CHART_HEADINGS, render_html_report, write_html_report

# A canary that fails its checks (so the report has a rollout), retries (amplification) and
# two SLOs, one met and one missed. Small: about 4,000 requests.
SCENARIO = {
    "name": "report-fixture",
    "seed": 5,
    "duration": "40s",
    "services": {
        "api": {
            "replicas": 2,
            "concurrency": 8,
            "service_time": "4ms",
            "calls": ["db"],
            "versions": {"v1": {}, "v2": {"error_rate": 0.3}},
        },
        "db": {"replicas": 1, "concurrency": 8, "service_time": "1ms", "error_rate": 0.05},
    },
    "policies": {"db": {"retries": {"attempts": 2, "retry_on": ["5xx"]}}},
    "workload": [{"name": "users", "entry": "api", "rate": "100/s"}],
    "rollout": {
        "service": "api",
        "baseline": "v1",
        "canary": "v2",
        "steps": [10, 50, 100],
        "interval": "10s",
        "max_failed_checks": 1,
    },
    "slos": [
        {"name": "users-p99", "workload": "users", "metric": "latency_p99", "max": "2s"},
        {"name": "users-errors", "workload": "users", "metric": "error_rate", "max": "0.01%"},
    ],
}

SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc\s*=", re.IGNORECASE)
REMOTE_LINK = re.compile(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", re.IGNORECASE)
REMOTE_ATTR = re.compile(r"\b(src|href)\s*=\s*[\"']?(https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def results() -> meshsim.Results:
    return meshsim.simulate(SCENARIO, replications=2, executor="serial")


@pytest.fixture(scope="module")
def page(results) -> str:
    return render_html_report(results)


def test_report_is_one_file_that_needs_no_network(results, tmp_path):
    out = write_html_report(results, tmp_path / "sub" / "report.html")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["report.html"]
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert not SCRIPT_SRC.search(text), "every script must be inline"
    assert not REMOTE_LINK.search(text), "no stylesheet from the network"
    # outside plotly.js itself, nothing points at the network
    outside_bundle = text.split("plotly.js v", 1)[0] + text.rsplit("Plotly.newPlot", 1)[-1]
    assert not REMOTE_ATTR.search(outside_bundle)
    assert text.count("plotly.js v") == 1, "plotly.js is embedded exactly once"
    assert "MathJax.js" not in text


def test_report_contains_every_chart(results, page):
    charts = list(viz.figures(results))
    assert "rollout" in charts and set(charts) == set(viz.CHARTS)
    for chart in charts:
        assert f'id="chart-{chart}"' in page
        assert CHART_HEADINGS[chart] in page
    assert page.count("Plotly.newPlot(") == len(charts)


def test_report_shows_slo_verdicts_tables_and_the_rollout(results, page):
    data = results.to_dict()
    verdicts = {v["name"]: v["status"] for v in data["slos"]}
    assert verdicts == {"users-p99": "met", "users-errors": "missed"}
    assert "1 of 2 SLOs not met" in page
    for name, status in verdicts.items():
        assert re.search(rf'<tr class="{status}"><td class="l">{name}</td>', page)
    for service in data["services"]:
        assert f'<td class="l">{service}</td>' in page
    outcome = data["rollout"]["outcome"]
    assert outcome == "rolled_back"
    assert f"<b>{outcome}</b>" in page


def test_report_draws_the_slo_table_once_with_every_number_in_ms(results, page):
    assert page.count(">95% interval<") == 1  # one SLO table, no SLO chart
    assert 'id="chart-slo"' not in page
    row = re.search(r'<tr class="met"><td class="l">users-p99</td>(.*?)</tr>', page).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    value, limit, interval = cells[2], cells[3], cells[4]
    assert value.endswith(" ms") and limit == "≤ 2000.0 ms"
    low, high = interval.strip("[]").split(", ")
    assert low.endswith(" ms") and high.endswith(" ms")  # not "[0.05, 0.06]" seconds beside "59.50 ms"


def test_report_graph_can_focus_a_service_on_click(page):
    after_graph = page.split('id="chart-graph"', 1)[1].split('id="chart-', 1)[0]
    assert "plotly_click" in after_graph and "annotation_owners" in after_graph  # the browser test clicks it


def test_report_without_rollout_leaves_that_chart_out():
    plain = {k: v for k, v in SCENARIO.items() if k != "rollout"}
    plain["duration"] = "5s"
    plain["services"] = {**SCENARIO["services"], "api": {**SCENARIO["services"]["api"], "versions": {}}}
    text = render_html_report(meshsim.simulate(plain, executor="serial"))
    assert 'id="chart-rollout"' not in text
    assert text.count("Plotly.newPlot(") == len(viz.CHARTS) - 1


def test_cli_run_writes_the_report(tmp_path):
    out = tmp_path / "run.html"
    code = cli_main(["run", "models/minimal.yaml", "--html", str(out), "--no-progress"])
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "meshsim report: minimal" in text and 'id="chart-latency"' in text
