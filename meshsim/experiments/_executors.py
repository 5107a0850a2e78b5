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
(default 900, or the ``MESHSIM_DASK_TIMEOUT`` environment variable). Ctrl-C cancels
the outstanding jobs and closes the cluster; pool and LocalCluster workers ignore SIGINT so
that only this process answers it (a Ctrl-C during the few seconds a LocalCluster takes to
start is therefore lost: press it again).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as cf_wait
from typing import Any, TypeVar

from meshsim._types import Progress
from meshsim._version import __version__
from meshsim.errors import MeshsimInputError

__all__ = ["run_on_dask", "map_jobs", "ClusterError", "DEFAULT_TIMEOUT_S", "is_dask"]

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 900.0
CONNECT_TIMEOUT_S = 15.0


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
) -> list[T]:
    """Run ``job_fn(job)`` for every job on a Dask cluster; results in job order.

    ``executor`` is ``dask-local`` (a LocalCluster for this call) or a scheduler address.
    Raises :class:`ClusterError` when no job finishes for ``timeout_s`` seconds.
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
        while pending:
            try:
                done, pending = dask_wait(  # type: ignore[no-untyped-call]  # distributed ships py.typed but leaves this unannotated
                    list(pending), timeout=limit, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                raise ClusterError(
                    f"no replication finished on the Dask cluster for {limit:.0f} s "
                    f"({done_count} of {total} done); set MESHSIM_DASK_TIMEOUT to wait longer",
                    field="executor",
                ) from None
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

    ``job_fn`` must be a module-level function (it is pickled by reference).
    """
    total = len(jobs)
    cores = workers or os.cpu_count() or 1
    if executor == "auto":
        executor = "process" if total > 1 and cores > 1 else "serial"
    if executor == "serial":
        out = []
        for i, job in enumerate(jobs):
            out.append(job_fn(job))
            if progress:
                progress(i + 1, total)
        return out
    if executor == "process":
        return _on_pool(job_fn, jobs, min(total, cores) or 1, progress)
    if is_dask(executor):
        return run_on_dask(job_fn, jobs, executor, progress, workers=workers, timeout_s=timeout_s)
    raise MeshsimInputError(
        f"unknown executor '{executor}': use serial, process, dask-local or tcp://host:port", field="executor"
    )


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: only the parent handles it (and stops the
    # workers), so the user sees one line instead of a traceback per worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _on_pool(job_fn: Callable[[Any], T], jobs: Sequence[Any], n: int, progress: Progress | None) -> list[T]:
    results: list[Any] = [None] * len(jobs)
    pool = ProcessPoolExecutor(max_workers=n, initializer=_ignore_sigint)
    try:
        futures = {pool.submit(job_fn, job): i for i, job in enumerate(jobs)}
        pending = set(futures)
        done_count = 0
        while pending:
            done, pending = cf_wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                results[futures[fut]] = fut.result()
                done_count += 1
                if progress:
                    progress(done_count, len(jobs))
    except BaseException:
        # Ctrl-C or a failed job: drop the queue and stop the running replications now
        # rather than waiting for them (the pool has no public way to do that)
        workers = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in workers:
            if proc.is_alive():
                proc.terminate()
        raise
    pool.shutdown(wait=True)
    return results
