"""Service level objectives (docs/scenario.md ``slos:``) as a frozen pydantic model.

An SLO names one workload or one service, one metric and one limit::

    - {name: browse-p99, workload: browse, metric: latency_p99, max: 300ms}
    - {name: cart-availability, service: cart, metric: availability, min: 99.9%}

``latency_under`` is the usual latency SLI: the share of a workload's requests answered
successfully within ``threshold``, e.g. ``{metric: latency_under, threshold: 300ms,
min: 99%}``. Requests still in flight at the end of the run count as the user sees them
(docs/results.md): one older than the threshold (latency SLOs) or than ``timeout``
(error_rate and availability; default the workload's client timeout) is a miss.

The limit is read according to the metric's kind: latencies are durations
(``"300ms"``, stored as float seconds), ``error_rate`` and ``availability`` are
ratios (``0.005`` or ``"0.5%"``), ``throughput`` is a rate (``500`` or
``"500/s"``, requests per second), ``amplification`` is a plain ratio and
``cost_per_million`` is US dollars per million requests; ``queue_length_mean`` and
``queue_length_p99`` (services) are numbers of attempts waiting for a worker.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from meshsim import units

__all__ = [
    "SloMetric",
    "SloSpec",
    "SLO_METRICS",
    "METRIC_KIND",
    "LATENCY_METRICS",
]

SloMetric = Literal[
    "latency_p50",
    "latency_p90",
    "latency_p99",
    "latency_p999",
    "latency_mean",
    "latency_under",
    "error_rate",
    "availability",
    "throughput",
    "amplification",
    "cost_per_million",
    "queue_length_mean",
    "queue_length_p99",
]

#: Every metric an SLO may name, in the order of :data:`SloMetric`.
SLO_METRICS: tuple[str, ...] = get_args(SloMetric)

LATENCY_METRICS: tuple[str, ...] = tuple(m for m in SLO_METRICS if m.startswith("latency_") and m != "latency_under")

#: How a limit is written and stored: duration (seconds), ratio (0..1), rate (per second),
#: number (plain float) or money (US dollars).
METRIC_KIND: dict[str, str] = {
    **{m: "duration" for m in LATENCY_METRICS},
    "latency_under": "ratio",
    "error_rate": "ratio",
    "availability": "ratio",
    "throughput": "rate",
    "amplification": "number",
    "cost_per_million": "money",
    "queue_length_mean": "number",
    "queue_length_p99": "number",
}

_LIMIT_SCHEMA = WithJsonSchema(
    {
        "anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}],
        "default": None,
        "description": ("limit in the metric's unit: 300ms (latency), 0.5% (ratio), 500/s (throughput)"),
        "examples": ["300ms", "0.5%", "99.9%", "500/s", 1.5],
    }
)

Limit = Annotated[float | None, _LIMIT_SCHEMA]


def _parse_limit(metric: str, value: Any, which: str) -> float:
    """Return the limit as a float in the metric's internal unit (seconds for latency)."""
    kind = METRIC_KIND[metric]
    label = f"{which} ({metric})"
    try:
        # Rounding to 1e-12 undoes binary noise such as 99.9% -> 0.9990000000000001,
        # which would otherwise fail a value of exactly 0.999.
        if kind == "duration":
            return round(units.parse_duration(value, label), 12)
        if kind == "ratio":
            return round(units.parse_ratio(value, label), 12)
        if kind == "rate":
            return units.parse_rate(value, label)
    except units.UnitError as exc:
        raise PydanticCustomError("slo_limit", "{msg}", {"msg": str(exc)}) from None
    # number / money: a plain number; strings such as "1.5" are accepted, units are not.
    if isinstance(value, bool):
        raise PydanticCustomError("slo_limit", "{msg}", {"msg": f"{label}: expected a number"})
    try:
        number = float(value)
    except OverflowError:
        raise PydanticCustomError("slo_limit", "{msg}", {"msg": f"{label}: the number is too large"}) from None
    except (TypeError, ValueError):
        raise PydanticCustomError("slo_limit", "{msg}", {"msg": f"{label}: expected a number, got {value!r}"}) from None
    if not math.isfinite(number) or number < 0:
        raise PydanticCustomError(
            "slo_limit", "{msg}", {"msg": f"{label}: must be a finite number >= 0, got {value!r}"}
        )
    return number


