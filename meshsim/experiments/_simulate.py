"""Run replications on any executor with identical results.

Seeds come from the scenario, never from the worker, so one process, a local process
pool and a Dask cluster give the same numbers. A replication reports its progress in
simulated time and stops early when asked (Ctrl-C, SIGTERM: see ``_executors``); its
result is then marked partial.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from meshsim._types import Progress
from meshsim.errors import MeshsimInputError
from meshsim.experiments._executors import current_job, map_jobs  # the pool, Dask and Ctrl-C live there
from meshsim.experiments._size import MAX_REQUESTS, check_size
from meshsim.scenario import Scenario

if TYPE_CHECKING:
    from meshsim.results import ReplicationResult, Results

# The engine, numpy, the results and pandas are imported when a run starts: checking a file
# (``meshsim validate``) needs none of them.

__all__ = ["MAX_REQUESTS", "check_size", "map_replications", "replication_job", "run_replication", "simulate"]


def run_replication(
    scenario: Scenario,
    replication: int,
    trace_sample: float = 0.0,
    *,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ReplicationResult:
    """Simulate replication number ``replication`` of ``scenario`` (a pure function of its inputs).

    ``progress(fraction)`` hears how much of the simulated time is done; when
    ``should_stop()`` turns true the run ends there and the result is marked partial.
    """
    from meshsim.engine import Simulation
    from meshsim.results import ReplicationResult
    from meshsim.rng import replication_seeds

    ss = replication_seeds(scenario.seed, replication + 1)[replication]
    sim = Simulation(scenario, ss, replication, trace_sample=trace_sample)
    rec = sim.run(progress, should_stop)
    measured_s = scenario.duration
    if sim.stopped_s is not None:
        measured_s = max(0.0, sim.stopped_s - scenario.warmup)
    result = ReplicationResult.from_recorder(rec, replication, int(scenario.seed), measured_s, sim.spans, sim.extras)
    result.partial = sim.stopped_s is not None
    result.check_accounting()
    return result


def _not_run(scenario: Scenario, replication: int) -> ReplicationResult:
    """A replication stopped before it started: nothing measured."""
    from meshsim.metrics import Recorder
    from meshsim.results import ReplicationResult

    result = ReplicationResult.from_recorder(Recorder(scenario.warmup), replication, int(scenario.seed), 0.0, [])
    result.partial = True
    return result


def replication_job(args: tuple[Scenario, int, float]) -> ReplicationResult:
    """Run one replication: ``(scenario, replication, trace_sample)`` (a picklable job for any executor).

    Inside :func:`~meshsim.experiments.map_jobs` it reports progress and stops when asked.
    """
    scenario, replication, trace_sample = args
    job = current_job()
    if job is None:
        return run_replication(scenario, replication, trace_sample)
    if job.should_stop():
        return _not_run(scenario, replication)
    return run_replication(scenario, replication, trace_sample, progress=job.report, should_stop=job.should_stop)


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
    requests, unless ``force`` is set. ``progress(done, total)`` hears ``done`` in
    replications, fractions included, while replications run. Ctrl-C or SIGTERM stops the
    run: the replications that ran (the last ones cut short) come back, with
    :attr:`~meshsim.results.Results.partial` set.
    """
    from meshsim._version import __version__
    from meshsim.results import Results
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
    ran = [r for r in reps if not r.partial or r.measured_s > 0 or r.workloads]
    return Results(scenario, ran or reps[:1], __version__)
