"""Rollout controllers: Flagger's and Argo's decision rules, with scripted check results
where the rule (not the metrics) is under test, and the scenario fields' validation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import meshsim
from meshsim.engine._rollout import RolloutController

WARMUP = 5.0


def scenario(
    rollout: dict[str, Any],
    *,
    canary: dict[str, Any] | None = None,
    rate: str = "50/s",
    duration: str = "80s",
    policies: dict[str, Any] | None = None,
) -> dict[str, Any]:
    base = {"service": "api", "baseline": "v1", "canary": "v2", "interval": "10s"}
    return {
        "name": "rollout-unit",
        "seed": 3,
        "duration": duration,
        "warmup": f"{WARMUP:g}s",
        "mesh": {"proxy": "none"},
        "network": {"same_zone": "0ms"},
        "services": {
            "api": {"replicas": 2, "concurrency": 20, "service_time": "2ms", "versions": {"v1": {}, "v2": canary or {}}}
        },
        "policies": policies or {},
        "workload": [{"name": "users", "entry": "api", "rate": rate}],
        "rollout": {**base, **rollout},
    }


def run(data: dict[str, Any]) -> dict[str, Any]:
    res = meshsim.simulate(data, 1, executor="serial")
    return res.replications[0].extras["rollout"]


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Replace the metric check by a scripted sequence of (passed, requests)."""

    def install(results: list[tuple[bool, int]]) -> None:
        seq: Iterator[tuple[bool, int]] = iter(results)

        def check(self: RolloutController) -> dict[str, Any]:
            passed, n = next(seq, (True, 10))
            return {
                "t_s": self.control.now,
                "weight": self.weight,
                "requests": n,
                "success_rate": None,
                "latency_p99_ms": None,
                "passed": passed,
            }

        monkeypatch.setattr(RolloutController, "check", check)

    return install


def test_flagger_failed_checks_are_never_reset(script: Any) -> None:
    # fail (hold 10), pass (-> 20), fail (2nd failure), next tick: threshold 2 reached -> roll back
    script([(False, 10), (True, 10), (False, 10)])
    ro = run(scenario({"steps": [10, 20, 30], "max_failed_checks": 2}))
    assert ro["outcome"] == "rolled_back"
    assert ro["at_s"] == pytest.approx(WARMUP + 4 * 10)
    assert [c["failed_checks"] for c in ro["checks"]] == [1, 1, 2]
    assert [w["weight"] for w in ro["weights"]] == [0.0, 10.0, 20.0, 0.0]


def test_flagger_check_without_data_fails() -> None:
    # weight 0 sends the canary nothing: the query finds no data, which Flagger counts as a failure
    ro = run(scenario({"steps": [0, 50], "max_failed_checks": 1}))
    assert ro["checks"][0]["requests"] == 0 and ro["checks"][0]["passed"] is False
    assert ro["outcome"] == "rolled_back"
    assert ro["at_s"] == pytest.approx(WARMUP + 2 * 10)
    assert ro["canary_requests"] == 0


def test_flagger_interval_floor_and_default_window() -> None:
    ro = run(scenario({"steps": [50], "interval": "5s"}))
    assert ro["interval_s"] == 10.0  # Flagger raises intervals under 10 s
    assert ro["metrics_window_s"] == 60.0  # Flagger's builtin metrics query the last 1m
    assert ro["outcome"] == "promoted" and ro["at_s"] == pytest.approx(WARMUP + 10)


def test_rollout_overrides_split_and_starts_on_baseline() -> None:
    data = scenario({"steps": [30], "at": "40s"}, policies={"api": {"split": {"v1": 50, "v2": 50}}})
    ro = run(data)
    assert ro["started_s"] == 40.0
    assert ro["weights"][:2] == [{"t_s": 0.0, "weight": 0.0}, {"t_s": 40.0, "weight": 30.0}]
    assert ro["checks"][0]["requests"] > 0


@pytest.mark.parametrize("limit", [0, 1, 2])
def test_argo_failure_limit_off_by_one(script: Any, limit: int) -> None:
    # Argo fails the run when failed > failureLimit: the (limit + 1)-th failure aborts
    script([(False, 10)] * 10)
    ro = run(
        scenario(
            {
                "style": "argo",
                "steps": [{"setWeight": 25}, {"pause": "60s"}],
                "analysis_interval": "5s",
                "failure_limit": limit,
            }
        )
    )
    assert ro["outcome"] == "rolled_back"
    assert len(ro["checks"]) == limit + 1
    assert ro["checks"][0]["t_s"] == pytest.approx(WARMUP)  # the first measurement is immediate
    assert ro["at_s"] == pytest.approx(WARMUP + 5 * limit)
    assert ro["weights"][-1]["weight"] == 0.0


