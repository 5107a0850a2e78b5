"""Human-readable SLO values for people and CI logs (terminal, JUnit, GitHub, reports).

Values come in internal units (seconds, ratios, per second, dollars) and leave
in the units people read: milliseconds, percent, ``/s``, ``x`` and ``$``.
Only ASCII is used (``<=``, ``>=``) so logs read the same everywhere.
"""

from __future__ import annotations

import math

from meshsim.scenario import METRIC_KIND
from meshsim.slo._judge import SloVerdict

__all__ = [
    "format_value",
    "format_interval",
    "format_limit",
    "describe",
    "inconclusive_text",
    "summary_line",
    "STATUS_LABEL",
]

STATUS_LABEL = {"met": "met", "missed": "MISSED", "inconclusive": "INCONCLUSIVE"}


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    if abs(ms) >= 100:
        return f"{ms:.1f}"
    if abs(ms) >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def _number(metric: str, value: float) -> tuple[str, str]:
    """Return (number, unit suffix) for ``value`` of ``metric``."""
    kind = METRIC_KIND[metric]
    if kind == "duration":
        return _ms(value), " ms"
    if kind == "ratio":
        return f"{value * 100:.3f}", "%"
    if kind == "rate":
        return f"{value:.1f}", "/s"
    if kind == "money":
        return f"{value:.4f}", " USD"
    return f"{value:.3f}", "x"


def format_value(metric: str, value: float) -> str:
    """``0.3124`` of ``latency_p99`` -> ``"312.4 ms"``; NaN -> ``"n/a"``."""
    if math.isnan(value):
        return "n/a"
    number, unit = _number(metric, value)
    return number + unit


def format_interval(verdict: SloVerdict) -> str:
    """``"[301.2, 323.6] ms"``, or ``"no interval"`` when there is none."""
    if not verdict.has_interval:
        return "no interval"
    low, unit = _number(verdict.metric, verdict.ci_low)
    high, _ = _number(verdict.metric, verdict.ci_high)
    return f"[{low}, {high}]{unit}"


def format_limit(verdict: SloVerdict) -> str:
    """``"<= 300.0 ms"`` for a max, ``">= 99.900%"`` for a min."""
    op = "<=" if verdict.direction == "max" else ">="
    return f"{op} {format_value(verdict.metric, verdict.limit)}"


def describe(verdict: SloVerdict) -> str:
    """One line: what was measured, against what, and the outcome."""
    level = f"{verdict.confidence * 100:g}%"
    ci = format_interval(verdict)
    ci_text = f"{level} CI {ci}" if verdict.has_interval else ci
    reps = f"{verdict.replications} replication" + ("" if verdict.replications == 1 else "s")
    text = (
        f"SLO '{verdict.name}' {STATUS_LABEL[verdict.status]}: {verdict.metric} of "
        f"{verdict.scope} {verdict.target} = {format_value(verdict.metric, verdict.value)} "
        f"({ci_text}, {reps}); limit {format_limit(verdict)}"
    )
    if verdict.status == "inconclusive":
        text += ". " + inconclusive_text(verdict)
    if verdict.note:
        text += f". Note: {verdict.note}"
    return text


def inconclusive_text(verdict: SloVerdict) -> str:
    """Why an inconclusive verdict passed or failed."""
    if verdict.met:
        return "The interval straddles the limit; accepted (--allow-inconclusive)"
    return "The interval straddles the limit; counted as failed (add replications or use --allow-inconclusive)"


def summary_line(passed: int, failed: int) -> str:
    """Return the closing line CI log readers recognise: exactly ``"N passed, N failed"``."""
    return f"{passed} passed, {failed} failed"
