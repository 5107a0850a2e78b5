"""Canary accounting against the closed forms of docs/references.md section 14.

Flagger (fluxcd/flagger scheduler.go, as summarised in references §14): a canary bad from
the first step at weight s is held there, failing every check, until the check after the
T-th failure rolls it back, so users see failed ~= R * (s/100) * e * I * (T..T+1) requests;
with the controller's order (rollback test at the start of the tick) the exposure is the
upper end, (T + 1) intervals, and the rollback happens at ``at + (T + 1) * I``. A good
canary is promoted after interval x steps. Argo Rollouts: the docs example (20/40/60/80%
with 10m pauses, background analysis from step 2 every 5m, failureLimit 3) aborts a
canary bad from the start at 25 min, on the 4th failed measurement (failed > limit), with
exposure 20%*10m + 40%*10m + 60%*5m. Here every time is scaled down (minutes -> seconds
/ 30) to keep the runs short; the formulas scale with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import meshsim

RATE = 200.0  # requests per second, all to the service under rollout
WARMUP = 5.0  # the rollout starts at the end of warm-up


def flagger(
    threshold: int = 2,
    step: float = 20,
    error: float = 0.5,
    *,
    canary: dict[str, Any] | None = None,
    checks: dict[str, Any] | None = None,
    window: str | None = None,
    rate: float = RATE,
    duration: str = "60s",
) -> dict[str, Any]:
    rollout: dict[str, Any] = {
        "service": "api",
        "baseline": "v1",
        "canary": "v2",
        "steps": [step, 2 * step, 3 * step, 4 * step, 100],
        "interval": "10s",
        "max_failed_checks": threshold,
    }
    if checks:
        rollout["checks"] = checks
    if window:
        rollout["metrics_window"] = window
    return {
        "name": "flagger-canary",
        "seed": 11,
        "duration": duration,
        "warmup": f"{WARMUP:g}s",
        "mesh": {"proxy": "none"},
        "network": {"same_zone": "0ms"},
        "services": {
            "api": {
                "replicas": 4,
                "concurrency": 50,
                "service_time": {"dist": "exponential", "mean": "5ms"},
                "versions": {"v1": {}, "v2": canary if canary is not None else {"error_rate": error}},
            }
        },
        "workload": [{"name": "users", "entry": "api", "rate": f"{rate:g}/s"}],
        "rollout": rollout,
    }


def rollouts(scenario: dict[str, Any], replications: int) -> list[dict[str, Any]]:
    res = meshsim.simulate(scenario, replications, executor="serial")
    return [r.extras["rollout"] for r in res.replications]


@pytest.mark.parametrize("threshold,step,error", [(2, 20, 0.5), (4, 10, 0.3), (1, 10, 0.5)])
def test_bad_canary_rollback_time_and_failed_requests(threshold: int, step: float, error: float) -> None:
    interval = 10.0
    outs = rollouts(flagger(threshold, step, error), 4)
    low = RATE * step / 100 * error * interval * threshold
    high = RATE * step / 100 * error * interval * (threshold + 1)
    for ro in outs:
        assert ro["outcome"] == "rolled_back"
        assert ro["at_s"] == pytest.approx(WARMUP + (threshold + 1) * interval)
        assert ro["failed_checks"] == threshold
        assert all(not c["passed"] for c in ro["checks"])
        # never beyond the first step, and all traffic back on the baseline at the rollback
        assert max(w["weight"] for w in ro["weights"]) == step
        assert ro["weights"][-1] == {"t_s": ro["at_s"], "weight": 0.0}
    failed = np.mean([ro["failed_requests"] for ro in outs])
    assert 0.9 * low <= failed <= 1.1 * high
    assert failed == pytest.approx(high, rel=0.10)  # the controller's order gives the T + 1 end


def test_weights_never_pass_the_step_where_checks_failed() -> None:
    # the canary is one single-worker replica of 5 ms: it keeps up with 20% and 40% of
    # 400/s (80 and 160/s) but not with 60% (240/s > 200/s), where its p99 explodes
    canary = {"replicas": 1, "concurrency": 1, "service_time": "5ms"}
    outs = rollouts(flagger(2, 20, canary=canary, checks={"latency_p99_max": "200ms"}, window="10s", rate=400), 2)
    for ro in outs:
        assert ro["outcome"] == "rolled_back"
        first_fail = next(c for c in ro["checks"] if not c["passed"])
        assert first_fail["weight"] == 60.0
        assert max(w["weight"] for w in ro["weights"]) == first_fail["weight"]
        assert ro["at_s"] == pytest.approx(first_fail["t_s"] + 2 * 10.0)  # threshold 2: fail, fail, roll back


def test_good_canary_promoted_after_interval_times_steps() -> None:
    ro = rollouts(flagger(2, 20, 0.0, duration="70s"), 1)[0]
    steps = [20.0, 40.0, 60.0, 80.0, 100.0]
    assert ro["outcome"] == "promoted"
    assert ro["at_s"] == pytest.approx(WARMUP + 10.0 * len(steps))
    assert [w["weight"] for w in ro["weights"][1:]] == steps
    assert [w["t_s"] for w in ro["weights"][1:]] == pytest.approx([WARMUP + 10.0 * i for i in range(len(steps))])
    assert all(c["passed"] for c in ro["checks"]) and len(ro["checks"]) == len(steps)
    assert ro["failed_requests"] == 0


def argo(error: float, duration: str = "80s") -> dict[str, Any]:
    # the Argo docs example with minutes read as seconds x 2 (10m pause -> 20 s, 5m analysis -> 10 s)
    steps = [
        {"setWeight": 20},
        {"pause": "20s"},
        {"setWeight": 40},
        {"pause": "20s"},
        {"setWeight": 60},
        {"pause": "20s"},
        {"setWeight": 80},
        {"pause": "20s"},
    ]
    scenario = flagger(canary={"error_rate": error}, duration=duration)
    scenario["rollout"] = {
        "service": "api",
        "style": "argo",
        "baseline": "v1",
        "canary": "v2",
        "steps": steps,
        "analysis_interval": "10s",
        "analysis_starting_step": 2,
        "failure_limit": 3,
        "checks": {"success_rate_min": 0.95, "latency_p99_max": None},
    }
    return scenario


def test_argo_docs_example_aborts_on_fourth_failed_measurement() -> None:
    error = 0.5
    outs = rollouts(argo(error), 3)
    for ro in outs:
        assert ro["outcome"] == "rolled_back"
        # measurements at 10, 15, 20, 25 (docs, in minutes) -> 20, 30, 40, 50 s after the start
        assert [c["t_s"] for c in ro["checks"]] == pytest.approx([WARMUP + t for t in (20, 30, 40, 50)])
        assert [c["phase"] for c in ro["checks"]] == ["Failed"] * 4  # 3 failures are within failureLimit 3
        assert ro["at_s"] == pytest.approx(WARMUP + 50)
    exposure_s = 0.2 * 20 + 0.4 * 20 + 0.6 * 10  # weight x time at each setWeight before the abort
    failed = np.mean([ro["failed_requests"] for ro in outs])
    assert failed == pytest.approx(RATE * error * exposure_s, rel=0.10)


def test_argo_good_canary_promoted_when_steps_end() -> None:
    ro = rollouts(argo(0.0, duration="90s"), 1)[0]
    assert ro["outcome"] == "promoted"
    assert ro["at_s"] == pytest.approx(WARMUP + 80)  # four 20 s pauses
    assert [w["weight"] for w in ro["weights"][1:]] == [20.0, 40.0, 60.0, 80.0, 100.0]
