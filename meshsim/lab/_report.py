"""The lab's comparison as text (a rich table) and as a self-contained HTML page."""

from __future__ import annotations

import html
import math
from typing import Any

from meshsim.lab._run import LabReport

__all__ = ["format_value", "lab_html", "lab_table", "table_rows"]

_PERCENT = ("error_rate", "share_of_tries")


def format_value(metric: str, value: float | None) -> str:
    """A value in the metric's unit: percent for rates and shares, ms for latencies."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric in _PERCENT:
        return f"{value * 100:.2f}%"
    if metric == "attempts_per_request":
        return f"{value:.3f}"
    return f"{value:.2f} ms"


def _spread(metric: str, sd: float | None) -> str:
    if sd is None:
        return ""
    if metric in _PERCENT:
        return f" ± {sd * 100:.2f}"
    if metric == "attempts_per_request":
        return f" ± {sd:.3f}"
    return f" ± {sd:.2f}"


def table_rows(report: LabReport) -> list[list[str]]:
    """One list of cells per comparison row: workload, metric, target, measured, predicted, tolerance, verdict."""
    out = []
    for r in report.rows:
        m = r["metric"]
        lo, hi = r["measured_range"]
        rng = f" [{format_value(m, lo)} .. {format_value(m, hi)}]" if r["runs"] > 1 else ""
        out.append(
            [
                r["workload"],
                m,
                r["target"] or "",
                format_value(m, r["measured"]) + _spread(m, r["measured_sd"]) + rng,
                format_value(m, r["predicted"]) + _spread(m, r["predicted_sd"]),
                f"{format_value(m, r['tolerance'])} ({r['tolerance_rule']})",
                "yes" if r["within"] else "NO",
            ]
        )
    return out


_HEAD = ["workload", "metric", "target", "measured ± sd [range] over runs", "predicted ± sd", "tolerance", "within"]


def lab_table(report: LabReport) -> Any:
    """A rich Table of the comparison."""
    from rich.table import Table

    n = len(report.live)
    t = Table(
        title=f"{report.plan.scenario.name}: Traefik {report.traefik_version} on loopback ({n} run(s)) "
        f"vs meshsim ({report.options.sim_replications} replications)"
    )
    for h in _HEAD:
        t.add_column(h, justify="left" if h in ("workload", "metric", "target") else "right")
    for cells in table_rows(report):
        t.add_row(*cells, style=None if cells[-1] == "yes" else "bold red")
    return t


def lab_html(report: LabReport) -> str:
    """A self-contained HTML page: the comparison, the calibration and the notes."""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in _HEAD)
    body = "".join(
        "<tr"
        + ("" if cells[-1] == "yes" else ' class="miss"')
        + ">"
        + "".join(f"<td>{esc(c)}</td>" for c in cells)
        + "</tr>"
        for cells in table_rows(report)
    )
    cal = report.calibration_dict()
    cal_rows = "".join(f"<tr><td>{esc(str(k))}</td><td>{esc(str(v))}</td></tr>" for k, v in cal.items())
    notes = "".join(f"<li>{esc(n)}</li>" for n in report.notes)
    verdict = "every metric within tolerance" if report.within else "some metrics outside tolerance"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>meshsim lab: {esc(report.plan.scenario.name)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:nth-child(-n+3),th{text-align:left}.miss{background:#fdd}</style></head><body>"
        f"<h1>meshsim lab: {esc(report.plan.scenario.name)}</h1>"
        f"<p>Traefik {esc(report.traefik_version)} on loopback, {len(report.live)} live run(s) of "
        f"{report.plan.warmup_s:g} s warm-up + {report.plan.duration_s:g} s, against meshsim "
        f"({report.options.sim_replications} replications): <b>{esc(verdict)}</b>.</p>"
        f"<table><tr>{head}</tr>{body}</table>"
        f"<h2>Calibration</h2><table>{cal_rows}</table>"
        f"<h2>Notes</h2><ul>{notes}</ul></body></html>"
    )
