"""`meshsim calibrate`, `meshsim twin-check` and `meshsim run --traces`, through the entry point,
plus the library pieces behind them: the hop-overhead fit, the twin check at the observed
load, the observed percentiles' intervals and the export of simulated traces."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from meshsim import load_scenario, simulate
from meshsim.calibrate import analyse_spans, calibrate, detect_format, read_traces, synthetic_spans
from meshsim.calibrate._overhead import (
    MIN_HOP_SAMPLES,
    fit_hop_overhead,
    hop_overhead_samples,
)
from meshsim.calibrate._runtraces import TRACE_EPOCH_S, simulated_spans, trace_format_for
from meshsim.calibrate._twincheck import (
    at_observed_load,
    observed_load,
    quantile_interval,
    twin_check,
)
from meshsim.cli import main
from meshsim.errors import MeshsimInputError
from meshsim.units import parse_duration

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "traces"
SAMPLE = 0.5

TINY = {
    "name": "tiny-shop",
    "seed": 3,
    "duration": "20s",
    "warmup": "2s",
    "mesh": {"proxy": "envoy"},
    "services": {
        "web": {
            "replicas": 2,
            "concurrency": 16,
            "service_time": {"dist": "lognormal", "median": "2ms", "p99": "10ms"},
            "calls": [{"parallel": ["catalog", {"to": "cart", "probability": 0.5}]}],
        },
        "catalog": {
            "replicas": 1,
            "concurrency": 8,
            "service_time": {"dist": "lognormal", "median": "1ms", "p99": "5ms"},
        },
        "cart": {"replicas": 1, "concurrency": 8, "service_time": {"dist": "exponential", "mean": "1ms"}},
    },
    "workload": [{"name": "users", "entry": "web", "rate": "100/s"}],
}


def meshsim_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshsim", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiny shop simulated with `meshsim run --traces`, then calibrated with `meshsim calibrate`."""
    tmp = tmp_path_factory.mktemp("shop")
    scenario = tmp / "shop.yaml"
    scenario.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    traces = tmp / "shop-traces.json"
    run = meshsim_cli("run", scenario, "--traces", traces, "--trace-sample", SAMPLE, "--no-progress")
    twin = tmp / "twin.yaml"
    cal = meshsim_cli("calibrate", traces, "--sample-rate", SAMPLE, "-o", twin)
    return {"tmp": tmp, "scenario": scenario, "traces": traces, "run": run, "twin": twin, "cal": cal}


# --------------------------------------------------------------------------- entry point


def test_run_exports_otlp_that_calibrate_turns_into_a_scenario(shop: dict[str, Any]) -> None:
    assert shop["run"].returncode == 0, shop["run"].stderr
    assert "calibrate with --sample-rate 0.5" in shop["run"].stderr
    doc = json.loads(shop["traces"].read_text())
    assert detect_format(doc) == "otlp"
    assert shop["cal"].returncode == 0, shop["cal"].stderr
    assert "calibrated twin: 3 service(s), 2 call edge(s), 1 entry point(s)" in shop["cal"].stderr
    text = shop["twin"].read_text()
    assert text.startswith("# Calibrated by `meshsim calibrate`")
    sc = load_scenario(shop["twin"])
    assert sc.name == "twin"
    (step,) = sc.services["web"].calls
    probs = {c.to: c.probability for c in step.parallel}
    assert probs["catalog"] == 1.0
    assert probs["cart"] == pytest.approx(0.5, abs=4 * math.sqrt(0.25 / (2000 * SAMPLE)))
    assert sc.workload[0].rate == pytest.approx(100, rel=0.1)
    assert sc.mesh.proxy_overhead is not None  # the envoy hops are in the twin
    assert "half of the hop overhead" in text


