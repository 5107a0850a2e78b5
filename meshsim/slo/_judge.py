"""Decide each SLO from per-replication metrics, with a Student-t confidence interval.

Input is the tidy ``metrics`` frame of a run: one row per replication, scope
(``"workload"`` or ``"service"``), name, metric and value. Values are in the
package's internal units: seconds for latencies, ratios in [0, 1], requests per
second for throughput, US dollars for ``cost_per_million``.

Decision rule (``max`` shown; ``min`` mirrors it):

* **met** when the upper confidence bound is at or below the limit,
* **missed** when the lower confidence bound is above the limit,
* **inconclusive** otherwise: the interval straddles the limit, so more
  replications (or a change) are needed to call it.

The interval is the two-sided Student-t interval at ``confidence`` over the
replication values, so each bound is a one-sided bound at ``(1 + confidence) / 2``.
With a single replication there is no interval: the SLO is decided on the
point value and the verdict's ``note`` says so.

Replications where the metric is undefined (NaN: e.g. no request completed, so
no latency) are left out and noted. If no replication has a value, the SLO is
**missed**: a gate fails closed rather than pass on no data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal, TypedDict

import numpy as np
import pandas as pd

from meshsim.errors import InputProblem, MeshsimInputError
from meshsim.scenario import METRIC_KIND, SloSpec
from meshsim.stats import mean_ci

__all__ = [
    "SloVerdict",
    "evaluate_slos",
    "verdicts_frame",
    "verdicts_records",
    "check_exit_code",
    "count_passed_failed",
    "validate_slo_targets",
    "METRICS_COLUMNS",
]

Status = Literal["met", "missed", "inconclusive"]

#: Columns the ``metrics`` frame must have.
METRICS_COLUMNS = ("replication", "scope", "name", "metric", "value")

_UNIT = {"duration": "s", "ratio": "ratio", "rate": "1/s", "number": "ratio", "money": "USD"}


@dataclass(frozen=True, slots=True)
class SloVerdict:
    """The outcome of one SLO.

    ``value``, ``ci_low``, ``ci_high`` and ``limit`` are in the metric's internal
    unit (seconds for latencies). ``ci_low``/``ci_high`` are NaN when there is no
    interval (one replication, or no data). ``met`` is True only when ``status``
    is ``"met"``, or when it is ``"inconclusive"`` and inconclusive results were
    allowed. ``note`` explains anything unusual (one replication, missing data).
    """

    name: str
    scope: Literal["workload", "service"]
    target: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    limit: float
    direction: Literal["max", "min"]
    status: Status
    met: bool
    replications: int
    confidence: float = 0.95
    note: str = ""

    @property
    def has_interval(self) -> bool:
        """True when ``ci_low``/``ci_high`` hold a real interval."""
        return not (math.isnan(self.ci_low) or math.isnan(self.ci_high))

    @property
    def unit(self) -> str:
        """Unit of ``value`` and ``limit``: ``s``, ``ratio``, ``1/s`` or ``USD``."""
        return _UNIT[METRIC_KIND[self.metric]]


def _decide(direction: str, value: float, low: float, high: float, limit: float) -> Status:
    if math.isnan(low):  # one replication: the point value is all there is
        low = high = value
    if direction == "max":
        if high <= limit:
            return "met"
        return "missed" if low > limit else "inconclusive"
    if low >= limit:
        return "met"
    return "missed" if high < limit else "inconclusive"


def _check_frame(metrics: pd.DataFrame) -> None:
    missing = [c for c in METRICS_COLUMNS if c not in metrics.columns]
    if missing:
        raise ValueError(f"metrics frame lacks columns {missing}; expected {list(METRICS_COLUMNS)}")


def _problem(
    message: str,
    spec: SloSpec,
    index: int,
    source_file: str | None,
    slo_lines: Mapping[str, int] | None,
) -> InputProblem:
    return InputProblem(
        message,
        file=source_file,
        line=(slo_lines or {}).get(spec.name),
        field=f"slos[{index}] ({spec.name})",
    )


def evaluate_slos(
    slos: Sequence[SloSpec],
    metrics: pd.DataFrame,
    confidence: float = 0.95,
    allow_inconclusive: bool = False,
    *,
    source_file: str | None = None,
    slo_lines: Mapping[str, int] | None = None,
) -> list[SloVerdict]:
    """Judge every SLO against the per-replication ``metrics``; one verdict per SLO, in order.

    ``confidence`` is the two-sided level of the t interval (0 < c < 1).
    ``source_file``/``slo_lines`` (SLO name -> 1-based line) only locate errors.
    Raises :class:`MeshsimInputError` when an SLO names a workload, service or
    metric that the results do not have.
    """
    if not 0.0 < confidence < 1.0:
        raise MeshsimInputError(
            f"confidence must be between 0 and 1 (exclusive), got {confidence}",
            field="--confidence",
        )
    _check_frame(metrics)
    problems: list[InputProblem] = []
    verdicts: list[SloVerdict] = []
    for index, spec in enumerate(slos):
        rows = metrics[(metrics["scope"] == spec.scope) & (metrics["name"] == spec.target)]
        if rows.empty:
            known = sorted(metrics.loc[metrics["scope"] == spec.scope, "name"].astype(str).unique())
            problems.append(
                _problem(
                    f"no {spec.scope} named '{spec.target}' in the results (known: {', '.join(known) or 'none'})",
                    spec,
                    index,
                    source_file,
                    slo_lines,
                )
            )
            continue
        # a workload SLO's own value (in-flight requests counted as users see them), else the plain metric
        own = rows[rows["metric"] == f"slo:{spec.name}"]
        rows = own if not own.empty else rows[rows["metric"] == spec.metric]
        if rows.empty:
            problems.append(
                _problem(
                    f"metric {spec.metric} is not available for {spec.scope} '{spec.target}'",
                    spec,
                    index,
                    source_file,
                    slo_lines,
                )
            )
            continue
        if rows["replication"].duplicated().any():
            raise ValueError(
                f"metrics frame has several rows per replication for {spec.scope}/{spec.target}/{spec.metric}"
            )
        verdicts.append(_judge(spec, rows, confidence, allow_inconclusive))
    if problems:
        raise MeshsimInputError(problems=problems)
    return verdicts


class _VerdictBase(TypedDict):
    """The fields of a verdict that do not depend on its status (limit in the metric's internal unit)."""

    name: str
    scope: Literal["workload", "service"]
    target: str
    metric: str
    limit: float
    direction: Literal["max", "min"]
    replications: int
    confidence: float


def _judge(spec: SloSpec, rows: pd.DataFrame, confidence: float, allow_inconclusive: bool) -> SloVerdict:
    ordered = rows.sort_values("replication")
    values = ordered["value"].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    notes: list[str] = []
    if len(finite) < len(values):
        notes.append(f"{len(values) - len(finite)} of {len(values)} replications had no value and were left out")
    common: _VerdictBase = {
        "name": spec.name,
        "scope": spec.scope,
        "target": spec.target,
        "metric": spec.metric,
        "limit": spec.limit,
        "direction": spec.direction,
        "replications": len(finite),
        "confidence": confidence,
    }
    if len(finite) == 0:
        notes.append("no replication produced a value (e.g. no request completed); counted as missed")
        return SloVerdict(
            value=math.nan,
            ci_low=math.nan,
            ci_high=math.nan,
            status="missed",
            met=False,
            note="; ".join(notes),
            **common,
        )
    mean, low, high = mean_ci(finite, confidence)
    if len(finite) == 1:
        notes.append("1 replication: no confidence interval, decided on the point value")
    status = _decide(spec.direction, mean, low, high, spec.limit)
    met = status == "met" or (status == "inconclusive" and allow_inconclusive)
    return SloVerdict(
        value=mean,
        ci_low=low,
        ci_high=high,
        status=status,
        met=met,
        note="; ".join(notes),
        **common,
    )


def verdicts_frame(verdicts: Iterable[SloVerdict]) -> pd.DataFrame:
    """One row per verdict, the dataclass fields as columns (values in internal units)."""
    columns = list(SloVerdict.__dataclass_fields__)
    return pd.DataFrame([asdict(v) for v in verdicts], columns=columns)


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def verdicts_records(verdicts: Iterable[SloVerdict]) -> list[dict[str, object]]:
    """JSON-ready dicts for the ``slos`` list of ``meshsim run --json`` (docs/results.md).

    Keys: name, value, limit, met (the scenario's), then status, ci (``[low, high]`` or
    null), unit, metric, scope, target, direction, replications, note. NaN becomes null.
    """
    out: list[dict[str, object]] = []
    for v in verdicts:
        ci = [_json_float(v.ci_low), _json_float(v.ci_high)] if v.has_interval else None
        out.append(
            {
                "name": v.name,
                "value": _json_float(v.value),
                "limit": v.limit,
                "met": v.met,
                "status": v.status,
                "ci": ci,
                "unit": v.unit,
                "metric": v.metric,
                "scope": v.scope,
                "target": v.target,
                "direction": v.direction,
                "replications": v.replications,
                "note": v.note,
            }
        )
    return out


def count_passed_failed(verdicts: Iterable[SloVerdict]) -> tuple[int, int]:
    """Return (passed, failed); inconclusive counts as failed unless it was allowed."""
    passed = failed = 0
    for v in verdicts:
        if v.met:
            passed += 1
        else:
            failed += 1
    return passed, failed


def check_exit_code(verdicts: Iterable[SloVerdict]) -> int:
    """0 when every SLO is met (or allowed inconclusive), 1 otherwise.

    An empty list gives 0; the CLI should refuse a check with no SLOs before this.
    """
    return 0 if all(v.met for v in verdicts) else 1


def validate_slo_targets(
    slos: Sequence[SloSpec],
    workloads: Iterable[str],
    services: Iterable[str],
    *,
    source_file: str | None = None,
    slo_lines: Mapping[str, int] | None = None,
) -> None:
    """Fail fast, before simulating, when an SLO names an unknown workload or service.

    Also refuses two SLOs with the same name (the name is the JUnit test case).
    Raises :class:`MeshsimInputError` listing every problem with file and line.
    """
    known = {"workload": set(workloads), "service": set(services)}
    problems: list[InputProblem] = []
    seen: set[str] = set()
    for index, spec in enumerate(slos):
        if spec.name in seen:
            problems.append(_problem(f"duplicate SLO name '{spec.name}'", spec, index, source_file, slo_lines))
        seen.add(spec.name)
        if spec.target not in known[spec.scope]:
            choices = ", ".join(sorted(known[spec.scope])) or "none"
            problems.append(
                _problem(
                    f"unknown {spec.scope} '{spec.target}' (known: {choices})",
                    spec,
                    index,
                    source_file,
                    slo_lines,
                )
            )
    if problems:
        raise MeshsimInputError(problems=problems)
