"""Pydantic field types that carry units, and the distribution spec (docs/scenario.md, units)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from meshsim import units
from meshsim.distributions import (
    Distribution,
    constant,
    lognormal_from_mean_cv,
    lognormal_from_quantiles,
)

__all__ = [
    "MAX_COUNT",
    "MAX_SEED",
    "Duration",
    "Rate",
    "Size",
    "Ratio",
    "ErrorRate",
    "error_codes",
    "Bandwidth",
    "DistSpec",
    "Strict",
]


def _wrap(fn: Any) -> Any:
    def validate(value: Any) -> Any:
        try:
            return fn(value)
        except units.UnitError as exc:
            # pydantic already names the field; keep only the human part.
            msg = str(exc)
            raise ValueError(msg.split(": ", 1)[1] if ": " in msg else msg) from None

    return validate


Duration = Annotated[
    float,
    BeforeValidator(_wrap(units.parse_duration)),
    PlainSerializer(units.format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9.]+\s*(ns|us|ms|s|m|min|h)$", "examples": ["250ms"]}),
]
Rate = Annotated[
    float,
    BeforeValidator(_wrap(units.parse_rate)),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "examples": ["500/s", "30000/m"]}]}),
]
Size = Annotated[
    int,
    BeforeValidator(_wrap(units.parse_size)),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string", "examples": ["2KB"]}]}),
]
Ratio = Annotated[
    float,
    BeforeValidator(_wrap(units.parse_ratio)),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "examples": ["0.1%"]}]}),
]


def _error_rates(value: Any) -> Any:
    """A ratio (HTTP 500), or a mapping of HTTP status code to ratio such as ``{503: 0.3}``."""
    if not isinstance(value, dict):
        return _wrap(units.parse_ratio)(value)
    out: dict[int, float] = {}
    for key, rate in value.items():
        try:
            code = int(str(key))
        except ValueError:
            raise ValueError(f"expected an HTTP status code (400-599) as key, got {key!r}") from None
        if not 400 <= code <= 599:
            raise ValueError(f"an error answers an HTTP status code from 400 to 599, got {code}")
        out[code] = _wrap(units.parse_ratio)(rate)
    if sum(out.values()) > 1.0 + 1e-9:
        raise ValueError(f"the error ratios add up to {sum(out.values()):g}, more than 1")
    return out


#: ``error_rate``: a ratio of HTTP 500s, or ratios per status code (``{503: 0.3, 500: 0.01}``).
ErrorRate = Annotated[
    float | dict[int, float],
    BeforeValidator(_error_rates),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "examples": ["0.1%"]},
                {
                    "type": "object",
                    "propertyNames": {"pattern": "^[45][0-9][0-9]$"},
                    "additionalProperties": {"anyOf": [{"type": "number"}, {"type": "string"}]},
                    "examples": [{"503": 0.3}],
                },
            ]
        }
    ),
]


def error_codes(value: float | dict[int, float] | None) -> tuple[tuple[int, float], ...]:
    """``error_rate`` as (HTTP status, ratio) pairs, codes in order: a plain ratio answers 500."""
    if value is None:
        return ()
    if isinstance(value, dict):
        return tuple(sorted((code, rate) for code, rate in value.items() if rate > 0))
    return ((500, float(value)),) if value > 0 else ()


def _format_bandwidth(bytes_per_s: float) -> str:
    return f"{bytes_per_s * 8 / 1e6:.12g}Mbps"


Bandwidth = Annotated[
    float,
    BeforeValidator(_wrap(units.parse_bandwidth)),
    PlainSerializer(_format_bandwidth, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["10Gbps"]}),
]


#: The largest integer any count field takes (replicas, workers, queue slots, thresholds):
#: 2^32 - 1, the largest uint32, which Envoy and Istio write for "unlimited" thresholds.
MAX_COUNT = 2**32 - 1
#: The largest seed (numpy's SeedSequence takes any non-negative int; results JSON keeps 64 bits).
MAX_SEED = 2**64 - 1


def _check_count(value: Any, field: str | None) -> None:
    """Every int in ``value`` (a field, or the items of its list or mapping) within +-MAX_COUNT."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_COUNT:
            digits = len(str(abs(value))) if abs(value) < 10**100 else "100+"
            raise ValueError(f"{digits}-digit number is too large (the limit is {MAX_COUNT:,})")
    elif isinstance(value, dict):
        for item in value.values():
            _check_count(item, field)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_count(item, field)


