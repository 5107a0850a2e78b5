"""Where replications run: one process, a local process pool, or a Dask cluster.

Seeds come from the scenario and the replication number, never from the worker, so every
executor returns the same results; these functions only move jobs and keep their order.

Executors (the ``executor`` argument and the CLI's ``--executor``/``--dask``):

- ``serial``: this process.
- ``process``: a ``ProcessPoolExecutor`` on all cores (``workers`` to limit).
- ``dask-local`` (or ``dask``): a ``dask.distributed.LocalCluster`` with one single-threaded
  worker process per core, started for the run and closed after it. Its workers are
  spawned, so a *script* calling it needs an ``if __name__ == "__main__":`` guard
  (notebooks, Streamlit and pytest do not).
- ``tcp://host:8786`` (or ``tls://...``, ``dask://host:8786``): an existing Dask
  scheduler. The workers must have the same meshsim version installed; this is checked
  before any job is sent, because a worker that cannot import meshsim makes Dask wait
  forever instead of failing.

A Dask run fails with :class:`ClusterError` when no job finishes for ``timeout_s`` seconds
(default 900, or the ``MESHSIM_DASK_TIMEOUT`` environment variable).

Progress and stopping. A job learns how to report progress and whether to stop from
:func:`current_job` (a :class:`JobControl`); :func:`map_jobs` calls ``progress(done, total)``
with ``done`` in jobs, fractions included, as jobs advance (in this process and in the pool's
workers, through shared memory; on Dask per finished job). Ctrl-C (SIGINT) or SIGTERM
while jobs run asks them to stop: running jobs end at their next check (about 0.1 s) with
what they have, jobs not started end at once, and every job still returns a result (marked
partial by the job). A second signal stops at once with :class:`Interrupted`. Pool and
LocalCluster workers ignore SIGINT so that only this process answers it; a SIGTERM sent to
the whole process group makes the pool's workers stop their jobs the same way.
"""

from __future__ import annotations

import contextvars
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as cf_wait
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

from meshsim._types import Progress
from meshsim._version import __version__
from meshsim.errors import MeshsimInputError

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "ClusterError",
    "Interrupted",
    "JobControl",
    "StopRequest",
    "current_job",
    "is_dask",
    "map_jobs",
    "run_on_dask",
    "stop_on_signals",
]

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 900.0
CONNECT_TIMEOUT_S = 15.0
POLL_S = 0.2  # how often the pool's progress is read, seconds
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM with nothing left to stop gently; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        """Interrupted by signal ``signum``."""
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopRequest:
    """SIGINT and SIGTERM as a request to stop the jobs that run (the installed signal handler).

    While jobs run (:meth:`running`), the first signal only asks them to stop; a second one,
    or one while nothing runs, raises :class:`Interrupted` at once.
    """

    def __init__(self) -> None:
        """No signal yet."""
        self.signum: int | None = None
        self._running = 0
        self._listeners: list[Callable[[], None]] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler."""
        first = self.signum is None
        if first:
            self.signum = signum
        if not first or self._running == 0:
            raise Interrupted(signum)
        for listener in self._listeners:
            listener()

    def requested(self) -> bool:
        """Whether a signal asked the jobs to stop."""
        return self.signum is not None

    @contextmanager
    def running(self, on_stop: Callable[[], None] | None = None) -> Iterator[StopRequest]:
        """Jobs run inside: a signal asks them to stop (and calls ``on_stop``) instead of raising."""
        self._running += 1
        if on_stop is not None:
            self._listeners.append(on_stop)
        try:
            yield self
        finally:
            self._running -= 1
            if on_stop is not None:
                self._listeners.remove(on_stop)


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """SIGINT and SIGTERM become a :class:`StopRequest` inside (in the main thread; elsewhere nothing is installed).

    An outer ``stop_on_signals`` (the CLI's) is shared, so it learns which signal stopped a run.
    """
    current = signal.getsignal(signal.SIGINT)
    if isinstance(current, StopRequest):
        yield current
        return
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach only the main thread: nothing to install
        return
    previous = {s: signal.signal(s, stop) for s in _SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class JobControl:
    """What a running job may ask: report how far it is, and whether to stop."""

    def __init__(self, report: Callable[[float], None], should_stop: Callable[[], bool]) -> None:
        """``report(fraction)`` and ``should_stop()`` of one job."""
        self.report = report
        self.should_stop = should_stop


_JOB: contextvars.ContextVar[JobControl | None] = contextvars.ContextVar("meshsim_job", default=None)


def current_job() -> JobControl | None:
    """The control of the job running in this context (None outside :func:`map_jobs`)."""
    return _JOB.get()


def _run_job(job_fn: Callable[[Any], T], job: Any, control: JobControl) -> T:
    token = _JOB.set(control)
    try:
        return job_fn(job)
    finally:
        _JOB.reset(token)


class ClusterError(MeshsimInputError):
    """The Dask cluster cannot be reached, cannot run meshsim, or stopped answering."""


def _meshsim_version() -> str:
    return __version__


def is_dask(executor: str) -> bool:
    """Whether ``executor`` names a Dask cluster (local or remote)."""
    return executor.startswith(("dask", "tcp://", "tls://"))


def _timeout(timeout_s: float | None) -> float:
    if timeout_s is not None:
        return timeout_s
    env = os.environ.get("MESHSIM_DASK_TIMEOUT")
    if env:
        try:
            return float(env)
        except ValueError:
            raise MeshsimInputError(f"MESHSIM_DASK_TIMEOUT must be seconds, not '{env}'") from None
    return DEFAULT_TIMEOUT_S


def _connect(executor: str, n_jobs: int, workers: int | None) -> tuple[Any, Any]:
    """Return (client, cluster or None) for ``executor``."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise MeshsimInputError(
            "Dask is not installed: pip install 'meshsim[dask]' (or dask[distributed])", field="executor"
        ) from None
    if executor in ("dask", "dask-local", "dask:local", "local"):
        n = max(1, min(n_jobs, workers or os.cpu_count() or 1))
        # Ctrl-C goes to the whole process group: workers spawned while SIGINT is ignored
        # keep ignoring it, so only this process reacts (and closes the cluster cleanly)
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
        try:
            # the profiler thread costs 10-20% CPU per task on a busy worker (reference section 3)
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                cluster = LocalCluster(  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)
        try:
            client = Client(cluster, timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
        except BaseException:
            cluster.close()
            raise
        return client, cluster
    address = executor.removeprefix("dask://")
    if "://" not in address:
        address = "tcp://" + address
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}", field="executor") from None
    return client, None