def test_twin_check_passes_on_the_twin(shop: dict[str, Any]) -> None:
    out = shop["tmp"] / "check.json"
    r = meshsim_cli(
        "twin-check", shop["twin"], shop["traces"], "--sample-rate", SAMPLE, "-n", 2, "--json", out, "--no-progress"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "twin matches" in r.stdout
    assert "load at web: simulated" in r.stdout
    data = json.loads(out.read_text())
    assert data["verdict"]["ok"] is True and data["verdict"]["failed"] == 0
    assert data["tolerance"] == 0.1 and data["replications"] == 2
    rows = {(c["scope"], c["name"], c["metric"]): c for c in data["comparison"]}
    p50 = rows[("entry", "web", "p50_ms")]
    assert p50["checked"] and abs(p50["predicted"] - p50["observed"]) <= p50["allowed"]
    assert data["load"][0]["observed_rate"] == pytest.approx(100, rel=0.1)


def test_twin_check_fails_on_a_wrong_scenario(shop: dict[str, Any]) -> None:
    wrong = yaml.safe_load(shop["twin"].read_text())
    wrong["services"]["catalog"]["service_time"] = {"dist": "lognormal", "median": "4ms", "p99": "20ms"}
    path = shop["tmp"] / "wrong.yaml"
    path.write_text(yaml.safe_dump(wrong), encoding="utf-8")
    out = shop["tmp"] / "wrong.json"
    r = meshsim_cli("twin-check", path, shop["traces"], "--sample-rate", "50%", "--json", out, "--no-progress")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "does NOT match" in r.stdout
    failed = [c for c in json.loads(out.read_text())["comparison"] if c["checked"] and not c["within_tolerance"]]
    assert {("service", "catalog", "p50_ms"), ("entry", "web", "p50_ms")} <= {
        (c["scope"], c["name"], c["metric"]) for c in failed
    }


@pytest.mark.parametrize("command", ["calibrate", "twin-check"])
@pytest.mark.parametrize("content", ["empty", "not traces"])
def test_bad_trace_files_exit_2_with_the_file_name(tmp_path: Path, command: str, content: str) -> None:
    bad = tmp_path / ("empty.json" if content == "empty" else "prices.json")
    bad.write_text("" if content == "empty" else json.dumps({"items": [{"sku": 1, "price": 9.5}]}))
    args = ["calibrate", bad] if command == "calibrate" else ["twin-check", ROOT / "models" / "minimal.yaml", bad]
    r = meshsim_cli(*args)
    assert r.returncode == 2
    assert str(bad) in r.stderr
    assert ("empty file" if content == "empty" else "not a trace file") in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_run_writes_jaeger_when_the_name_says_so(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(dict(TINY, duration="3s")), encoding="utf-8")
    out = tmp_path / "traces.jaeger.json.gz"
    r = meshsim_cli("run", scenario, "--traces", out, "--trace-sample", "0.2", "--no-progress")
    assert r.returncode == 0, r.stderr
    doc = json.loads(gzip.decompress(out.read_bytes()))
    assert detect_format(doc) == "jaeger"
    assert read_traces([out])["service"].nunique() == 3


# --------------------------------------------------------------------------- in-process CLI: bad input


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["calibrate"], "give trace files"),
        (["calibrate", "no/such/file.json"], "no/such/file.json: trace file not found"),
        (["calibrate", str(DATA / "otlp_shop.json"), "--format", "zipkin"], "looks like otlp"),
        (["twin-check", "no-such.yaml", str(DATA / "otlp_shop.json")], "no-such.yaml"),
        (["twin-check", str(ROOT / "models" / "minimal.yaml"), str(DATA / "otlp_shop.json")], "share no service"),
        (
            ["twin-check", str(ROOT / "models" / "minimal.yaml"), str(DATA / "otlp_shop.json"), "-n", "0"],
            "--replications",
        ),
    ],
)
def test_bad_input_is_one_message_and_exit_2(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


@pytest.mark.parametrize("option", [["--tolerance", "abc"], ["--tolerance", "-5%"], ["--sample-rate", "2"]])
def test_bad_option_values_exit_2(option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["twin-check", str(ROOT / "models" / "minimal.yaml"), str(DATA / "otlp_shop.json"), *option])
    assert exc.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_calibrate_to_stdout_with_warnings_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", str(DATA / "otlp_shop.json"), "--name", "shop"]) == 0
    out, err = capsys.readouterr()
    assert yaml.safe_load(out)["name"] == "shop"
    assert "calibrated shop:" in err


# --------------------------------------------------------------------------- hop overhead


def test_hop_overhead_fit_recovers_one_traversal() -> None:
    rng = np.random.default_rng(5)
    sigma = math.log(2.5 / 0.6) / 2.326  # envoy's default: median 0.6 ms, p99 2.5 ms
    x = 0.6e-3 * np.exp(sigma * rng.standard_normal((2, 20_000)))
    hop = fit_hop_overhead(x.sum(axis=0))
    assert hop is not None and hop.spec["dist"] == "lognormal"
    assert hop.params["median_s"] == pytest.approx(0.6e-3, rel=0.05)
    assert hop.params["sigma"] == pytest.approx(sigma, rel=0.05)
    assert parse_duration(hop.spec["p99"]) == pytest.approx(2.5e-3, rel=0.08)


def test_hop_overhead_needs_samples_and_keeps_a_constant() -> None:
    assert fit_hop_overhead(np.full(MIN_HOP_SAMPLES - 1, 1e-3)) is None
    assert fit_hop_overhead(np.zeros(100)) is None
    assert fit_hop_overhead(np.full(100, 1e-3)).spec == "500us"


def _span(tid: str, sid: str, parent: str | None, svc: str, kind: str, start: float, dur: float) -> dict[str, Any]:
    return {
        "trace_id": tid,
        "span_id": sid,
        "parent_id": parent,
        "service": svc,
        "kind": kind,
        "start_s": start,
        "duration_s": dur,
        "name": kind,
    }


def test_hop_samples_leave_out_retried_calls_and_skew() -> None:
    rows = [
        _span("t1", "a", None, "web", "server", 0.0, 0.010),
        _span("t1", "b", "a", "web", "client", 0.001, 0.004),
        _span("t1", "c", "b", "api", "server", 0.002, 0.003),  # one attempt: hop 1 ms
        _span("t1", "d", "a", "web", "client", 0.005, 0.004),
        _span("t1", "e", "d", "api", "server", 0.006, 0.001),  # two attempts (a retry): left out
        _span("t1", "f", "d", "api", "server", 0.007, 0.001),
        _span("t1", "g", "a", "web", "client", 0.009, 0.001),
        _span("t1", "h", "g", "api", "server", 0.009, 0.002),  # server longer than client: skew
    ]
    h, negative = hop_overhead_samples(pd.DataFrame(rows))
    assert h.tolist() == pytest.approx([0.001])
    assert negative == 1


def test_calibrate_writes_the_hop_overhead_and_a_silent_network() -> None:
    services = {"web": {"service_time": "2ms", "calls": ["api"]}, "api": {"service_time": "1ms"}}
    spans = synthetic_spans(services, [{"entry": "web", "rate": 50}], 5, np.random.default_rng(2), network_s=0.0005)
    r = calibrate(spans=spans)
    assert r.scenario["mesh"]["proxy_overhead"] == "500us"  # 2 x 0.5 ms per call, in two traversals
    assert r.scenario["network"] == {"same_zone": "0ms"}
    assert r.provenance["mesh.proxy_overhead"]["n"] == (spans["kind"] == "client").sum()
    assert list(r.scenario).index("network") < list(r.scenario).index("mesh") < list(r.scenario).index("services")
    twin = load_scenario(r.scenario)
    assert twin.network.same_zone.build().is_zero


# --------------------------------------------------------------------------- twin check pieces


def test_quantile_interval_covers_the_true_quantile() -> None:
    rng = np.random.default_rng(9)
    true_p90 = -math.log(0.1)  # exponential(1)
    trials = 600
    hits = sum(
        lo <= true_p90 <= hi
        for lo, hi in (quantile_interval(rng.exponential(size=300), 0.9, 2.576) for _ in range(trials))
    )
    assert hits / trials >= 0.97  # a 99% interval; binomial noise on 600 trials is ~0.4%
    lo, hi = quantile_interval(np.arange(1000.0), 0.5, 2.576)
    assert lo < 500 < hi and hi - lo < 100


def test_observed_load_scales_the_workloads_and_keeps_the_profile_shape() -> None:
    spans = synthetic_spans(
        {"web": {"service_time": "1ms"}}, [{"entry": "web", "rate": 40}], 30, np.random.default_rng(1)
    )
    load = observed_load(analyse_spans(spans), sample_rate=0.5)
    assert load["rate"].iloc[0] == pytest.approx(80, rel=0.1)
    sc = load_scenario(
        {
            "name": "s",
            "duration": "20s",
            "warmup": "0s",
            "services": {"web": {"service_time": "1ms"}},
            "workload": [
                {"name": "a", "entry": "web", "rate": 10, "profile": [{"at": "10s", "rate": 30}]},
                {"name": "b", "entry": "web", "rate": 20},
            ],
        }
    )
    warnings: list[str] = []
    new, table = at_observed_load(sc, load, warnings)
    factor = load["rate"].iloc[0] / 40  # the scenario's mean rate: (10 + 30) / 2 + 20
    assert table["scenario_rate"].iloc[0] == pytest.approx(40)
    assert new.workload[0].rate == pytest.approx(10 * factor)
    assert new.workload[0].profile[0].rate == pytest.approx(30 * factor)
    assert new.workload[1].rate == pytest.approx(20 * factor)
    assert not warnings


def test_twin_check_library_and_the_entry_basis() -> None:
    sc = load_scenario(dict(TINY, duration="10s"))
    res = simulate(sc, 1, trace_sample=1.0)
    tc = twin_check(sc, spans=simulated_spans(res), replications=1)
    assert tc.ok, tc.table[~tc.table["within_tolerance"] & tc.table["checked"]]
    assert tc.predicted.set_index(["scope", "name"]).loc[("entry", "web"), "basis"] == "server"
    d = tc.to_dict()
    assert json.dumps(d, allow_nan=False) and d["verdict"]["ok"]
    with pytest.raises(MeshsimInputError, match="tolerance"):
        twin_check(sc, spans=res.spans(), tolerance=0)


def test_simulated_spans_lie_end_to_end() -> None:
    sc = load_scenario(dict(TINY, duration="4s", warmup="1s"))
    res = simulate(sc, 2, trace_sample=0.3, executor="serial")
    spans = simulated_spans(res)
    roots = spans[spans["parent_id"].isna()]
    for rep, lo in ((0, 0.0), (1, 4.0)):
        starts = roots.loc[roots["replication"] == rep, "start_s"]
        assert starts.min() >= lo and starts.max() <= lo + 4.0
    assert trace_format_for("a/b.json") == "otlp"
    assert trace_format_for("run.zipkin.json.gz") == "zipkin"
    assert trace_format_for("run.json", "jaeger") == "jaeger"
    with pytest.raises(MeshsimInputError):
        trace_format_for("run.json", "xml")
    assert TRACE_EPOCH_S == 1_704_067_200.0


def test_rare_calls_in_sequence_keep_their_order() -> None:
    """Offsets mislead here (b usually comes late, c early); requests making both show b first."""
    rows: list[dict[str, Any]] = []

    def request(tid: str, calls: list[tuple[str, float]]) -> None:
        rows.append(_span(tid, f"{tid}-r", None, "web", "server", 0.0, 0.010))
        for i, (svc, at) in enumerate(calls):
            rows.append(_span(tid, f"{tid}-{i}", f"{tid}-r", svc, "server", at, 0.001))

    for k in range(10):
        request(f"b{k}", [("b", 0.005)])
        request(f"c{k}", [("c", 0.001)])
    for k in range(3):
        request(f"bc{k}", [("b", 0.001), ("c", 0.003)])
    a = analyse_spans(pd.DataFrame(rows))
    assert a.graph.edges["web", "b"]["median_offset_s"] > a.graph.edges["web", "c"]["median_offset_s"]
    from meshsim.calibrate import call_steps

    assert [s["to"] for s in call_steps(a.graph, "web")] == ["b", "c"]


def test_calibrate_cli_with_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shop.yaml"
    code = main(
        [
            "calibrate",
            str(DATA / "otlp_shop.json"),
            "--metrics",
            str(DATA / "istio_metrics.prom"),
            "--metrics-window",
            "100s",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "warning(s):" in err and "only in metrics" in err
    sc = yaml.safe_load(out.read_text())
    assert sc["name"] == "shop" and sc["mesh"]["proxy"] == "envoy"
    assert sc["services"]["shipping"]["service_time"]["dist"] == "histogram"


def test_zones_in_the_spans_split_proxy_and_network_time() -> None:
    """Spans with cloud/region/zone: same-zone calls give the proxy traversal, cross-zone calls the
    one-way network latency on top (X1 + X2 + Y1 + Y2 per call, as the engine spends it)."""
    rng = np.random.default_rng(12)
    n = 3000
    x = 0.5e-3 * np.exp(0.5 * rng.standard_normal((4, n)))  # proxy traversals, two per call
    y = 1.0e-3 * np.exp(0.3 * rng.standard_normal((2, n)))  # one-way cross-zone legs
    rows: list[dict[str, Any]] = []
    for i in range(n):
        t0, tid = i * 0.01, f"{i:032x}"
        web = {"location": "aws/us-east-1/a", "instance": "web-1"}
        same_hop, cross_hop = x[0, i] + x[1, i], x[2, i] + x[3, i] + y[0, i] + y[1, i]
        rows += [
            dict(_span(tid, f"{i}r", None, "web", "server", t0, 0.010), **web),
            dict(_span(tid, f"{i}c1", f"{i}r", "web", "client", t0 + 0.001, 0.001 + same_hop), **web),
            dict(
                _span(tid, f"{i}s1", f"{i}c1", "api", "server", t0 + 0.0012, 0.001),
                location="aws/us-east-1/a",
                instance="api-1",
            ),
            dict(_span(tid, f"{i}c2", f"{i}r", "web", "client", t0 + 0.005, 0.001 + cross_hop), **web),
            dict(
                _span(tid, f"{i}s2", f"{i}c2", "db", "server", t0 + 0.0055, 0.001),
                location="aws/us-east-1/b",
                instance="db-1",
            ),
        ]
    r = calibrate(spans=pd.DataFrame(rows))
    s = r.scenario
    assert s["locations"] == {"aws": {"us-east-1": ["a", "b"]}}
    proxy, cross = s["mesh"]["proxy_overhead"], s["network"]["cross_zone"]
    assert parse_duration(proxy["median"]) == pytest.approx(0.5e-3, rel=0.06)
    assert parse_duration(cross["median"]) == pytest.approx(1.0e-3, rel=0.08)
    assert s["network"]["same_zone"] == "0ms"
    assert "3,000 cross-zone calls" in r.provenance["network.cross_zone"]["comment"]
    assert "same-zone calls" in r.provenance["mesh.proxy_overhead"]["comment"]
