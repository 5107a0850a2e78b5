"""One self-contained HTML file per run: SLO verdicts, summary tables and every chart.

plotly.js is embedded once, inline, so the file opens with no network access
(no ``<script src=...>``, no CDN, no MathJax).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from meshsim import viz
from meshsim.errors import write_output

__all__ = ["CHART_HEADINGS", "render_html_report", "write_html_report"]

CHART_HEADINGS = {
    "graph": "Service graph",
    "red": "Rate, errors, duration per service",
    "latency": "Latency percentiles over time",
    "errors": "Errors by cause over time",
    "retries": "Retries and amplification per service",
    "rollout": "Rollout timeline",
    "cost": "Cost of cross-boundary traffic",
}

_CSS = """
body{font-family:-apple-system,Segoe UI,DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;
color:#222;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px} h2{font-size:1.25em;margin-top:32px;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9em} table{border-collapse:collapse;font-size:.88em;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right} th{background:#f3f3f3}
td.l,th.l{text-align:left} .met{background:#d8f0d8} .missed{background:#f7d4d4} .inconclusive{background:#fdf0c8}
.verdict{font-size:1.1em;font-weight:bold;margin:8px 0} .ok{color:#1b7a1b} .bad{color:#b00}
nav a{margin-right:12px;font-size:.9em}
"""


def _fmt(x: Any, digits: int = 2, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "-"
    if pct:
        return f"{x * 100:.{digits}f}%"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.{digits}f}"


def _table(headers: list[str], rows: Iterable[list[Any]], left: int = 1, row_classes: list[str] | None = None) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{html.escape(h)}</th>' for i, h in enumerate(headers))
    body = []
    for r_i, row in enumerate(rows):
        cls = f' class="{row_classes[r_i]}"' if row_classes else ""
        cells = "".join(f'<td class="{"l" if i < left else ""}">{html.escape(str(c))}</td>' for i, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _slo_section(data: dict[str, Any], scenario: Any) -> str:
    slos = viz.slo_frame(data, scenario)
    if slos.empty:
        return "<p>This scenario declares no SLOs.</p>"
    missed = int((slos["status"] != "met").sum())
    verdict = (
        f'<p class="verdict ok">All {len(slos)} SLOs met.</p>'
        if missed == 0
        else f'<p class="verdict bad">{missed} of {len(slos)} SLOs not met.</p>'
    )
    rows = [
        [
            s["name"],
            s["target"],
            s["metric"],
            s["value_text"],
            ("≤ " if s["direction"] == "max" else "≥ ") + s["limit_text"],
            s["ci_text"],
            str(s["status"]),
        ]
        for _, s in slos.iterrows()
    ]
    return verdict + _table(
        ["SLO", "target", "metric", "value", "limit", "95% interval", "status"],
        rows,
        left=3,
        row_classes=[str(s) for s in slos["status"]],
    )


def _workload_section(data: dict[str, Any]) -> str:
    wf = viz.workload_frame(data)
    causes = {
        n: ", ".join(f"{c} {k:,}" for c, k in (w.get("failed") or {}).items()) or "-"
        for n, w in data.get("workloads", {}).items()
    }
    rows = [
        [
            w["workload"],
            _fmt(int(w["requests"])),
            _fmt(int(w["ok"])),
            _fmt(w["error_rate"], 3, pct=True),
            _fmt(w["throughput_rps"], 1),
            _fmt(w["latency_mean_ms"]),
            _fmt(w["latency_p50_ms"]),
            _fmt(w["latency_p90_ms"]),
            _fmt(w["latency_p99_ms"]),
            _fmt(w["latency_p999_ms"]),
            "-"
            if math.isnan(w["latency_p99_ci_low_ms"])
            else f"[{w['latency_p99_ci_low_ms']:.2f}, {w['latency_p99_ci_high_ms']:.2f}]",
            causes.get(w["workload"], "-"),
        ]
        for _, w in wf.iterrows()
    ]
    return _table(
        [
            "workload",
            "requests",
            "ok",
            "error rate",
            "rps",
            "mean ms",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "p99 95% CI ms",
            "failures by cause",
        ],
        rows,
    )


def _service_section(data: dict[str, Any]) -> str:
    sf = viz.service_frame(data)
    rows = [
        [
            s["service"],
            _fmt(int(s["attempts"])),
            _fmt(int(s["retries"])),
            _fmt(s["amplification"], 3),
            _fmt(s["utilization"], 1, pct=True),
            _fmt(s["error_rate"], 3, pct=True),
            _fmt(int(s["ejections"])),
            _fmt(s["latency_p50_ms"]),
            _fmt(s["latency_p99_ms"]),
            _fmt(s["wasted_work_s"], 3),
        ]
        for _, s in sf.iterrows()
    ]
    return _table(
        [
            "service",
            "attempts",
            "retries",
            "amplification",
            "utilization",
            "error rate",
            "ejections",
            "p50 ms",
            "p99 ms",
            "wasted work s",
        ],
        rows,
    )


def _cost_section(data: dict[str, Any]) -> str:
    cost = data.get("cost", {})
    head = (
        f"<p>Per replication: {_fmt(cost.get('egress_gb'), 6)} GB crossed a boundary, "
        f"${_fmt(cost.get('egress_usd'), 6)} of egress; "
        f"${_fmt(cost.get('usd_per_million_requests'), 4)} per million requests.</p>"
    )
    edges = sorted(
        (e for e in data.get("edges", []) if (e.get("egress_usd") or 0) > 0 or (e.get("egress_gb") or 0) > 0),
        key=lambda e: -(e.get("egress_usd") or 0),
    )
    if not edges:
        return head
    rows = [
        [e["from"], e["to"], _fmt(e.get("attempts")), _fmt(e.get("egress_gb"), 6), _fmt(e.get("egress_usd"), 6)]
        for e in edges
    ]
    return head + _table(["from", "to", "attempts", "GB (all replications)", "USD (all replications)"], rows, left=2)


def _rollout_section(data: dict[str, Any]) -> str:
    r = data.get("rollout")
    if not r:
        return ""
    at = r.get("at_s")
    return (
        f"<p>Rollout of <b>{html.escape(str(r.get('canary', 'canary')))}</b> on "
        f"{html.escape(str(r.get('service', '')))}: <b>{html.escape(str(r.get('outcome', '?')))}</b>"
        + (f" at {at:.1f} s" if isinstance(at, (int, float)) else "")
        + f"; {r.get('failed_requests', 0)} failed requests because of the canary.</p>"
    )


def _figure_html(fig: go.Figure, chart: str, first: bool) -> str:
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=first,
            include_mathjax=False,
            div_id=f"chart-{chart}",
            config={"displaylogo": False, "responsive": True},
            post_script=viz.GRAPH_FOCUS_JS if chart == "graph" else None,
        )
    )


def render_html_report(results: Any, title: str | None = None) -> str:
    """The report as one HTML string (plotly.js inline, no external resources)."""
    data = results.to_dict()
    scenario = results.scenario
    figs = viz.figures(results, data)
    title = title or f"meshsim report: {data.get('scenario', '')}"
    meta = (
        f"scenario <b>{html.escape(str(data.get('scenario')))}</b> · seed {data.get('seed')} · "
        f"{data.get('replications')} replication(s) · {scenario.duration:g} s simulated after "
        f"{scenario.warmup:g} s warm-up · meshsim {html.escape(str(data.get('meshsim_version')))}"
    )
    nav = " ".join(f'<a href="#sec-{c}">{CHART_HEADINGS.get(c, c)}</a>' for c in figs)
    parts = [
        (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body>"
        ),
        f'<h1>{html.escape(title)}</h1><p class="meta">{meta}</p><nav>{nav}</nav>',
        "<h2>Summary</h2>",
        _slo_section(data, scenario),
        "<h3>Workloads</h3>",
        _workload_section(data),
    ]
    first = True
    for chart, fig in figs.items():
        parts.append(f'<h2 id="sec-{chart}">{CHART_HEADINGS.get(chart, chart)}</h2>')
        if chart == "rollout":
            parts.append(_rollout_section(data))
        parts.append(_figure_html(fig, chart, first))
        first = False
        if chart == "retries":
            parts.append("<h3>Services</h3>" + _service_section(data))
        if chart == "cost":
            parts.append(_cost_section(data))
    parts.append(
        '<p class="meta">Latencies are end to end as each workload\'s client sees them, retries and '
        "back-off included; time series use 1 s bins pooled over replications.</p></body></html>"
    )
    return "\n".join(parts)


def write_html_report(results: Any, path: str | Path, title: str | None = None) -> Path:
    """Write the self-contained HTML report of ``results`` to ``path`` and return the path.

    Written atomically like every meshsim output; a path that cannot be written raises
    :class:`~meshsim.errors.MeshsimOutputError`.
    """
    write_output(path, render_html_report(results, title), what="HTML report")
    return Path(path)
