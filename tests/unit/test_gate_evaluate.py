"""evaluate_slos: the confidence-bound decision rule, one replication, missing data, exit code."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from meshsim.errors import MeshsimInputError
from meshsim.scenario import SloSpec
from meshsim.slo import (
    METRICS_COLUMNS,
    SloVerdict,
    check_exit_code,
    count_passed_failed,
    evaluate_slos,
    validate_slo_targets,
    verdicts_frame,
    verdicts_records,
)


def frame(values: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    """Tidy metrics from {(scope, name, metric): [value per replication]}."""
    rows = [
        (rep, scope, name, metric, float(v))
        for (scope, name, metric), vals in values.items()
        for rep, v in enumerate(vals)
    ]
    return pd.DataFrame(rows, columns=list(METRICS_COLUMNS))


P99 = SloSpec(name="browse-p99", workload="browse", metric="latency_p99", max="300ms")
AVAIL = SloSpec(name="cart-availability", service="cart", metric="availability", min="99.9%")


def one(slo: SloSpec, values: list[float], **kw: object) -> SloVerdict:
    key = (slo.scope, slo.target, slo.metric)
    (verdict,) = evaluate_slos([slo], frame({key: values}), **kw)  # type: ignore[arg-type]
    return verdict


def test_clearly_under_the_limit_is_met() -> None:
    rng = np.random.default_rng(11)
    v = one(P99, list(rng.normal(0.200, 0.010, size=10)))
    assert v.status == "met" and v.met
    assert v.ci_low < v.value < v.ci_high <= v.limit
    assert v.replications == 10 and v.direction == "max" and v.note == ""


def test_clearly_over_the_limit_is_missed() -> None:
    rng = np.random.default_rng(12)
    v = one(P99, list(rng.normal(0.400, 0.010, size=10)))
    assert v.status == "missed" and not v.met
    assert v.ci_low > v.limit


def test_mean_under_the_limit_but_interval_crossing_it_is_inconclusive() -> None:
    values = [0.28, 0.31, 0.27, 0.30, 0.29]
    v = one(P99, values)
    assert v.value == pytest.approx(0.29) and v.value < v.limit
    assert v.ci_low < v.limit < v.ci_high
    assert v.status == "inconclusive" and not v.met
    assert check_exit_code([v]) == 1


def test_allow_inconclusive_passes_it_but_keeps_the_status() -> None:
    v = one(P99, [0.28, 0.31, 0.27, 0.30, 0.29], allow_inconclusive=True)
    assert v.status == "inconclusive" and v.met
    assert check_exit_code([v]) == 0
    assert count_passed_failed([v]) == (1, 0)


def test_allow_inconclusive_never_rescues_a_miss() -> None:
    v = one(P99, [0.5, 0.51, 0.49], allow_inconclusive=True)
    assert v.status == "missed" and not v.met


def test_interval_is_student_t_from_a_printed_table() -> None:
    # Two-sided 95% Student t quantile for 4 degrees of freedom is 2.776
    # (any t table, e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
    values = np.array([0.10, 0.12, 0.11, 0.13, 0.09])
    v = one(P99, list(values))
    half = 2.776 * values.std(ddof=1) / math.sqrt(5)
    assert v.value == pytest.approx(0.11)
    assert v.ci_low == pytest.approx(0.11 - half, rel=1e-3)
    assert v.ci_high == pytest.approx(0.11 + half, rel=1e-3)


def test_higher_confidence_widens_the_interval_and_can_turn_met_into_inconclusive() -> None:
    values = [0.280, 0.285, 0.290, 0.283, 0.288]
    at95 = one(P99, values, confidence=0.95)
    at9999 = one(P99, values, confidence=0.9999)
    assert at9999.ci_high - at9999.ci_low > at95.ci_high - at95.ci_low
    assert at95.status == "met"
    assert at9999.status == "inconclusive"


def test_min_direction_mirrors_max() -> None:
    rng = np.random.default_rng(13)
    met = one(AVAIL, list(rng.normal(0.9995, 0.0001, size=8)))
    missed = one(AVAIL, list(rng.normal(0.995, 0.0005, size=8)))
    unsure = one(AVAIL, [0.9985, 0.9995, 0.9990, 0.9993])
    assert (met.status, missed.status, unsure.status) == ("met", "missed", "inconclusive")
    assert met.ci_low >= met.limit and missed.ci_high < missed.limit
    assert met.direction == "min"


def test_identical_replications_give_a_zero_width_interval_and_the_bound_is_inclusive() -> None:
    v = one(P99, [0.3, 0.3, 0.3])
    assert v.ci_low == v.ci_high == pytest.approx(0.3)
    assert v.status == "met"  # 0.3 <= 0.3
    w = one(AVAIL, [0.999] * 4)
    assert w.status == "met"  # 0.999 >= 99.9%


def test_one_replication_decides_on_the_point_value_and_says_so() -> None:
    under = one(P99, [0.29])
    over = one(P99, [0.31])
    assert under.status == "met" and over.status == "missed"
    for v in (under, over):
        assert v.replications == 1
        assert math.isnan(v.ci_low) and math.isnan(v.ci_high) and not v.has_interval
        assert "1 replication" in v.note and "point value" in v.note


def test_replications_without_a_value_are_left_out_and_noted() -> None:
    v = one(P99, [0.2, float("nan"), 0.21, 0.19])
    assert v.replications == 3 and v.value == pytest.approx(0.2)
    assert "1 of 4 replications had no value" in v.note


def test_no_value_at_all_fails_closed() -> None:
    v = one(P99, [float("nan")] * 3, allow_inconclusive=True)
    assert v.status == "missed" and not v.met and math.isnan(v.value)
    assert "no replication produced a value" in v.note


def test_verdicts_follow_slo_order_and_pick_the_right_rows() -> None:
    metrics = frame(
        {
            ("workload", "browse", "latency_p99"): [0.1, 0.1, 0.1],
            ("service", "browse", "latency_p99"): [0.9, 0.9, 0.9],  # same name, other scope
            ("service", "cart", "availability"): [0.9999, 0.9998, 0.9999],
            ("workload", "browse", "throughput"): [10.0, 11.0, 12.0],
        }
    )
    verdicts = evaluate_slos([AVAIL, P99], metrics)
    assert [v.name for v in verdicts] == ["cart-availability", "browse-p99"]
    assert verdicts[1].value == pytest.approx(0.1)
    assert check_exit_code(verdicts) == 0 and check_exit_code([]) == 0


def test_missing_metric_or_target_is_bad_input_naming_the_slo() -> None:
    metrics = frame({("workload", "browse", "latency_p99"): [0.1, 0.1]})
    cost = SloSpec(name="browse-cost", workload="browse", metric="cost_per_million", max=1.0)
    ghost = SloSpec(name="ghost-p99", workload="ghost", metric="latency_p99", max="1s")
    with pytest.raises(MeshsimInputError) as info:
        evaluate_slos([cost, ghost], metrics, source_file="s.yaml", slo_lines={"ghost-p99": 9})
    text = str(info.value)
    assert "browse-cost" in text and "cost_per_million" in text
    assert "s.yaml:9:" in text and "no workload named 'ghost'" in text and "known: browse" in text


def test_confidence_must_be_a_probability() -> None:
    with pytest.raises(MeshsimInputError, match="confidence"):
        evaluate_slos([P99], frame({("workload", "browse", "latency_p99"): [0.1]}), confidence=95)


def test_frame_and_records() -> None:
    verdicts = [one(P99, [0.2, 0.21]), one(P99, [0.2])]
    df = verdicts_frame(verdicts)
    assert list(df.columns)[:12] == [
        "name",
        "scope",
        "target",
        "metric",
        "value",
        "ci_low",
        "ci_high",
        "limit",
        "direction",
        "status",
        "met",
        "replications",
    ]
    assert len(df) == 2 and df["met"].tolist() == [True, True]
    records = verdicts_records(verdicts)
    json.dumps(records, allow_nan=False)  # NaN became null
    assert records[1]["ci"] is None and records[0]["unit"] == "s"
    assert {"name", "value", "limit", "met"} <= set(records[0])
    assert verdicts_frame([]).columns.tolist() == df.columns.tolist()


def test_validate_slo_targets_fails_fast_with_lines() -> None:
    dup = SloSpec(name="browse-p99", workload="browse", metric="latency_p50", max="1s")
    with pytest.raises(MeshsimInputError) as info:
        validate_slo_targets(
            [P99, AVAIL, dup],
            workloads=["browse"],
            services=["frontend"],
            source_file="slos.yaml",
            slo_lines={"cart-availability": 4},
        )
    problems = info.value.problems
    assert len(problems) == 2
    assert "unknown service 'cart'" in problems[0].message and problems[0].line == 4
    assert "duplicate SLO name" in problems[1].message
    validate_slo_targets([P99, AVAIL], workloads={"browse"}, services={"cart"})
