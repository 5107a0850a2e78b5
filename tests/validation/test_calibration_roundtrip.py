"""Round trip of issue 9 ("How it is checked"): simulate a known scenario, export its traces,
calibrate from the files, and check that the recovered call graph is exact and that the
recovered scenario predicts p50/p99 per entry point within 10% of the original.

Sources: the scenario is models/online-boutique.yaml (the call graph of
github.com/GoogleCloudPlatform/microservices-demo); the files are OTLP/JSON
(opentelemetry-proto, ExportTraceServiceRequest) and Jaeger query-API JSON, written by
meshsim.calibrate.export and read back by meshsim.calibrate.read_traces. Probabilities are
checked against binomial sampling error (4 standard errors; 15 probabilities are checked, so
a false alarm has odds of about 1 in 1,000), latencies on the mean of per-replication
percentiles, as issue 9 asks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshsim import apply_overrides, load_scenario, simulate
from meshsim.calibrate import calibrate, read_traces, write_simulated_traces
from meshsim.units import parse_duration

MODEL = Path(__file__).resolve().parents[2] / "models" / "online-boutique.yaml"
RAW = yaml.safe_load(MODEL.read_text(encoding="utf-8"))["services"]
REPLICATIONS = 3
TRACE_SAMPLE = 0.1  # ~1,800 traced requests per replication; checkout (5%) is then seen ~270 times
TOLERANCE = 0.10  # issue 9: p50/p99 per entry within 10% of the original
UNLOADED = {"aws/us-east-1/a": 2, "aws/us-east-1/b": 2}  # 128 frontend workers: under 5% busy


def _steps(calls: list[Any]) -> list[list[dict[str, Any]]]:
    """A service's calls as ordered steps, each a list of {to, probability, count}."""
    out = []
    for step in calls:
        items = step["parallel"] if isinstance(step, dict) and "parallel" in step else [step]
        out.append(
            [
                {"to": i, "probability": 1.0, "count": 1}
                if isinstance(i, str)
                else {"to": i["to"], "probability": float(i.get("probability", 1.0)), "count": int(i.get("count", 1))}
                for i in items
            ]
        )
    return out


def _mean_metric(results: Any, workload: str, metric: str) -> float:
    t = results.metrics_table_si()
    sel = t[(t.scope == "workload") & (t.name == workload) & (t.metric == metric)]
    assert len(sel) == REPLICATIONS
    return float(sel["value"].mean())


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("roundtrip")
    # Calibration reads a service's time as its spans' self time, queueing included. The
    # model's frontend is its bottleneck (about 60% busy: waits add ~15% to its median), so
    # the round trip runs with the frontend's capacity raised until nothing queues: the check
    # is about the exporters and readers, not about separating queueing from work.
    unloaded = [("services.frontend.concurrency", 32), ("services.frontend.placement", UNLOADED)]
    original = apply_overrides(MODEL, unloaded)
    sim = simulate(original, REPLICATIONS, trace_sample=TRACE_SAMPLE)
    otlp, n_traces = write_simulated_traces(sim, tmp / "boutique.otlp.json.gz")
    jaeger, _ = write_simulated_traces(sim, tmp / "boutique.jaeger.json")
    from_otlp = calibrate([otlp], sample_rate=TRACE_SAMPLE, name="recovered", seed=5)
    from_jaeger = calibrate([jaeger], format="jaeger", sample_rate=TRACE_SAMPLE, name="recovered", seed=5)
    (tmp / "recovered.yaml").write_text(from_otlp.to_yaml(), encoding="utf-8")
    recovered = load_scenario(tmp / "recovered.yaml")  # the file a user gets, not the dict
    # The traces cover all replications end to end (180 s); the latency comparison only
    # needs the original's run length, which keeps the test fast.
    rec = simulate(
        recovered.model_copy(update={"duration": original.duration, "warmup": original.warmup}), REPLICATIONS
    )
    return {
        "original": original,
        "sim": sim,
        "traces": n_traces,
        "otlp": from_otlp,
        "jaeger": from_jaeger,
        "recovered": recovered,
        "rec": rec,
        "tmp": tmp,
    }


def test_files_hold_every_sampled_request(roundtrip: dict[str, Any]) -> None:
    spans = roundtrip["sim"].spans()
    assert roundtrip["traces"] == spans["trace_id"].nunique() > 4000
    back = read_traces([roundtrip["tmp"] / "boutique.otlp.json.gz"])
    assert len(back) == len(spans)
    assert not back.attrs["warnings"], back.attrs["warnings"]