class Strict(BaseModel):
    """Base for every scenario block: frozen, unknown keys are errors, numbers finite and bounded.

    NaN and infinity are refused wherever a number is read (``allow_inf_nan``), and every
    integer stays within :data:`MAX_COUNT`, so no value can overflow the engine's arithmetic
    or slip past a range check (NaN compares false with every bound).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _bounded_counts(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name != "seed":
            _check_count(value, info.field_name)
        return value


DistKind = Literal[
    "constant",
    "exponential",
    "lognormal",
    "gamma",
    "uniform",
    "pareto",
    "empirical",
    "histogram",
    "mixture",
]


class MixtureComponent(Strict):
    """One part of a mixture: its weight and its distribution."""

    weight: float = Field(gt=0, le=1e9)
    dist: DistSpec


class DistSpec(Strict):
    """A latency or service-time distribution; a plain duration means a constant."""

    dist: DistKind
    value: Duration | None = None
    mean: Duration | None = None
    median: Duration | None = None
    p99: Duration | None = None
    cv: float | None = Field(default=None, gt=0, le=100)
    low: Duration | None = None
    high: Duration | None = None
    alpha: float | None = Field(default=None, ge=0.01, le=1000)
    scale: Duration | None = None
    samples: list[Duration] | None = None
    buckets: dict[str, float] | None = None
    components: list[MixtureComponent] | None = None

    @model_validator(mode="before")
    @classmethod
    def _constant_shorthand(cls, data: Any) -> Any:
        if isinstance(data, (str, int, float)) and not isinstance(data, bool):
            return {"dist": "constant", "value": data}
        return data

    @model_validator(mode="after")
    def _check_parameters(self) -> DistSpec:
        need: list[list[str]] = {
            "constant": [["value"]],
            "exponential": [["mean"]],
            "lognormal": [["median", "p99"], ["mean", "cv"]],
            "gamma": [["mean", "cv"]],
            "uniform": [["low", "high"]],
            "pareto": [["scale", "alpha"], ["mean", "alpha"]],
            "empirical": [["samples"]],
            "histogram": [["buckets"]],
            "mixture": [["components"]],
        }[self.dist]
        given = {k for k, v in self.__dict__.items() if v is not None and k != "dist"}
        for option in need:
            if set(option) <= given:
                extra = given - set(option)
                if extra:
                    raise ValueError(f"{self.dist} takes {' and '.join(option)}; remove {', '.join(sorted(extra))}")
                break
        else:
            forms = " or ".join("{" + ", ".join(o) + "}" for o in need)
            raise ValueError(f"dist {self.dist} needs {forms}")
        if (
            self.dist == "lognormal"
            and self.median is not None
            and self.p99 is not None
            and not self.p99 > self.median > 0
        ):
            raise ValueError("lognormal needs 0 < median < p99")
        if self.dist == "uniform" and not (self.high or 0) > (self.low or 0) >= 0:
            raise ValueError("uniform needs 0 <= low < high")
        if self.dist == "pareto" and self.mean is not None and (self.alpha or 0) <= 1:
            raise ValueError("pareto with a mean needs alpha > 1")
        if self.dist == "empirical" and not self.samples:
            raise ValueError("empirical needs at least one sample")
        if self.dist == "histogram":
            self._histogram_table()
        return self

    def _histogram_table(self) -> tuple[tuple[float, float], ...]:
        rows = []
        for key, count in (self.buckets or {}).items():
            le = math.inf if str(key).strip().lower() in ("+inf", "inf") else None
            if le is None:
                try:
                    le = units.parse_duration(key)
                except units.UnitError:
                    raise ValueError(f"histogram bucket bound {key!r} needs a unit (e.g. '5ms') or '+Inf'") from None
            rows.append((le, float(count)))
        rows.sort()
        cum = [c for _, c in rows]
        if any(b < a for a, b in zip(cum, cum[1:])):
            raise ValueError("histogram buckets are cumulative (Prometheus 'le'): counts must not decrease")
        if not rows or cum[-1] <= 0:
            raise ValueError("histogram needs at least one observation")
        return tuple(rows)

    def build(self) -> Distribution:
        """Return the runtime :class:`Distribution` (parameters in seconds)."""
        d = self.dist
        if d == "constant":
            assert self.value is not None
            return constant(self.value)
        if d == "exponential":
            return Distribution(d, (("mean", float(self.mean or 0)),))
        if d == "lognormal":
            if self.median is not None and self.p99 is not None:
                mu, sigma = lognormal_from_quantiles(self.median, self.p99)
            else:
                mu, sigma = lognormal_from_mean_cv(float(self.mean or 0), float(self.cv or 0))
            return Distribution(d, (("mu", mu), ("sigma", sigma)))
        if d == "gamma":
            return Distribution(d, (("mean", float(self.mean or 0)), ("cv", float(self.cv or 0))))
        if d == "uniform":
            return Distribution(d, (("low", float(self.low or 0)), ("high", float(self.high or 0))))
        if d == "pareto":
            alpha = float(self.alpha or 0)
            scale = self.scale if self.scale is not None else float(self.mean or 0) * (alpha - 1) / alpha
            return Distribution(d, (("alpha", alpha), ("scale", float(scale))))
        if d == "empirical":
            return Distribution(d, samples=tuple(self.samples or ()))
        if d == "histogram":
            return Distribution(d, buckets=self._histogram_table())
        if d == "mixture":
            return Distribution(d, components=tuple((c.weight, c.dist.build()) for c in self.components or ()))
        raise ValueError(d)


def dist_from(value: Any) -> DistSpec:
    """Coerce a raw value (string or mapping) into a :class:`DistSpec`."""
    return DistSpec.model_validate(value)


MixtureComponent.model_rebuild()