def test_argo_passing_measurements_do_not_abort(script: Any) -> None:
    script([(False, 10), (True, 10), (False, 10), (True, 10)])
    ro = run(
        scenario(
            {
                "style": "argo",
                "steps": [{"setWeight": 25}, {"pause": "18s"}, {"setWeight": 50}],
                "analysis_interval": "5s",
                "failure_limit": 2,
            }
        )
    )
    assert ro["outcome"] == "promoted"
    assert ro["at_s"] == pytest.approx(WARMUP + 18)
    assert ro["failed_checks"] == 2


def test_argo_consecutive_errors(script: Any) -> None:
    script([(False, 0)] * 10)  # no data: Error measurements, not failures
    ro = run(
        scenario(
            {
                "style": "argo",
                "steps": [{"setWeight": 25}, {"pause": "60s"}],
                "analysis_interval": "5s",
                "consecutive_error_limit": 4,
            }
        )
    )
    assert ro["outcome"] == "rolled_back"
    assert [c["phase"] for c in ro["checks"]] == ["Error"] * 5
    assert ro["failed_checks"] == 0


def test_argo_manual_pause_stays_in_progress() -> None:
    ro = run(
        scenario(
            {
                "style": "argo",
                "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}],
                "analysis_interval": "10s",
                "checks": {"success_rate_min": 0.5},
            }
        )
    )
    assert ro["outcome"] == "in_progress" and ro["at_s"] is None
    assert [w["weight"] for w in ro["weights"]] == [0.0, 20.0]


def test_failed_requests_count_after_retries() -> None:
    # half the canary's tries fail; with 3 retries a call fails only if all 4 tries do (1/16)
    data = scenario(
        {"steps": [50, 100], "interval": "20s", "max_failed_checks": 5, "checks": {"success_rate_min": 0.1}},
        canary={"error_rate": 0.5},
        rate="200/s",
        duration="30s",
        policies={"api": {"retries": {"attempts": 3, "retry_on": ["5xx"]}}},
    )
    ro = run(data)
    calls = ro["canary_requests"]
    assert calls > 1000
    assert ro["failed_requests"] / calls == pytest.approx(1 / 16, rel=0.25)
    assert ro["failed_attempts"] / calls == pytest.approx(1.0 - 1 / 16, rel=0.1)  # 0.5+0.25+0.125+0.0625


def test_rollout_in_results_json() -> None:
    res = meshsim.simulate(scenario({"steps": [50], "checks": {"success_rate_min": 0.9}}), 1, executor="serial")
    ro = res.to_dict()["rollout"]
    assert {"outcome", "at_s", "failed_requests", "weights", "checks"} <= set(ro)
    assert ro["outcome"] == "promoted"
    kinds = set(res.events()["kind"])
    assert {"rollout_weight", "rollout_check", "rollout_promoted"} <= kinds


@pytest.mark.parametrize(
    "rollout,message",
    [
        ({"steps": [{"setWeight": 10}]}, "need style: argo"),
        ({"steps": [150]}, "between 0 and 100"),
        ({"style": "argo", "steps": [{"setWeight": 10, "pause": "1s"}]}, "either setWeight"),
        ({"style": "argo", "steps": [{"pause": {"duration": "1s", "x": 1}}]}, "only a duration"),
        ({"style": "argo", "steps": [20], "analysis_starting_step": 3}, "past the last step"),
        ({"canary": "v1"}, "different versions"),
        ({"canary": "v9"}, "no version 'v9'"),
    ],
)
def test_rollout_validation(rollout: dict[str, Any], message: str) -> None:
    with pytest.raises(meshsim.MeshsimInputError, match=message):
        meshsim.load_scenario(scenario(rollout))


def test_argo_pause_forms() -> None:
    s = meshsim.load_scenario(
        scenario(
            {
                "style": "argo",
                "steps": [20, {"pause": {"duration": "30s"}}, {"pause": {}}, {"setWeight": 40}, {"pause": "1m"}],
            }
        )
    )
    steps = s.rollout.steps
    assert steps[0] == 20
    assert steps[1].pause == 30.0 and not steps[1].pause_manual
    assert steps[2].pause is None and steps[2].pause_manual
    assert steps[3].set_weight == 40.0 and steps[4].pause == 60.0