def _probe(client: Any) -> None:
    """Fail early, with a clear message, when a worker cannot run this meshsim."""
    mine = _meshsim_version()
    try:
        versions = client.run(_meshsim_version, on_error="return")
    except Exception as exc:  # scheduler lost, workers gone
        raise ClusterError(f"the Dask workers did not answer: {exc}", field="executor") from None
    if not versions:
        raise ClusterError("the Dask cluster has no workers", field="executor")
    bad = {w: v for w, v in versions.items() if v != mine}
    if bad:
        worker, got = next(iter(bad.items()))
        what = f"runs meshsim {got}" if isinstance(got, str) else f"cannot import meshsim ({got!r})"
        raise ClusterError(
            f"Dask worker {worker} {what}, but this client runs meshsim {mine}: install the same "
            "meshsim version on every worker",
            field="executor",
        )


def run_on_dask(
    job_fn: Callable[[Any], T],
    jobs: Sequence[Any],
    executor: str,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
    timeout_s: float | None = None,
    stop: StopRequest | None = None,
) -> list[T]:
    """Run ``job_fn(job)`` for every job on a Dask cluster; results in job order.

    ``executor`` is ``dask-local`` (a LocalCluster for this call) or a scheduler address.
    Raises :class:`ClusterError` when no job finishes for ``timeout_s`` seconds. When
    ``stop`` is requested, the jobs not finished are cancelled and end at once here.
    """
    total = len(jobs)
    if total == 0:
        return []
    limit = _timeout(timeout_s)
    client, cluster = _connect(executor, total, workers)  # says which extra to install when Dask is missing
    from dask.distributed import wait as dask_wait

    futures: list[Any] = []
    try:
        _probe(client)
        futures = client.map(job_fn, list(jobs), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * total
        pending = set(futures)
        done_count = 0
        quiet_s = 0.0  # time since a job last finished
        while pending:
            if stop is not None and stop.requested():
                client.cancel(list(pending))
                for fut in pending:
                    i = index[fut.key]
                    results[i] = _stopped(job_fn, jobs[i])
                return results
            wait_s = min(POLL_S, max(0.0, limit - quiet_s))
            try:
                done, pending = dask_wait(  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
                    list(pending), timeout=wait_s, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                quiet_s += wait_s
                if quiet_s >= limit:
                    raise ClusterError(
                        f"no replication finished on the Dask cluster for {limit:.0f} s "
                        f"({done_count} of {total} done); set MESHSIM_DASK_TIMEOUT to wait longer",
                        field="executor",
                    ) from None
                continue
            quiet_s = 0.0
            pending = set(pending)
            for fut in done:
                results[index[fut.key]] = fut.result()  # a worker's exception is raised here
                done_count += 1
                if progress:
                    progress(done_count, total)
        return results
    except KeyboardInterrupt:
        if futures:
            client.cancel(futures)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_jobs(
    job_fn: Callable[[Any], T],
    jobs: Sequence[Any],
    executor: str = "auto",
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    timeout_s: float | None = None,
) -> list[T]:
    """Run ``job_fn(job)`` for every job on ``executor``; results in job order.

    ``job_fn`` must be a module-level function (it is pickled by reference). See the module
    doc for progress and for what Ctrl-C and SIGTERM do.
    """
    total = len(jobs)
    cores = workers or os.cpu_count() or 1
    if executor == "auto":
        executor = "process" if total > 1 and cores > 1 else "serial"
    if executor not in ("serial", "process") and not is_dask(executor):
        raise MeshsimInputError(
            f"unknown executor '{executor}': use serial, process, dask-local or tcp://host:port", field="executor"
        )
    with stop_on_signals() as stop:
        if executor == "serial":
            with stop.running():
                return _serially(job_fn, jobs, stop, progress)
        if executor == "process":
            return _on_pool(job_fn, jobs, min(total, cores) or 1, progress, stop)
        with stop.running():
            return run_on_dask(job_fn, jobs, executor, progress, workers=workers, timeout_s=timeout_s, stop=stop)


def _serially(job_fn: Callable[[Any], T], jobs: Sequence[Any], stop: StopRequest, progress: Progress | None) -> list[T]:
    total = len(jobs)
    out = []
    for i, job in enumerate(jobs):
        done = float(i)

        def report(fraction: float, done: float = done) -> None:
            if progress:
                progress(done + fraction, total)

        out.append(_run_job(job_fn, job, JobControl(report, stop.requested)))
        if progress and not stop.requested():
            progress(i + 1, total)
    return out


def _stopped(job_fn: Callable[[Any], T], job: Any) -> T:
    """Run a job that was never started after a stop request: it ends at once."""
    return _run_job(job_fn, job, JobControl(lambda fraction: None, lambda: True))


# ----- the process pool -----
# Set in each pool worker by its initializer: the shared progress fractions and stop flag.
_WORKER: tuple[Any, Any] | None = None


def _init_worker(fractions: Any, stop_flag: Any) -> None:
    global _WORKER
    _WORKER = (fractions, stop_flag)
    # Ctrl-C reaches the whole process group: only the parent handles it (and stops the
    # workers), so the user sees one line instead of a traceback per worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a SIGTERM to the group stops this worker's job gently, as the parent's does
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_flag.set())


def _in_worker(job_fn: Callable[[Any], T], index: int, job: Any) -> T:
    assert _WORKER is not None, "the pool's initializer sets the worker's shared state"
    fractions, stop_flag = _WORKER

    def report(fraction: float) -> None:
        fractions[index] = fraction

    return _run_job(job_fn, job, JobControl(report, stop_flag.is_set))


def _on_pool(
    job_fn: Callable[[Any], T], jobs: Sequence[Any], n: int, progress: Progress | None, stop: StopRequest
) -> list[T]:
    total = len(jobs)
    results: list[Any] = [None] * total
    ctx = multiprocessing.get_context()
    fractions = ctx.Array("d", total, lock=False)
    stop_flag = ctx.Event()
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(fractions, stop_flag))
    try:
        with stop.running(on_stop=stop_flag.set):
            futures: dict[Future[T], int] = {pool.submit(_in_worker, job_fn, i, job): i for i, job in enumerate(jobs)}
            pending = set(futures)
            last = -1.0
            while pending:
                done, pending = cf_wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    if fut.cancelled():
                        results[i] = _stopped(job_fn, jobs[i])
                    else:
                        results[i] = fut.result()
                        if not stop_flag.is_set():
                            fractions[i] = 1.0
                if stop.requested() or stop_flag.is_set():
                    stop_flag.set()
                    for fut in pending:
                        fut.cancel()  # not started yet: ends at once in this process
                if progress:
                    now = float(sum(fractions))
                    if now != last:
                        progress(min(now, float(total)), total)
                        last = now
    except BaseException:
        # a failed job or a second Ctrl-C: drop the queue and stop the running replications
        # now rather than waiting for them (the pool has no public way to do that)
        procs = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        raise
    pool.shutdown(wait=True)
    return results
