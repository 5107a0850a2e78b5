"""Prometheus exposition: the hand-written Istio and Linkerd samples in tests/data/traces.

Metric and label names follow Istio's standard metrics (istio_requests_total,
istio_request_duration_milliseconds; reporter, source_/destination_ workload and
canonical service, response_code) and linkerd2-proxy's (request_total,
response_total, response_latency_ms; direction, deployment, dst_deployment,
status_code, classification). Expected quantiles use PromQL histogram_quantile's
linear interpolation, worked out by hand in the comments.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsim.calibrate import histogram_quantile, histogram_spec, read_prometheus
from meshsim.errors import MeshsimInputError
from meshsim.scenario import DistSpec

DATA = Path(__file__).resolve().parents[1] / "data" / "traces"


def test_istio_service_histogram_merges_response_codes() -> None:
    m = read_prometheus(DATA / "istio_metrics.prom")
    assert m.mesh == "istio"
    h = dict(m.service_histogram("cart"))
    # destination reporter only: 200s (500) + 503s (10)
    assert h[float("inf")] == 510
    assert h[0.025] == 380 + 3
    # p50: rank 255 in (10ms, 25ms] holding 40..383 -> 10 + 15 * (255 - 40) / 343 = 19.40 ms
    assert histogram_quantile(0.5, list(h.items())) == pytest.approx(0.010 + 0.015 * 215 / 343)


def test_istio_edges_counts_and_external_traffic() -> None:
    m = read_prometheus(DATA / "istio_metrics.prom", window_s=100)
    req = m.service_requests("cart")
    assert req == {"count": 510.0, "errors": 10.0, "rate_per_s": pytest.approx(5.1)}
    edges = m.edges().set_index(["source", "destination"])["count"].to_dict()
    # Istio reports each call twice (client and server side): counted once.
    assert edges[("frontend", "cart")] == 510
    assert edges[("frontend", "shipping")] == 300
    ext = m.external_requests().set_index("destination")
    assert list(ext.index) == ["frontend"]
    assert ext.loc["frontend", "rate_per_s"] == pytest.approx(10.05)
    # Client-side view of the edge: the source reporter's buckets.
    assert dict(m.edge_histogram("frontend", "cart"))[0.01] == 30


def test_linkerd_latency_and_errors_from_response_total() -> None:
    m = read_prometheus(DATA / "linkerd_metrics.prom")
    assert m.mesh == "linkerd"
    h = m.service_histogram("cart")
    assert h[-1] == (float("inf"), 500)
    # p90: rank 450 in (30, 40] ms holding 420..460 -> 30 + 10 * 30/40 = 37.5 ms
    assert histogram_quantile(0.9, h) == pytest.approx(0.0375)
    req = m.service_requests("cart")
    assert req["count"] == 510 and req["errors"] == 10  # status only on response_total
    assert m.external_requests().empty  # all of cart's traffic comes from frontend


def test_histogram_spec_is_cumulative_with_units_and_builds() -> None:
    m = read_prometheus(DATA / "linkerd_metrics.prom")
    spec = histogram_spec(m.service_histogram("cart"))
    b = spec["buckets"]
    # Leading empty buckets cut to the last one (the lower bound of the next); +Inf dropped
    # because the 200 ms bucket already holds every request.
    assert list(b) == ["3ms", "4ms", "5ms", "10ms", "20ms", "30ms", "40ms", "50ms", "100ms", "200ms"]
    assert list(b.values()) == sorted(b.values()) and b["200ms"] == 500
    dist = DistSpec.model_validate(spec).build()
    assert 0.015 < dist.mean() < 0.025


def test_rates_from_two_scrapes_with_timestamps_and_a_reset(tmp_path: Path) -> None:
    def scrape(total: int, bucket: int, ts_ms: int) -> str:
        labels = (
            'reporter="destination",source_workload="a",destination_workload="b-v1",destination_canonical_service="b"'
        )
        return (
            f'istio_requests_total{{{labels},response_code="200"}} {total} {ts_ms}\n'
            f'istio_request_duration_milliseconds_bucket{{{labels},le="10"}} {bucket} {ts_ms}\n'
            f'istio_request_duration_milliseconds_bucket{{{labels},le="+Inf"}} {total} {ts_ms}\n'
        )

    first = tmp_path / "s1.prom"
    second = tmp_path / "s2.prom"
    first.write_text(scrape(1000, 900, 1_700_000_000_000))
    second.write_text(scrape(1600, 1300, 1_700_000_060_000))
    m = read_prometheus([first, second])
    assert m.window_s == pytest.approx(60.0)
    assert m.service_requests("b")["rate_per_s"] == pytest.approx(10.0)  # 600 in 60 s
    assert dict(m.service_histogram("b"))[0.01] == 400  # increase, not the running total
    # A restart between scrapes: the counter goes down; count from the restart.
    second.write_text(scrape(300, 250, 1_700_000_060_000))
    m = read_prometheus([first, second])
    assert m.service_requests("b")["count"] == 300
    assert any("went down" in w for w in m.warnings)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "empty metrics file"),
        ('node_cpu_seconds_total{cpu="0"} 12\n', "no Istio"),
        ('istio_requests_total{reporter="source" 12\n', "not Prometheus text exposition"),
    ],
)
def test_bad_metrics_files(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "m.prom"
    p.write_text("# a comment\n" + text if text else "")
    with pytest.raises(MeshsimInputError) as err:
        read_prometheus(p)
    assert needle in err.value.problems[0].message
    assert err.value.problems[0].file == str(p)
    if "exposition" in needle:
        assert err.value.problems[0].line == 2
