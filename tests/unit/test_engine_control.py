"""Controllers act through the Control interface: named hooks, splits, membership, replicas, faults.

A controller is written against :class:`meshsim.engine.Control` alone; nothing replaces the
engine's methods or attaches attributes to the simulation while it runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from typing import Any

import pytest

import meshsim
from meshsim.engine import Control, Simulation
from meshsim.engine._faults import DegradeFault, ErrorsFault, OutageFault, engine_fault
from meshsim.rng import replication_seeds
from meshsim.scenario import Fault


def _scenario(**extra: Any) -> meshsim.Scenario:
    return meshsim.load_scenario(
        {
            "name": "ctl",
            "seed": 4,
            "duration": "20s",
            "warmup": "0s",
            "network": {"same_zone": "0ms"},
            "mesh": {"proxy": "none"},
            "services": {
                "front": {"replicas": 2, "service_time": "1ms", "calls": ["api"]},
                "api": {
                    "service_time": {"dist": "exponential", "mean": "2ms"},
                    "versions": {"v1": {"replicas": 2}, "v2": {"replicas": 1}},
                },
            },
            "workload": [{"name": "w", "entry": "front", "rate": "100/s"}],
            **extra,
        }
    )


def _sim(sc: meshsim.Scenario) -> Simulation:
    return Simulation(sc, replication_seeds(sc.seed, 1)[0])


def test_hooks_see_every_attempt_and_every_call_with_its_version() -> None:
    sim = _sim(_scenario())
    attempts: Counter[str] = Counter()
    calls: Counter[tuple[str, str | None]] = Counter()
    sim.control.on_attempt_end(lambda cluster, ep, res, rtt_s: attempts.update([cluster.service]))
    sim.control.on_call_end(lambda service, version, res, started_s: calls.update([(service, version)]))
    rec = sim.run()
    assert attempts["api"] == rec.services["api"].attempts > 1500
    assert calls[("api", None)] == rec.services["api"].attempts  # no retries, no split
    assert calls[("front", None)] == rec.services["front"].attempts


def test_a_controller_moves_traffic_with_set_split() -> None:
    sim = _sim(_scenario())
    control: Control = sim.control
    seen: list[tuple[float, str | None]] = []
    control.on_attempt_end(
        lambda cluster, ep, res, rtt_s: (
            seen.append((control.now, cluster.endpoints[ep].version)) if cluster.service == "api" else None
        )
    )

    def canary() -> Generator[Any, Any, None]:
        yield control.env.timeout(10.0)
        control.set_split("api", ["v1", "v2"], [0.0, 100.0])

    control.process(canary())
    sim.run()
    before = {v for t, v in seen if t < 10.0}
    after = {v for t, v in seen if t > 10.1}
    assert before == {"v1", "v2"} and after == {"v2"}


def test_the_simulation_gets_no_attributes_while_it_runs() -> None:
    sim = _sim(
        _scenario(
            faults=[{"at": "5s", "duration": "5s", "kind": "degrade", "target": "api", "factor": 2}],
            rollout={"service": "api", "baseline": "v1", "canary": "v2", "steps": [50], "interval": "5s"},
        )
    )
    before = set(vars(sim))
    sim.run()
    assert set(vars(sim)) == before
    assert sim.extras["rollout"]["outcome"] in ("promoted", "rolled_back")  # reported through Control.report


def test_membership_and_replicas_go_through_control() -> None:
    sim = _sim(_scenario())
    control = sim.control
    spec = sim.mesh.versions[("api", "v2")]
    new = control.add_replica(spec, "local/local/local")
    assert new in sim.mesh.endpoints[("api", "v2")] and new in sim.mesh.endpoints[("api", None)]
    control.set_membership(new, False)
    cluster = sim.cluster(sim.mesh.replicas[0].sidecar, "api", "v2")  # type: ignore[arg-type]
    assert {cluster.endpoints[cluster.pick((), 0)].rid for _ in range(20)} == {
        r.rid for r in sim.mesh.endpoints[("api", "v2")] if r is not new
    }
    control.discovery.retire(new)
    assert not new.known and new.stopped_s == control.now


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"at": "1s", "kind": "degrade", "target": "api", "factor": 3}, DegradeFault),
        ({"at": "1s", "kind": "errors", "target": "api/v2", "rate": 0.5}, ErrorsFault),
        ({"at": "1s", "kind": "outage", "target": "api"}, OutageFault),
    ],
)
def test_each_fault_kind_is_its_own_class_and_its_undo_restores(fault: dict[str, Any], kind: type) -> None:
    sc = _scenario()
    sim = _sim(sc)
    f = engine_fault(0, Fault.model_validate(fault))
    assert isinstance(f, kind)
    f.check(sim.control)
    v1, v2 = sim.mesh.versions[("api", "v1")], sim.mesh.versions[("api", "v2")]
    state = [(s.degrade_factor, s.extra_error_rate) for s in (v1, v2)]
    flags = [(r.blackholed, r.up, r.known) for r in sim.mesh.replicas]
    undo = f.apply(sim.control)
    if kind is DegradeFault:
        assert v1.degrade_factor == v2.degrade_factor == 3.0
    elif kind is ErrorsFault:
        assert v2.extra_error_rate == 0.5 and v1.extra_error_rate == 0.0
    else:
        api = [r for r in sim.mesh.replicas if r.service == "api"]
        assert all(r.blackholed and not r.up for r in api)
    undo()
    assert [(s.degrade_factor, s.extra_error_rate) for s in (v1, v2)] == state
    assert [(r.blackholed, r.up, r.known) for r in sim.mesh.replicas] == flags
    assert sim.rec.events[0]["kind"] == "fault_start"


def test_two_error_faults_stack_as_independent_failures() -> None:
    sim = _sim(_scenario())
    spec = sim.mesh.versions[("api", "v1")]
    a = engine_fault(0, Fault.model_validate({"at": "1s", "kind": "errors", "target": "api", "rate": 0.5}))
    b = engine_fault(1, Fault.model_validate({"at": "1s", "kind": "errors", "target": "api", "rate": 0.5}))
    undo_a = a.apply(sim.control)
    undo_b = b.apply(sim.control)
    assert spec.extra_error_rate == pytest.approx(0.75)  # 1 - (1 - 0.5)^2
    undo_a()
    assert spec.extra_error_rate == pytest.approx(0.5)
    undo_b()
    assert spec.extra_error_rate == 0.0
