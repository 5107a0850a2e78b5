"""Processor sharing (``discipline: processor_sharing``): the shared cores, worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

import meshsim
from meshsim.engine._sharing import CoreShare
from meshsim.errors import MeshsimInputError


class _Path:
    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.schedule = env.schedule


class _Work:
    """A stand-in for a visit: records when its work is done."""

    def __init__(self, env: simpy.Environment, done: dict[str, float], name: str) -> None:
        self.env, self.done, self.name = env, done, name
        self.working = True

    def work_done(self) -> None:
        self.working = False
        self.done[self.name] = self.env.now


def _at(env: simpy.Environment, t_s: float, fn: Any) -> None:
    def proc() -> Any:
        yield env.timeout(t_s)
        fn()

    env.process(proc())


def test_one_core_shared_by_two_then_alone() -> None:
    """a (30 ms) from 0, b (10 ms) from 10 ms: both at half speed until b is done at 30 ms, a at 40 ms."""
    env = simpy.Environment()
    share = CoreShare(_Path(env), 1.0)  # type: ignore[arg-type]
    done: dict[str, float] = {}
    a, b = _Work(env, done, "a"), _Work(env, done, "b")
    share.add(a, 0.030)  # type: ignore[arg-type]
    _at(env, 0.010, lambda: share.add(b, 0.010))  # type: ignore[arg-type]
    env.run()
    assert done["b"] == pytest.approx(0.030)
    assert done["a"] == pytest.approx(0.040)


def test_a_cancelled_request_gives_its_share_back() -> None:
    """a and b (30 ms each) from 0 on one core; b cancelled at 10 ms: a has 25 ms left alone, done at 35 ms."""
    env = simpy.Environment()
    share = CoreShare(_Path(env), 1.0)  # type: ignore[arg-type]
    done: dict[str, float] = {}
    a, b = _Work(env, done, "a"), _Work(env, done, "b")
    share.add(a, 0.030)  # type: ignore[arg-type]
    share.add(b, 0.030)  # type: ignore[arg-type]

    def cancel() -> None:
        b.working = False
        share.remove()

    _at(env, 0.010, cancel)
    env.run()
    assert done == {"a": pytest.approx(0.035)}


def test_more_cores_than_requests_run_at_full_speed() -> None:
    """Three requests on four cores: each at one core, no slowdown."""
    env = simpy.Environment()
    share = CoreShare(_Path(env), 4.0)  # type: ignore[arg-type]
    done: dict[str, float] = {}
    for name, work in (("a", 0.010), ("b", 0.020), ("c", 0.030)):
        share.add(_Work(env, done, name), work)  # type: ignore[arg-type]
    env.run()
    assert done == {"a": pytest.approx(0.010), "b": pytest.approx(0.020), "c": pytest.approx(0.030)}


def _pair_scenario(discipline: str) -> dict[str, Any]:
    # two workloads whose constant arrivals coincide: two 15 ms requests every 40 ms
    return {
        "name": "pairs",
        "duration": "10s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {"s": {"replicas": 1, "concurrency": 2, "discipline": discipline, "service_time": "15ms"}},
        "workload": [
            {"name": "a", "entry": "s", "rate": "25/s", "arrival": "constant"},
            {"name": "b", "entry": "s", "rate": "25/s", "arrival": "constant"},
        ],
    }


def test_simultaneous_requests_share_one_core_in_the_engine() -> None:
    """Processor sharing on one core: both take 30 ms; on two FIFO workers (no sharing) both take 15 ms."""
    ps = meshsim.simulate(meshsim.load_scenario(_pair_scenario("processor_sharing")))
    fifo = meshsim.simulate(meshsim.load_scenario(_pair_scenario("fifo")))
    # utilization: one core busy 30 ms of every 40; two FIFO workers busy 15 ms each of every 40
    assert ps.replications[0].service_metrics("s")["utilization"] == pytest.approx(0.75, rel=0.01)
    assert fifo.replications[0].service_metrics("s")["utilization"] == pytest.approx(0.375, rel=0.01)
    for name in ("a", "b"):
        assert ps.replications[0].workloads[name].latency.mean() == pytest.approx(0.030)
        assert fifo.replications[0].workloads[name].latency.mean() == pytest.approx(0.015)


def test_cores_without_processor_sharing_is_an_input_error() -> None:
    sc = _pair_scenario("fifo")
    sc["services"]["s"]["cores"] = 2
    with pytest.raises(MeshsimInputError) as err:
        meshsim.load_scenario(sc)
    assert "processor_sharing" in str(err.value) and "cores" in str(err.value)


def test_the_autoscaler_reads_cpu_for_a_processor_sharing_service() -> None:
    """Threads are plenty (1000 per replica), the cores are not: at the peak 240/s x 50 ms = 12 cores
    are busy, 6 replicas' worth of 2 cores, so at 60 % CPU the HPA wants ceil(6 / 0.6) = 10 (max 8).
    Reading threads (12 of 2000 busy) it would never scale."""
    sc = {
        "name": "ps-hpa",
        "seed": 21,
        "duration": "120s",
        "warmup": "10s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {
            "api": {
                "replicas": 2,
                "concurrency": 1000,
                "discipline": "processor_sharing",
                "cores": 2,
                "service_time": {"dist": "exponential", "mean": "50ms"},
                "autoscaling": {
                    "target_utilization": 0.6,
                    "min_replicas": 2,
                    "max_replicas": 8,
                    "startup_delay": "10s",
                },
            }
        },
        "workload": [{"name": "w", "entry": "api", "rate": "80/s"}],
        "faults": [{"at": "40s", "kind": "load", "factor": 3}],
    }
    res = meshsim.simulate(sc, executor="serial")
    ev = res.events()
    scale = ev[ev.kind == "scale"]
    assert len(scale) and int(scale["replicas_to"].max()) >= 5  # 12 cores busy at 60 %: 10 cores, 5 replicas
    assert 0.4 < res.replications[0].service_metrics("api")["utilization"] < 1.0
