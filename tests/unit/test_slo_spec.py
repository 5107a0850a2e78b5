"""SloSpec: limits parsed by metric kind, exactly-one rules, round trip, JSON Schema."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from meshsim.scenario import LATENCY_METRICS, METRIC_KIND, SLO_METRICS, SloSpec


def test_spec_examples_from_the_contract_parse_into_internal_units() -> None:
    # The three SLOs of docs/scenario.md.
    p99 = SloSpec(name="browse-p99", workload="browse", metric="latency_p99", max="300ms")
    err = SloSpec(name="browse-errors", workload="browse", metric="error_rate", max="0.5%")
    avail = SloSpec(name="cart-availability", service="cart", metric="availability", min="99.9%")
    assert p99.limit == pytest.approx(0.3) and p99.direction == "max"
    assert (p99.scope, p99.target) == ("workload", "browse")
    assert err.limit == pytest.approx(0.005)
    assert (avail.scope, avail.target, avail.direction) == ("service", "cart", "min")
    # 99.9% must not become 0.9990000000000001: a value of exactly 0.999 has to meet it.
    assert avail.limit == 0.999


@pytest.mark.parametrize(
    ("metric", "raw", "expected"),
    [
        ("latency_p50", "250us", 250e-6),
        ("latency_mean", "1.5s", 1.5),
        ("latency_p999", "2m", 120.0),
        ("error_rate", 0.001, 0.001),
        ("availability", "99.99%", 0.9999),
        ("throughput", "30000/m", 500.0),
        ("throughput", 250, 250.0),
        ("amplification", 1.5, 1.5),
        ("amplification", "2", 2.0),
        ("cost_per_million", 0.42, 0.42),
    ],
)
def test_limit_is_read_by_metric_kind(metric: str, raw: object, expected: float) -> None:
    spec = SloSpec(name="x", workload="w", metric=metric, max=raw)  # type: ignore[arg-type]
    assert spec.max == pytest.approx(expected)
    assert spec.min is None


@pytest.mark.parametrize(
    ("metric", "raw", "needle"),
    [
        ("latency_p99", 300, "give a unit"),  # a bare number is ambiguous for a duration
        ("latency_p99", "300 parsecs", "cannot read duration"),
        ("error_rate", "150%", "between 0 and 1"),
        ("throughput", "fast", "cannot read rate"),
        ("amplification", "2x", "expected a number"),
        ("cost_per_million", -1, ">= 0"),
        ("amplification", True, "expected a number"),
    ],
)
def test_bad_limits_name_the_metric(metric: str, raw: object, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        SloSpec(name="x", workload="w", metric=metric, max=raw)  # type: ignore[arg-type]
    errors = info.value.errors()
    assert errors[0]["loc"] == ("max",)
    assert needle in errors[0]["msg"] and metric in errors[0]["msg"]


@pytest.mark.parametrize(
    "fields",
    [
        {"workload": "w", "service": "s", "max": "1%"},
        {"max": "1%"},
        {"workload": "w", "max": "1%", "min": "0.1%"},
        {"workload": "w"},
    ],
)
def test_exactly_one_target_and_one_limit(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="exactly one of"):
        SloSpec(name="x", metric="error_rate", **fields)  # type: ignore[arg-type]


def test_unknown_metric_and_extra_keys_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        SloSpec.model_validate({"name": "x", "workload": "w", "metric": "latency_p95", "max": "1s"})
    assert [e["loc"] for e in info.value.errors()] == [("metric",)]
    with pytest.raises(ValidationError, match="Extra inputs"):
        SloSpec.model_validate({"name": "x", "workload": "w", "metric": "error_rate", "max": 0.1, "maxx": 0.2})


def test_frozen() -> None:
    spec = SloSpec(name="x", workload="w", metric="error_rate", max=0.01)
    with pytest.raises(ValidationError):
        spec.name = "y"  # type: ignore[misc]


@pytest.mark.parametrize("metric", SLO_METRICS)
def test_dump_then_validate_round_trips_exactly(metric: str) -> None:
    raw = {"duration": "123.456789ms", "ratio": "0.123%", "rate": "7/s", "number": 1.25, "money": 3.5}[
        METRIC_KIND[metric]
    ]
    # latency_under takes a threshold and a workload: its serialized threshold must round-trip too
    target: dict[str, str] = (
        {"workload": "w", "threshold": "250.5ms"} if metric == "latency_under" else {"service": "s"}
    )
    spec = SloSpec(name="x", metric=metric, min=raw, **target)  # type: ignore[arg-type]
    again = SloSpec.model_validate(spec.model_dump())
    assert again == spec
    assert SloSpec.model_validate_json(spec.model_dump_json()) == spec


def test_kinds_cover_every_metric_and_latencies_are_durations() -> None:
    assert set(METRIC_KIND) == set(SLO_METRICS)
    assert LATENCY_METRICS == ("latency_p50", "latency_p90", "latency_p99", "latency_p999", "latency_mean")
    assert all(METRIC_KIND[m] == "duration" for m in LATENCY_METRICS)


def test_json_schema_lets_editors_accept_unit_strings() -> None:
    schema = SloSpec.model_json_schema()
    types = {alt["type"] for alt in schema["properties"]["max"]["anyOf"]}
    assert {"number", "string"} <= types
    assert schema["additionalProperties"] is False
    assert math.isclose(SloSpec(name="x", workload="w", metric="latency_p90", max="0.5s").limit, 0.5)
