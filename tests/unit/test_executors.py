"""Executors: one process, the process pool and Dask (LocalCluster and a scheduler address)
return identical results, in order; bad executors fail with one clear message."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import meshsim
from meshsim.experiments import ClusterError, map_jobs, replication_job
from meshsim.experiments import _executors as executors

SCENARIO = {
    "name": "executors",
    "seed": 21,
    "duration": "21s",
    "warmup": "2s",
    "mesh": {"proxy": "none"},
    "network": {"same_zone": "0ms"},
    "services": {
        "api": {
            "replicas": 2,
            "concurrency": 4,
            "service_time": {"dist": "exponential", "mean": "4ms"},
            "versions": {"v1": {}, "v2": {"error_rate": 0.3}},
        }
    },
    "workload": [{"name": "users", "entry": "api", "rate": "150/s"}],
    "rollout": {"service": "api", "baseline": "v1", "canary": "v2", "steps": [20, 50], "interval": "10s"},
}
REPS = 3


@pytest.fixture(scope="module")
def serial_json() -> str:
    return meshsim.simulate(SCENARIO, REPS, executor="serial").to_json()


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A running Dask scheduler with two workers, as a user's cluster would be."""
    from dask.distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_process_pool_matches_serial(serial_json: str) -> None:
    calls: list[tuple[int, int]] = []
    res = meshsim.simulate(SCENARIO, REPS, executor="process", progress=lambda d, t: calls.append((d, t)))
    assert res.to_json() == serial_json
    assert calls[-1] == (REPS, REPS)
    assert res.to_dict()["rollout"]["outcome"] == "rolled_back"  # extras travel through pickling


def test_dask_local_cluster_matches_serial(serial_json: str) -> None:
    calls: list[tuple[int, int]] = []
    res = meshsim.simulate(SCENARIO, REPS, executor="dask-local", progress=lambda d, t: calls.append((d, t)))
    assert res.to_json() == serial_json
    assert sorted(calls) == [(i, REPS) for i in range(1, REPS + 1)]


def test_dask_scheduler_address_matches_serial(serial_json: str, scheduler: str) -> None:
    res = meshsim.simulate(SCENARIO, REPS, executor=scheduler)
    assert res.to_json() == serial_json


def test_map_jobs_keeps_job_order(scheduler: str) -> None:
    s = meshsim.load_scenario(SCENARIO)
    jobs = [(s, r, 0.0) for r in (4, 0, 2, 1)]
    for executor in ("serial", "process", scheduler):
        out = map_jobs(replication_job, jobs, executor)
        assert [r.replication for r in out] == [4, 0, 2, 1]


def test_unknown_executor() -> None:
    with pytest.raises(meshsim.MeshsimInputError, match="unknown executor 'gpu'"):
        map_jobs(replication_job, [1, 2], "gpu")


def test_unreachable_scheduler_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        meshsim.simulate(SCENARIO, 2, executor="tcp://127.0.0.1:9")


def test_worker_version_mismatch_is_refused(monkeypatch: pytest.MonkeyPatch, scheduler: str) -> None:
    # the workers run the installed meshsim; pretend this client is another version
    real = executors._meshsim_version
    monkeypatch.setattr(executors, "_meshsim_version", lambda: real() + "-other")
    from dask.distributed import Client

    client = Client(scheduler)
    try:
        monkeypatch.setattr(client, "run", lambda fn, **kw: {"tcp://w1": real()})
        with pytest.raises(ClusterError, match="install the same meshsim version"):
            executors._probe(client)
    finally:
        client.close()


def test_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHSIM_DASK_TIMEOUT", "12.5")
    assert executors._timeout(None) == 12.5
    assert executors._timeout(3.0) == 3.0
    monkeypatch.setenv("MESHSIM_DASK_TIMEOUT", "soon")
    with pytest.raises(meshsim.MeshsimInputError, match="MESHSIM_DASK_TIMEOUT"):
        executors._timeout(None)


def test_stalled_cluster_times_out(scheduler: str) -> None:
    import time

    with pytest.raises(ClusterError, match="no replication finished on the Dask cluster for 1 s"):
        executors.run_on_dask(time.sleep, [3.0], scheduler, timeout_s=1.0)
