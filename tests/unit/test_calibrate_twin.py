"""Twin check without the engine (summaries, comparison, verdict) and the export -> read round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meshsim.calibrate import (
    COMPARE_COLUMNS,
    SPAN_COLUMNS,
    SUMMARY_COLUMNS,
    compare_observed,
    observed_summary,
    predicted_from_results,
    read_traces,
    synthetic_spans,
    verdict,
    write_jaeger_json,
    write_otlp_json,
    write_zipkin_json,
)
from meshsim.calibrate._export import otlp_document

SERVICES = {
    "web": {
        "service_time": {"dist": "lognormal", "median": "5ms", "p99": "30ms"},
        "calls": [{"parallel": ["a", "b"]}],
    },
    "a": {"service_time": "2ms", "error_rate": 0.1},
    "b": {"service_time": {"dist": "exponential", "mean": "1ms"}},
}


@pytest.fixture(scope="module")
def spans() -> pd.DataFrame:
    df = synthetic_spans(SERVICES, [{"entry": "web", "rate": 60}], 10, np.random.default_rng(8))
    # Give some spans the optional fields so the round trip covers them.
    df.loc[df["service"] == "a", "version"] = "v2"
    df.loc[df["service"] == "a", "location"] = "aws/us-east-1/b"
    df.loc[df["service"] == "b", "instance"] = "b-7f9c"
    df.loc[df["service"] == "b", "location"] = "gcp/us-central1/a"
    df.loc[df["service"] == "web", "request_bytes"] = 512.0
    df.loc[df.index[:3], "status_code"] = 503.0  # an unmarked 503 that is not an error
    df.loc[df.index[:3], "error"] = False
    df.loc[df["kind"] == "client", "peer_service"] = "lb"
    return df


def test_observed_summary_by_hand(spans: pd.DataFrame) -> None:
    obs = observed_summary(spans)
    assert list(obs.columns) == list(SUMMARY_COLUMNS)
    entry = obs[(obs["scope"] == "entry") & (obs["name"] == "web")].iloc[0]
    roots = spans[spans["parent_id"].isna()]
    assert entry["count"] == len(roots)
    assert entry["p50_ms"] == pytest.approx(np.quantile(roots["duration_s"] * 1e3, 0.5))
    assert entry["error_rate"] == pytest.approx(roots["error"].mean())
    a = obs[(obs["scope"] == "service") & (obs["name"] == "a")].iloc[0]
    assert a["p99_ms"] == pytest.approx(2.0)  # constant service time, no calls


def test_compare_and_verdict(spans: pd.DataFrame) -> None:
    obs = observed_summary(spans)
    same = compare_observed(obs, obs.copy())
    assert list(same.columns) == list(COMPARE_COLUMNS)
    assert verdict(same).ok
    off = obs.copy()
    off["p50_ms"] *= 1.15  # 15% off against a 10% tolerance
    cmp = compare_observed(obs, off, tolerance=0.1)
    bad = cmp[cmp["checked"] & ~cmp["within_tolerance"]]
    assert set(bad["metric"]) == {"p50_ms"}
    assert bad["rel_error"].to_numpy() == pytest.approx(0.15)
    v = verdict(cmp)
    assert not v.ok and v.failed == len(bad) and "p50_ms" in v.worst
    assert verdict(compare_observed(obs, off, tolerance=0.2)).ok


def test_tail_needs_enough_observations_and_errors_use_binomial_noise() -> None:
    obs = pd.DataFrame(
        [
            {
                "scope": "entry",
                "name": "x",
                "count": 300,
                "p50_ms": 10.0,
                "p90_ms": 20.0,
                "p99_ms": 50.0,
                "error_rate": 0.0,
            }
        ]
    )
    pred = obs.assign(p99_ms=80.0, error_rate=0.002)
    cmp = compare_observed(obs, pred).set_index("metric")
    # p99 of 300 requests rests on 3 observations: not checked.
    assert not cmp.loc["p99_ms", "checked"] and "too few" in cmp.loc["p99_ms", "note"]
    # 0 errors seen in 300 vs 0.2% predicted: within 3 binomial standard errors (3*sqrt(1/300)/sqrt(300) = 1%).
    assert cmp.loc["error_rate", "within_tolerance"]
    assert cmp.loc["error_rate", "allowed"] == pytest.approx(3 * math.sqrt((1 / 300) / 300))
    missing = compare_observed(obs, pred.assign(name="other"))
    assert not missing["checked"].any()
    assert not verdict(missing).ok and "nothing to compare" in str(verdict(missing))


def test_predicted_from_results_json() -> None:
    results = {
        "workloads": {
            "browse": {
                "requests": 1000,
                "error_rate": 0.01,
                "latency_ms": {"mean": 12, "p50": 10, "p90": 20, "p99": 40, "p999": 60},
            }
        },
        "services": {
            "cart": {
                "attempts": 500,
                "failed": {"error": 5, "timeout": 5},
                "latency_ms": {"p50": 3, "p99": 9},
            }
        },
    }
    scenario = {"workload": [{"name": "browse", "entry": "frontend"}]}
    df = predicted_from_results(results, scenario)
    assert list(df.columns) == list(SUMMARY_COLUMNS)
    row = df.set_index(["scope", "name"])
    assert row.loc[("entry", "frontend"), "p90_ms"] == 20
    assert row.loc[("service", "cart"), "error_rate"] == pytest.approx(0.02)
    assert math.isnan(row.loc[("service", "cart"), "p90_ms"])


# ----------------------------------------------------------------------------- export round trip


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["trace_id", "span_id"]).reset_index(drop=True)


@pytest.mark.parametrize(
    "writer, name, time_tol",
    [
        (write_otlp_json, "sim.otlp.json", 2e-9),  # nanoseconds
        (write_jaeger_json, "sim.jaeger.json.gz", 1e-6),  # Jaeger keeps microseconds
        (write_zipkin_json, "sim.zipkin.json", 1e-6),
    ],
)
def test_export_reads_back_identically(spans: pd.DataFrame, tmp_path: Path, writer, name: str, time_tol: float) -> None:
    path = writer(spans, tmp_path / name)
    back = read_traces(path)
    assert back.attrs["warnings"] == []
    a, b = _sorted(spans), _sorted(back)
    for col in SPAN_COLUMNS:
        if col in ("start_s", "duration_s"):
            np.testing.assert_allclose(b[col], a[col], atol=time_tol, rtol=0)
        else:
            assert b[col].astype(str).equals(a[col].astype(str)), col
    got, want = observed_summary(back), observed_summary(spans)
    assert got[["scope", "name", "count"]].equals(want[["scope", "name", "count"]])
    cols = ["p50_ms", "p90_ms", "p99_ms", "error_rate"]
    np.testing.assert_allclose(got[cols], want[cols], atol=2e-3, rtol=0)  # 2 us in ms


def test_export_is_gzip_by_name_and_follows_otlp_shape(spans: pd.DataFrame, tmp_path: Path) -> None:
    p = write_jaeger_json(spans, tmp_path / "t.json.gz")
    assert p.read_bytes()[:2] == b"\x1f\x8b"
    doc = otlp_document(spans.head(5), epoch_s=1.7e9)
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert isinstance(span["startTimeUnixNano"], str) and len(span["traceId"]) == 32 and len(span["spanId"]) == 16
    assert int(span["startTimeUnixNano"]) > 1.7e18
    json.dumps(doc)  # plain JSON types only
