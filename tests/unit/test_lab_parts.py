"""meshsim lab parts that run without Traefik: a backend process, the arrivals, the counters, the supervisor.

The backend runs as the lab starts it (``python -m meshsim.lab._backend``) on 127.0.0.1, is
sent a bounded number of requests, and is stopped by the supervisor.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from aiohttp import ClientSession, ClientTimeout

from meshsim.lab._loadgen import arrival_offsets
from meshsim.lab._plan import WorkloadPlan
from meshsim.lab._processes import Supervisor, free_ports
from meshsim.lab._protocol import BACKEND_HEADER, CAUSE_HEADER, BackendConfig, classify


def backend_config(tmp_path: Path, service_time_s: float = 0.0, **over) -> tuple[Path, int]:
    port = free_ports(1)[0]
    samples = tmp_path / "samples.f64"
    np.full(16, service_time_s).tofile(samples)
    fields = {"concurrency": 4, "response_bytes": 100, **over}
    cfg = BackendConfig(
        name="b0",
        port=port,
        traefik_url="http://127.0.0.1:9",
        samples_file=str(samples),
        seed=5,
        max_lifetime_s=60.0,
        **fields,
    )
    return cfg.write(tmp_path / "b0.json"), port


async def _wait_ready(session: ClientSession, base: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            async with session.get(base + "/__lab/ready", timeout=ClientTimeout(total=1)) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "backend did not start"
        await asyncio.sleep(0.05)


def run_backend(tmp_path: Path, scenario, **cfg):
    path, port = backend_config(tmp_path, **cfg)
    base = f"http://127.0.0.1:{port}"

    async def go():
        async with ClientSession() as session:
            await _wait_ready(session, base)
            return await scenario(session, base)

    with Supervisor(tmp_path) as sup:
        proc = sup.start("b0", [sys.executable, "-m", "meshsim.lab._backend", str(path)])
        out = asyncio.run(go())
    assert proc.poll() is not None, "the supervisor stops the backend"
    return out


async def _statuses(session: ClientSession, base: str, n: int) -> list[tuple[int, str | None]]:
    async def one():
        async with session.get(base + "/", timeout=ClientTimeout(total=10)) as resp:
            await resp.read()
            assert resp.headers[BACKEND_HEADER] == "b0"
            return resp.status, resp.headers.get(CAUSE_HEADER)

    return list(await asyncio.gather(*(one() for _ in range(n))))


def test_backend_answers_errors_with_their_status_codes(tmp_path):
    n = 600

    async def scenario(session, base):
        now = asyncio.get_running_loop().time()
        async with session.post(base + "/__lab/window", json={"from": now, "until": now + 600}) as r:
            assert r.status == 200
        got = await _statuses(session, base, n)
        async with session.get(base + "/__lab/stats") as r:
            return got, await r.json()

    got, stats = run_backend(tmp_path, scenario, error_codes=[[503, 0.3]])
    bad = sum(1 for status, cause in got if status == 503 and cause == "error")
    assert {s for s, _ in got} <= {200, 503}
    # binomial(600, 0.3): 4 standard errors either side
    assert abs(bad / n - 0.3) < 4 * math.sqrt(0.3 * 0.7 / n)
    assert stats["received"] == n and stats["served"] == n
    assert stats["outcomes"] == {"ok": n - bad, "error": bad}


def test_backend_queue_limit_and_fault_switch(tmp_path):
    async def scenario(session, base):
        # one worker busy 300 ms, no waiting room: the others are refused at once with 503 overflow
        first = await _statuses(session, base, 4)
        async with session.post(base + "/__lab/fault", json={"id": 0, "on": True, "error_rate": 1.0}) as r:
            assert r.status == 200
        during = await _statuses(session, base, 2)
        async with session.post(base + "/__lab/fault", json={"id": 0, "on": False}) as r:
            assert r.status == 200
        after = await _statuses(session, base, 1)
        return first, during, after

    first, during, after = run_backend(tmp_path, scenario, concurrency=1, queue_limit=0, service_time_s=0.3)
    assert sorted(first) == [(200, None), (503, "overflow"), (503, "overflow"), (503, "overflow")]
    assert sorted(during) == [(500, "error"), (503, "overflow")]
    assert after == [(200, None)]


def test_classify_answers_by_who_produced_them():
    assert classify(200, None, False) is None
    assert classify(500, "error", False) == "error"
    assert classify(500, "timeout", False) == "timeout"  # a dependency's cause, passed up
    assert classify(503, "overflow", False) == "overflow"  # the backend's queue was full
    assert classify(502, None, False) == "connect_failure"  # Traefik could not connect
    assert classify(504, None, False) == "timeout"
    assert classify(503, None, True, b"Service Unavailable") == "overflow"  # the breaker's fallback
    assert classify(503, None, True, b"No available server") == "no_endpoint"  # an empty server list
    assert classify(503, None, False) == "no_endpoint"
    assert classify(429, None, False) == "rate_limited"


def test_poisson_arrivals_match_the_rate_and_the_steps():
    w = WorkloadPlan("w", "api", True, ((0.0, 200.0), (5.0, 50.0)), None, 0, 0.0, False)
    times = list(arrival_offsets(w, 10.0, np.random.default_rng(1)))
    assert times == sorted(times) and times[-1] < 10.0
    first = sum(1 for t in times if t < 5.0)
    second = len(times) - first
    # Poisson counts: mean = variance = rate x 5 s; 4 standard deviations
    assert abs(first - 1000) < 4 * math.sqrt(1000)
    assert abs(second - 250) < 4 * math.sqrt(250)
    constant = list(arrival_offsets(WorkloadPlan("c", "api", False, ((0.0, 10.0),), None, 0, 0.0, False), 1.0, None))
    # one every 1/rate s; the last may fall a rounding error short of the horizon
    assert constant[:9] == pytest.approx([0.1 * k for k in range(1, 10)])
    assert np.diff(constant) == pytest.approx(np.full(len(constant) - 1, 0.1))


def test_tries_are_read_from_traefiks_per_try_counter(tmp_path):
    from meshsim import load_scenario
    from meshsim.lab import plan_lab
    from meshsim.lab._traefik import tries_by_service

    root = Path(__file__).resolve().parents[2]
    plan = plan_lab(load_scenario(root / "models" / "lab" / "canary.yaml"))
    text = "\n".join(
        [
            "# TYPE traefik_service_requests_total counter",
            'traefik_service_requests_total{code="200",method="GET",protocol="http",service="api--v1@file"} 90',
            'traefik_service_requests_total{code="502",method="GET",protocol="http",service="api--v1@file"} 3',
            'traefik_service_requests_total{code="200",method="GET",protocol="http",service="api--v2@file"} 10',
            'traefik_service_requests_total{code="200",method="GET",protocol="http",service="api@file"} 100',
        ]
    )
    # the weighted parent counts requests; its load balancers count every try
    assert tries_by_service(text, plan) == {"api": 103.0}


def test_supervisor_stops_children_on_error(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), Supervisor(tmp_path) as sup:
        proc = sup.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
        assert sup.alive("sleeper")
        raise RuntimeError("boom")
    assert proc.poll() is not None


def _fake_run(plan, replication: int, ok: int, errors: int, served: dict[str, int], tries: float):
    from meshsim.lab._calibration import Calibration
    from meshsim.lab._live import LiveReplication
    from meshsim.lab._loadgen import WorkloadTally

    tally = WorkloadTally(requests=ok + errors, ok=ok, failed={"error": errors} if errors else {})
    for k in range(ok + errors):
        tally.latency.add(0.005 + 0.001 * (k % 7))
    backends = {b.name: {"received": served[b.name], "served": served[b.name], "outcomes": {}} for b in plan.backends}
    cal = Calibration([0.0004], [0.001], 100.0)
    return LiveReplication(
        replication, plan.duration_s, {"users": tally}, {"api": tries}, {}, backends, cal, ok + errors
    )


def test_prediction_runs_on_the_calibration_and_scores_counts():
    from meshsim import load_scenario, simulate
    from meshsim.lab import plan_lab
    from meshsim.lab._calibration import Calibration
    from meshsim.lab._compare import comparison_rows, predicted_scenario, predicted_shares

    root = Path(__file__).resolve().parents[2]
    plan = plan_lab(load_scenario(root / "models" / "lab" / "retry-503.yaml"), duration_s=20.0, warmup_s=1.0)
    cal = Calibration([0.0004] * 50, [0.0010] * 50, 100.0)
    sc = predicted_scenario(plan, cal, {("api", "good"): 0.001, ("api", "bad"): 0.0})
    assert (sc.duration, sc.warmup) == (20.0, 1.0)
    assert sc.network.same_zone.dist == "empirical" and set(sc.network.same_zone.samples) == {0.0002}
    assert sc.network.links == [] and sc.network.cross_cloud == sc.network.same_zone
    assert sc.mesh.proxy_overhead.samples == pytest.approx([0.0006] * 50)
    added = [f for f in sc.faults if f.kind == "latency"]
    assert [(f.target, f.at, f.duration) for f in added] == [("api/good", 0.0, None)]
    results = simulate(sc, 4, executor="serial", trace_sample=1.0)
    shares = predicted_shares(plan, results)
    assert len(shares["api"]) == 4 and all(sum(c.values()) > 1000 for c in shares["api"])

    # live runs that look like theory (15% errors, one try per request, 50/50) are within;
    # runs with twice the errors and skewed shares are not
    good = [_fake_run(plan, r, 1700, 300, {"api-good-0": 1000, "api-bad-0": 1000}, 2000.0) for r in range(3)]
    rows = {(r["metric"], r["target"]): r for r in comparison_rows(plan, good, results, shares)}
    assert rows[("error_rate", None)]["within"]
    assert rows[("attempts_per_request", "api")]["within"]
    assert rows[("share_of_tries", "api/bad")]["within"]
    bad = [_fake_run(plan, r, 1400, 600, {"api-good-0": 1300, "api-bad-0": 700}, 2300.0) for r in range(3)]
    rows = {(r["metric"], r["target"]): r for r in comparison_rows(plan, bad, results, shares)}
    assert not rows[("error_rate", None)]["within"]
    assert not rows[("attempts_per_request", "api")]["within"]
    assert not rows[("share_of_tries", "api/bad")]["within"]
    assert rows[("error_rate", None)]["measured"] == pytest.approx(0.3)
    assert rows[("error_rate", None)]["measured_sd"] == 0.0 and rows[("error_rate", None)]["runs"] == 3


def test_share_groups_are_versions_or_replicas_matched_to_the_engines_replicas():
    from meshsim import load_scenario, simulate
    from meshsim.lab import plan_lab
    from meshsim.lab._compare import predicted_shares, share_groups

    root = Path(__file__).resolve().parents[2]
    canary = plan_lab(load_scenario(root / "models" / "lab" / "canary.yaml"))
    assert share_groups(canary, "api") == {"api/v1": ("api-v1-0", "api-v1-1"), "api/v2": ("api-v2-0",)}
    down = plan_lab(load_scenario(root / "models" / "lab" / "down-backoff.yaml"))
    assert share_groups(down, "api") == {}  # which replica crashes is drawn at random, live and simulated
    baseline = plan_lab(load_scenario(root / "models" / "lab" / "baseline.yaml"), duration_s=5.0)
    assert share_groups(baseline, "api") == {"api-0": ("api-0",), "api-1": ("api-1",)}
    results = simulate(baseline.scenario.model_copy(update={"duration": 5.0}), 2, trace_sample=1.0)
    for counts in predicted_shares(baseline, results)["api"]:
        # round robin over two replicas: every served try is named, half each
        assert set(counts) == {"api-0", "api-1"}
        assert abs(counts["api-0"] - counts["api-1"]) <= 2
