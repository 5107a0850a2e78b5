"""Units of the result metrics: the names users see, and the one way numbers are printed."""

from __future__ import annotations

import math

__all__ = ["METRIC_UNITS", "format_metric", "metric_with_unit", "QUANTILES", "WITH_UNIT"]

QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p999": 0.999}

# Internal metric name (seconds, per second: what the SLO judge reads) -> the name users see
# in tables, with its unit, and the factor that converts the value.
WITH_UNIT: dict[str, tuple[str, float]] = {
    **{f"latency_{k}": (f"latency_{k}_ms", 1e3) for k in (*QUANTILES, "mean")},
    "queue_wait_mean": ("queue_wait_mean_ms", 1e3),
    "throughput": ("throughput_rps", 1.0),
    "cost_per_million": ("cost_per_million_usd", 1.0),
}

#: Unit of every metric of :meth:`Results.metrics_table` and :meth:`Results.summary`.
#: ``ratio`` is a fraction in [0, 1] (0.01 = 1 %); ``x`` a multiple.
METRIC_UNITS: dict[str, str] = {
    **{f"latency_{k}_ms": "ms" for k in (*QUANTILES, "mean")},
    "queue_wait_mean_ms": "ms",
    "wasted_work_s": "s",
    "throughput_rps": "1/s",
    "cost_per_million_usd": "USD",
    "error_rate": "ratio",
    "availability": "ratio",
    "utilization": "ratio",
    "waited_fraction": "ratio",
    "amplification": "x",
    "mean_in_system": "count",
    "queue_length_mean": "count",
    "queue_length_p99": "count",
    "requests": "count",
    "attempts": "count",
    "retries": "count",
    "retries_decided": "count",
    "sdk_retries": "count",
    "sdk_retries_decided": "count",
    "user_retries": "count",
    "user_retries_decided": "count",
    "hedges": "count",
    "ejections": "count",
    "budget_refusals": "count",
}


def metric_with_unit(metric: str) -> tuple[str, float]:
    """``"latency_p99"`` -> ``("latency_p99_ms", 1000.0)``: the table name of a metric and its scale.

    Accepts a name that already carries its unit (``"latency_p99_ms"`` -> factor 1), so
    callers may take either from a user.
    """
    return WITH_UNIT.get(metric, (metric, 1.0))


def format_metric(value: float | None, unit: str, signed: bool = False) -> str:
    """A value as people read it: ``ms`` and ``s`` with their unit, ratios in %, ``/s``, ``$``, ``x``.

    ``value`` is in ``unit`` (a :data:`METRIC_UNITS` value); ``signed`` adds ``+`` to a
    positive number and writes a ratio's difference in percentage points (``pp``).
    None or NaN gives ``"-"``.
    """
    if value is None or not math.isfinite(value):
        return "-"
    sign = "+" if signed else ""
    x = float(value)
    if unit in ("ms", "s"):
        digits = 1 if abs(x) >= 100 else 2 if abs(x) >= 1 or x == 0 else 3
        return f"{x:{sign},.{digits}f} {unit}"
    if unit == "ratio":  # a difference of two percentages is in percentage points
        pct = x * 100
        digits = 1 if abs(pct) >= 10 else 2 if abs(pct) >= 1 or pct == 0 else 3
        return f"{pct:{sign}.{digits}f}" + (" pp" if signed else "%")
    if unit == "1/s":
        return f"{x:{sign},.1f}/s"
    if unit == "USD":
        return f"{'-' if x < 0 else sign}${abs(x):,.4f}"
    if unit == "x":
        return f"{x:{sign}.3f}x"
    if unit == "count" and x.is_integer():
        return f"{x:{sign},.0f}"
    return f"{x:{sign},.4g}"
