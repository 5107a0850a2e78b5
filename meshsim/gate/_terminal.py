"""The gate's terminal output: a rich table of verdicts and the closing count.

The last line printed is exactly ``N passed, N failed``, which many CI log
readers recognise. An inconclusive SLO counts as failed unless inconclusive
results were allowed (``--allow-inconclusive``), in which case it counts as
passed; a line above the count says which rule applied.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from meshsim.slo import (
    STATUS_LABEL,
    SloVerdict,
    count_passed_failed,
    format_interval,
    format_limit,
    format_value,
    summary_line,
)

__all__ = ["verdicts_table", "print_verdicts"]

_STYLE = {"met": "bold green", "missed": "bold red", "inconclusive": "bold yellow"}


def verdicts_table(verdicts: Sequence[SloVerdict], title: str | None = None) -> Table:
    """Build a rich Table: SLO, target, metric, value with interval, limit, coloured status."""
    level = f"{verdicts[0].confidence * 100:g}%" if verdicts else "95%"
    table = Table(title=title, show_lines=False)
    table.add_column("SLO", no_wrap=True)
    table.add_column("target")
    table.add_column("metric", no_wrap=True)
    table.add_column(f"value ({level} CI)", justify="right")
    table.add_column("limit", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for v in verdicts:
        value = format_value(v.metric, v.value)
        if v.has_interval:
            value += f" {format_interval(v)}"
        elif v.replications == 1:
            value += " (1 replication)"
        label = STATUS_LABEL[v.status]
        if v.status == "inconclusive" and v.met:
            label += " (allowed)"
        table.add_row(
            Text(v.name),
            Text(f"{v.scope} {v.target}"),
            v.metric,
            Text(value),
            format_limit(v),
            Text(label, style=_STYLE[v.status]),
        )
    return table


def print_verdicts(verdicts: Sequence[SloVerdict], console: Console | None = None, *, title: str | None = None) -> None:
    """Print the table, any notes, and the closing ``N passed, N failed`` line."""
    con = console if console is not None else Console()
    if console is None and not con.is_terminal:
        # CI logs do not wrap; rich's 80-column default would fold the table.
        con = Console(width=160)
    con.print(verdicts_table(verdicts, title))
    for v in verdicts:
        if v.note:
            con.print(Text(f"note: {v.name}: {v.note}"))
    inconclusive = [v for v in verdicts if v.status == "inconclusive"]
    if inconclusive:
        allowed = sum(v.met for v in inconclusive)
        refused = len(inconclusive) - allowed
        if refused:
            con.print(
                Text(
                    f"{refused} inconclusive SLO(s) counted as failed "
                    "(use --allow-inconclusive to accept, or add replications)",
                    style="yellow",
                )
            )
        if allowed:
            con.print(Text(f"{allowed} inconclusive SLO(s) counted as passed (--allow-inconclusive)"))
    passed, failed = count_passed_failed(verdicts)
    con.print(Text(summary_line(passed, failed)), highlight=False)
