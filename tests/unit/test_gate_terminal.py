"""Terminal output: the verdict table and the exact closing line."""

from __future__ import annotations

import io
import re

import pandas as pd
from rich.console import Console

from meshsim.gate import print_verdicts, verdicts_table
from meshsim.scenario import SloSpec
from meshsim.slo import METRICS_COLUMNS, SloVerdict, evaluate_slos, format_interval, format_limit, format_value


def verdicts(allow: bool = False, reps: int = 3) -> list[SloVerdict]:
    slos = [
        SloSpec(name="browse-p99", workload="browse", metric="latency_p99", max="300ms"),
        SloSpec(name="browse-p50", workload="browse", metric="latency_p50", max="100ms"),
        SloSpec(name="cart-availability", service="cart", metric="availability", min="99.9%"),
    ]
    data = [(0.45, 0.05, 0.9985), (0.46, 0.06, 0.9995), (0.44, 0.05, 0.9990)][:reps]
    rows = []
    for rep, (p99, p50, avail) in enumerate(data):
        rows += [
            (rep, "workload", "browse", "latency_p99", p99),
            (rep, "workload", "browse", "latency_p50", p50),
            (rep, "service", "cart", "availability", avail),
        ]
    metrics = pd.DataFrame(rows, columns=list(METRICS_COLUMNS))
    return evaluate_slos(slos, metrics, allow_inconclusive=allow)


def render(vs: list[SloVerdict], **console_kw: object) -> str:
    buf = io.StringIO()
    print_verdicts(vs, Console(file=buf, width=200, **console_kw))  # type: ignore[arg-type]
    return buf.getvalue()


def last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


def test_closing_line_counts_inconclusive_as_failed() -> None:
    text = render(verdicts())
    assert last_line(text) == "1 passed, 2 failed"
    assert "counted as failed" in text and "--allow-inconclusive" in text
    assert "MISSED" in text and "INCONCLUSIVE" in text


def test_closing_line_counts_allowed_inconclusive_as_passed() -> None:
    text = render(verdicts(allow=True))
    assert last_line(text) == "2 passed, 1 failed"
    assert "counted as passed" in text and "(allowed)" in text


def test_table_shows_value_interval_and_limit() -> None:
    vs = verdicts()
    text = render(vs)
    for v in vs:
        assert format_value(v.metric, v.value) in text
        assert format_interval(v) in text
        assert format_limit(v) in text
    assert "450.0 ms" in text and "<= 300.0 ms" in text


def test_one_replication_is_visible() -> None:
    text = render(verdicts(reps=1))
    assert "(1 replication)" in text and "no confidence interval" in text
    assert last_line(text) == "1 passed, 2 failed"


def test_status_is_coloured() -> None:
    table = verdicts_table(verdicts())
    status_cells = list(table.columns[-1].cells)
    styles = [str(cell.style) for cell in status_cells]  # type: ignore[union-attr]
    assert styles == ["bold red", "bold green", "bold yellow"]
    coloured = render(verdicts(), force_terminal=True, color_system="standard")
    assert "\x1b[" in coloured
    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert last_line(plain) == "1 passed, 2 failed"