class SloSpec(BaseModel):
    """One SLO: a limit on one metric of one workload or one service.

    ``max`` and ``min`` are stored in the metric's internal unit: seconds for
    latencies, ratios in [0, 1], requests per second for throughput, plain
    numbers for amplification and US dollars for ``cost_per_million``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, description="unique name; the test case name in JUnit")
    workload: str | None = Field(default=None, min_length=1)
    service: str | None = Field(default=None, min_length=1)
    metric: SloMetric
    # ``max``/``min`` shadow builtins on purpose: they are the scenario's YAML keys.
    max: Limit = None
    min: Limit = None
    threshold: Limit = Field(default=None, description="latency_under: the latency a good request stays within")
    timeout: Limit = Field(
        default=None,
        description="error_rate/availability of a workload: a request in flight at the end older than this "
        "counts as failed (default: the workload's client timeout)",
    )

    @field_validator("threshold", "timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        try:
            seconds = round(units.parse_duration(value, str(info.field_name)), 12)
        except units.UnitError as exc:
            raise PydanticCustomError("slo_limit", "{msg}", {"msg": str(exc)}) from None
        if seconds <= 0:
            raise PydanticCustomError("slo_limit", "{msg}", {"msg": f"{info.field_name} must be above zero"})
        return seconds

    @field_validator("max", "min", mode="before")
    @classmethod
    def _limit_by_kind(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        metric = info.data.get("metric")
        if metric not in METRIC_KIND:
            # The metric itself is invalid and pydantic reports that; do not pile on.
            return 0.0
        return _parse_limit(metric, value, str(info.field_name))

    @model_validator(mode="after")
    def _exactly_one(self) -> SloSpec:
        if (self.workload is None) == (self.service is None):
            raise PydanticCustomError(
                "slo_target",
                "give exactly one of workload or service (SLO '{name}')",
                {"name": self.name},
            )
        if (self.max is None) == (self.min is None):
            raise PydanticCustomError("slo_limit", "give exactly one of max or min (SLO '{name}')", {"name": self.name})
        if (self.metric == "latency_under") != (self.threshold is not None):
            raise PydanticCustomError(
                "slo_limit",
                "latency_under needs threshold (e.g. threshold: 300ms, min: 99%), and only it takes one (SLO '{name}')",
                {"name": self.name},
            )
        if self.metric == "latency_under" and self.workload is None:
            raise PydanticCustomError(
                "slo_target", "latency_under is measured on a workload's requests (SLO '{name}')", {"name": self.name}
            )
        if self.timeout is not None and (self.metric not in ("error_rate", "availability") or self.workload is None):
            raise PydanticCustomError(
                "slo_limit",
                "timeout belongs to a workload's error_rate or availability (SLO '{name}')",
                {"name": self.name},
            )
        return self

    @field_serializer("threshold", "timeout")
    def _dump_duration(self, value: float | None) -> str | None:
        return None if value is None else f"{value!r}s"

    @field_serializer("max", "min")
    def _dump_limit(self, value: float | None) -> float | str | None:
        # Durations go back out with their unit so that dump -> validate round-trips
        # (a bare number is refused for a duration); repr keeps every digit.
        if value is None or METRIC_KIND[self.metric] != "duration":
            return value
        return f"{value!r}s"

    @property
    def scope(self) -> Literal["workload", "service"]:
        """``"workload"`` or ``"service"``: which kind of thing the SLO is about."""
        return "workload" if self.workload is not None else "service"

    @property
    def target(self) -> str:
        """The workload or service name."""
        return self.workload if self.workload is not None else str(self.service)

    @property
    def direction(self) -> Literal["max", "min"]:
        """``"max"`` when the value must stay at or below the limit, ``"min"`` at or above."""
        return "max" if self.max is not None else "min"

    @property
    def limit(self) -> float:
        """The limit in the metric's internal unit (seconds for latencies)."""
        value = self.max if self.max is not None else self.min
        assert value is not None  # guaranteed by the validator
        return value