def test_call_graph_is_exact(roundtrip: dict[str, Any]) -> None:
    got = roundtrip["otlp"].scenario["services"]
    assert set(got) == set(RAW)
    requests = {n: roundtrip["otlp"].analysis.graph.nodes[n]["requests"] for n in got}
    for name, svc in RAW.items():
        want, have = _steps(svc.get("calls", [])), _steps(got[name].get("calls", []))
        # same steps in the same order, with the same callees in each parallel group
        assert [sorted(i["to"] for i in s) for s in have] == [sorted(i["to"] for i in s) for s in want], name
        for w_step, h_step in zip(want, have, strict=True):
            h_by = {i["to"]: i for i in h_step}
            for w in w_step:
                h = h_by[w["to"]]
                assert h["count"] == w["count"], (name, w["to"])
                p, n = w["probability"], requests[name]
                se = math.sqrt(max(p * (1 - p), 1e-12) / n)
                # a probability >= 0.995 is written as a plain call
                assert abs(h["probability"] - p) <= max(4 * se, 0.005), (name, w["to"], h["probability"], p, n)
    edges = {(a, c) for a, s in RAW.items() for step in _steps(s.get("calls", [])) for c in (i["to"] for i in step)}
    assert set(roundtrip["otlp"].graph.edges) == edges


def test_jaeger_gives_the_same_scenario(roundtrip: dict[str, Any]) -> None:
    a, b = roundtrip["otlp"].scenario, roundtrip["jaeger"].scenario
    for name, svc in a["services"].items():
        assert b["services"][name].get("calls") == svc.get("calls"), name
        assert b["services"][name]["service_time"]["dist"] == svc["service_time"]["dist"]
    assert b["workload"] == a["workload"]


def test_service_times_and_rate_are_recovered(roundtrip: dict[str, Any]) -> None:
    got = roundtrip["otlp"].scenario["services"]
    prov = roundtrip["otlp"].provenance
    for name, svc in RAW.items():
        n = prov[f"services.{name}.service_time"]["n"]
        st = got[name]["service_time"]
        assert st["dist"] == "lognormal", (name, st)
        # the median of a lognormal sample of n has a standard error of about 1.25 sigma / sqrt(n)
        true_median = parse_duration(svc["service_time"]["median"])
        sigma = math.log(parse_duration(svc["service_time"]["p99"]) / true_median) / 2.326
        assert parse_duration(st["median"]) == pytest.approx(
            true_median, rel=max(0.03, 5 * 1.25 * sigma / math.sqrt(n))
        ), name
    rate = float(roundtrip["otlp"].scenario["workload"][0]["rate"].removesuffix("/s"))
    assert rate == pytest.approx(300, rel=0.05)


@pytest.mark.parametrize("metric", ["latency_p50", "latency_p99"])
def test_recovered_scenario_predicts_entry_latency(roundtrip: dict[str, Any], metric: str) -> None:
    want = _mean_metric(roundtrip["sim"], "browse", metric)
    got = _mean_metric(roundtrip["rec"], "frontend", metric)
    print(f"{metric}: original {want * 1e3:.2f} ms, recovered {got * 1e3:.2f} ms ({(got - want) / want:+.1%})")
    assert abs(got - want) <= TOLERANCE * want, f"{metric}: original {want * 1e3:.2f} ms, recovered {got * 1e3:.2f} ms"


def test_without_the_hop_overhead_the_twin_is_far_too_fast(roundtrip: dict[str, Any]) -> None:
    """Why calibration writes mesh.proxy_overhead: each call's network and sidecar time sits in
    the client span, outside both services' self time. Left out, the twin is ~50% too fast."""
    bare = roundtrip["recovered"].model_copy(
        update={
            "duration": roundtrip["original"].duration,
            "warmup": roundtrip["original"].warmup,
            "mesh": roundtrip["recovered"].mesh.model_copy(update={"proxy_overhead": None}),
        }
    )
    want = _mean_metric(roundtrip["sim"], "browse", "latency_p50")
    got = _mean_metric(simulate(bare, REPLICATIONS), "frontend", "latency_p50")
    assert got < (1 - 2 * TOLERANCE) * want, f"original {want * 1e3:.2f} ms, without overhead {got * 1e3:.2f} ms"
