"""Run replications on any executor with identical results.

Seeds come from the scenario, never from the worker, so one process, a local process
pool and a Dask cluster give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meshsim._types import Progress
from meshsim.errors import MeshsimInputError
from meshsim.experiments._executors import map_jobs  # the pool, Dask and Ctrl-C handling live there
from meshsim.experiments._size import MAX_REQUESTS, check_size
from meshsim.results import ReplicationResult, Results
from meshsim.rng import replication_seeds
from meshsim.scenario import Scenario

__all__ = ["MAX_REQUESTS", "check_size", "map_replications", "replication_job", "run_replication", "simulate"]


def run_replication(scenario: Scenario, replication: int, trace_sample: float = 0.0) -> ReplicationResult:
    """Simulate replication number ``replication`` of ``scenario`` (a pure function of its inputs)."""
    from meshsim.engine import Simulation

    ss = replication_seeds(scenario.seed, replication + 1)[replication]
    sim = Simulation(scenario, ss, replication, trace_sample=trace_sample)
    rec = sim.run()
    result = ReplicationResult.from_recorder(
        rec, replication, int(scenario.seed), scenario.duration, sim.spans, getattr(sim, "extras", {})
    )
    result.check_accounting()
    return result


def replication_job(args: tuple[Scenario, int, float]) -> ReplicationResult:
    """Run one replication: ``(scenario, replication, trace_sample)`` (a picklable job for any executor)."""
    return run_replication(*args)


def map_replications(
    scenario: Scenario,
    replications: Sequence[int],
    *,
    workers: int | None = None,
    executor: str = "auto",
    trace_sample: float = 0.0,
    progress: Progress | None = None,
) -> list[ReplicationResult]:
    """Run the given replications on ``executor``, in replication order.

    ``executor`` is ``serial``, ``process`` (default for several), ``dask-local`` or a Dask
    scheduler address ``tcp://host:8786``.
    """
    jobs = [(scenario, r, trace_sample) for r in replications]
    results: list[ReplicationResult] = map_jobs(replication_job, jobs, executor, workers=workers, progress=progress)
    return sorted(results, key=lambda r: r.replication)


def simulate(
    scenario: Scenario | str | dict[str, Any],
    replications: int = 1,
    *,
    workers: int | None = None,
    executor: str = "auto",
    trace_sample: float = 0.0,
    force: bool = False,
    progress: Progress | None = None,
) -> Results:
    """Simulate ``scenario`` ``replications`` times and return :class:`~meshsim.results.Results`.

    Raises MeshsimInputError when the run would exceed 50 million simulated
    requests, unless ``force`` is set.
    """
    from meshsim._version import __version__
    from meshsim.scenario import load_scenario

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if replications < 1:
        raise MeshsimInputError("replications must be at least 1", field="replications")
    check_size(scenario, replications, force)
    reps = map_replications(
        scenario,
        list(range(replications)),
        workers=workers,
        executor=executor,
        trace_sample=trace_sample,
        progress=progress,
    )
    return Results(scenario, reps, __version__)
