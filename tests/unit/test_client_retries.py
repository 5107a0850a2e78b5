"""Client retries in the engine: a caller's SDK around its calls, counting by layer, decisions in time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshsim import load_scenario, simulate
from meshsim.engine._clients import RetryBreaker, RetryQuota, RetryThrottle, RetryTokenBucket
from meshsim.errors import MeshsimInputError
from tests.unit.test_bad_input import check_bad


def _two_tier(client: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    sc: dict[str, Any] = {
        "name": "sdk",
        "seed": 5,
        "duration": "40s",
        "warmup": "5s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {
            "front": {"service_time": "1ms", "concurrency": 1000, "calls": ["back"]},
            "back": {"service_time": "1ms", "concurrency": 1000, "error_rate": 0.5},
        },
        "workload": [{"name": "w", "entry": "front", "rate": 100}],
    }
    if client is not None:
        sc["policies"] = {"back": {"client": client}}
    sc.update(extra)
    return sc


def test_sdk_retries_wrap_the_callers_calls_and_count_as_sdk_retries() -> None:
    out = simulate(load_scenario(_two_tier({"retries": 2})), 2, executor="serial").to_dict()
    back = out["services"]["back"]
    calls = out["workloads"]["w"]["requests"]
    # each call to back is tried 1 + p + p^2 = 1.75 times on average (p = 0.5)
    assert back["attempts"] / calls == pytest.approx(1.75, rel=0.05)
    layers = back["retries_by_layer"]
    assert layers["sdk"]["decided"] == pytest.approx(back["attempts"] - calls, rel=0.02)
    assert layers["mesh"] == {"decided": 0, "ended": 0}
    assert layers["user"] == {"decided": 0, "ended": 0}
    assert back["retries"] == 0  # the mesh proxies' own retries: none here
    # the end user sees the SDK's last answer: 0.5^3 of requests fail
    assert out["workloads"]["w"]["error_rate"] == pytest.approx(0.125, abs=0.02)


def test_user_retries_count_by_layer_and_in_the_workload() -> None:
    sc = _two_tier()
    sc["workload"][0]["client"] = {"retries": 1}
    out = simulate(load_scenario(sc), 1, executor="serial").to_dict()
    w = out["workloads"]["w"]
    assert w["retries"]["decided"] > 0
    assert abs(w["retries"]["decided"] - w["retries"]["ended"]) <= 5  # only the window's edges differ
    front = out["services"]["front"]
    assert front["retries_by_layer"]["user"]["decided"] == w["retries"]["decided"]
    assert out["services"]["back"]["retries_by_layer"]["user"]["decided"] == 0


def test_results_json_has_no_layer_keys_without_client_retries() -> None:
    out = simulate(load_scenario(_two_tier()), 1, executor="serial").to_dict()
    assert "retries_by_layer" not in out["services"]["back"]
    assert "retries" not in out["workloads"]["w"]


def test_timeseries_counts_mesh_retries_when_decided() -> None:
    """Long back-offs: decisions stop with the failures, tries still end a few seconds later."""
    sc = _two_tier()
    sc["services"]["back"]["error_rate"] = 0.0
    sc["mesh"] = {"proxy": "none"}
    sc["policies"] = {"back": {"retries": {"attempts": 3, "retry_on": ["5xx"], "backoff": {"base": "1s", "max": "8s"}}}}
    sc["faults"] = [{"at": "10s", "duration": "5s", "kind": "errors", "target": "back", "rate": 0.5}]
    ts = simulate(load_scenario(sc), 1, executor="serial").timeseries()
    back = ts[(ts.scope == "service") & (ts.name == "back")]
    after = back[back.t_s >= 16.0]
    assert after.retries.sum() == 0  # no failure, no decision
    assert after.retries_ended.sum() > 0  # retries decided before 15 s still ending
    assert back.retries.sum() >= back.retries_ended.sum()


def test_quota_throttle_and_breaker_objects() -> None:
    q = RetryQuota()
    assert q.allows(True, 0.0) and q.take(False) == 5 and q.take(True) == 10 and q.available == 485
    q.ended(True, 10)
    assert q.available == 495
    q.ended(True, 0)
    q.ended(False, 5)
    assert q.available == 496
    t = RetryThrottle(10, 0.1)
    for _ in range(4):
        t.tried(True, 0.0)
    assert t.allows(False, 0.0)  # 6 > 5
    t.tried(True, 0.0)
    assert not t.allows(False, 0.0)  # 5 <= 5
    b = RetryBreaker(0.2, 10.0, 5)
    for i in range(5):
        b.tried(i < 2, float(i))
    assert not b.allows(False, 5.0)  # 2 of 5 failed
    assert b.allows(False, 11.5)  # the failures left the window
    bucket = RetryTokenBucket(2.0, 0.5)
    assert bucket.allows(False, 0.0) and bucket.take(False) == 0
    assert not bucket.allows(False, 0.0)  # exactly 1 token left: Brooker's test is "more than 1"
    bucket.ended(False, 0)
    assert bucket.allows(False, 0.0)


def test_jitter_with_a_backoff_block_is_refused(tmp_path: Path) -> None:
    text = """\
    name: t
    duration: 10s
    services:
      api: {replicas: 1, service_time: 5ms}
    workload:
      - name: w
        entry: api
        rate: 10/s
        client: {retries: 2, jitter: true, backoff: {kind: equal, base: 100ms}}
    """
    check_bad(tmp_path, text, 9, "jitter")


def test_unknown_backoff_kind_is_refused() -> None:
    sc = _two_tier({"retries": 1, "backoff": {"kind": "fibonacci", "base": "10ms"}})
    with pytest.raises(MeshsimInputError, match="kind"):
        load_scenario(sc)


def test_adaptive_mode_slows_sending_to_what_the_rate_limit_admits() -> None:
    """AWS adaptive mode: after the first 429 the client sends at about the limit's rate, so few
    tries are throttled; standard mode keeps sending at the arrival rate and retries 429s."""
    out = {}
    for mode in ("standard", "adaptive"):
        sc = _two_tier()
        sc["services"] = {"api": {"service_time": "5ms", "concurrency": 100}}
        sc["workload"] = [{"name": "w", "entry": "api", "rate": 80, "client": {"mode": mode}}]
        sc["policies"] = {"api": {"rate_limit": {"rate": "50/s", "burst": 5}}}
        out[mode] = simulate(load_scenario(sc), 1, executor="serial").to_dict()
    throttled = {
        m: o["services"]["api"]["failed"].get("rate_limited", 0) / o["services"]["api"]["attempts"]
        for m, o in out.items()
    }
    assert throttled["standard"] > 0.3
    assert throttled["adaptive"] < 0.05
    admitted_s = {m: (o["services"]["api"]["ok"]) / 35.0 for m, o in out.items()}
    assert admitted_s["adaptive"] == pytest.approx(50.0, rel=0.1)  # the limiter finds the limit's rate
    # open-loop users arrive faster than that: their requests wait in the client
    assert out["adaptive"]["workloads"]["w"]["in_flight"] > 100


def test_explain_lists_the_sdk_and_the_end_users_client() -> None:
    from meshsim.analysis import explain_rows

    sc = _two_tier({"mode": "standard"})
    sc["workload"][0]["client"] = {"retries": 1, "retry_breaker": {"failure_ratio": 0.5}}
    rows = explain_rows(load_scenario(sc))
    sdk = next(r for r in rows if r["field"] == "sdk_client")
    assert sdk["service"] == "back" and sdk["origin"] == "policies.back.client"
    assert sdk["value"]["retries"] == 2 and sdk["value"]["backoff"] == {"kind": "full", "base_s": 1.0, "cap_s": 20.0}
    user = next(r for r in rows if r["field"] == "client (workload:w)")
    assert user["service"] == "front" and user["value"]["retry_breaker"]["failure_ratio"] == 0.5


def test_retries_chart_stacks_the_client_layers() -> None:
    from meshsim import viz

    out = simulate(load_scenario(_two_tier({"retries": 2})), 1, executor="serial").to_dict()
    frame = viz.service_frame(out)
    back = frame[frame.service == "back"].iloc[0]
    assert back.sdk_retries == out["services"]["back"]["retries_by_layer"]["sdk"]["ended"] > 0
    names = [t.name for t in viz.retries_amplification(frame).data]
    assert names[:2] == ["mesh proxies", "callers' SDKs"]


def test_explain_shows_the_clients_that_retry_with_their_file_line(capsys) -> None:
    from meshsim.cli import main

    model = str(Path(__file__).resolve().parents[2] / "models" / "client-retries.yaml")
    assert main(["explain", model, "--service", "payments"]) == 0
    sdk = capsys.readouterr().out
    assert "callers' SDK retries" in sdk and "standard mode" in sdk and "client-retries.yaml:40" in sdk
    assert main(["explain", model, "--service", "checkout"]) == 0
    users = capsys.readouterr().out
    assert "end users' retries (workload:users)" in users and "decorrelated" in users


def test_a_closed_population_retries_like_open_arrivals() -> None:
    """End users of a closed workload (users) have the same client: its retries reach the service.

    With p = 0.5 of tries failing and 2 retries a request makes 1 + p + p^2 = 1.75 tries.
    """
    sc = {
        "name": "closed-retries",
        "seed": 4,
        "duration": "30s",
        "warmup": "1s",
        "services": {"api": {"replicas": 1, "concurrency": 50, "service_time": "1ms", "error_rate": 0.5}},
        "workload": [{"name": "users", "entry": "api", "users": 5, "think_time": "10ms", "client": {"retries": 2}}],
    }
    out = simulate(load_scenario(sc), 2).to_dict()
    api = out["services"]["api"]
    tries = api["attempts"] / out["workloads"]["users"]["requests"]
    assert abs(tries - 1.75) < 0.05
    assert out["services"]["api"]["retries_by_layer"]["user"]["ended"] > 0
