"""Processor sharing: a replica whose requests in service share ``cores`` CPUs.

``discipline: processor_sharing`` models a thread-per-request server with more threads
than cores: ``concurrency`` is the number of threads (a request holds one from the FIFO
queue until it answers, as with ``fifo``), and the requests doing their own work (not
waiting on a downstream call) share the cores, each at ``min(1, cores / n)`` of a core
when ``n`` of them work at once. With one core and enough threads this is the M/G/1-PS
queue of Kleinrock (1976), whose mean response time E[S]/(1-rho) does not depend on the
shape of the service time (docs/references.md).

The work is kept in *virtual time*: while ``n`` requests work, virtual time runs at
``min(1, cores / n)`` per second, and a request that arrived at virtual time ``v`` with
work ``w`` is done when virtual time reaches ``v + w``. So each change (a start, an end,
a cancellation) costs O(log n) and only the next completion is on the event queue.

A processor-sharing replica's utilization (and the autoscaler's) is CPU: cores in use
(min(n, cores)) over ``cores``, not threads over ``concurrency``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from simpy.events import NORMAL

from meshsim.engine._runtime import Replica, Wake
from meshsim.engine._server import QueuedWorkers, Visit

if TYPE_CHECKING:
    from meshsim.engine._path import RequestPath

__all__ = ["CoreShare", "SharedCores"]


class SharedCores(QueuedWorkers):
    """Threads from a FIFO queue (``concurrency``), their work on ``cores`` shared CPUs."""

    __slots__ = ()

    def __init__(self, replica: Replica, path: RequestPath) -> None:
        """The discipline of ``replica``: its working requests share ``replica.spec.cores`` cores."""
        super().__init__(replica, path)
        cores = replica.spec.cores
        assert cores is not None
        replica.share = CoreShare(path, cores, replica.warmup_s, replica.horizon_s)

    def busy(self, now_s: float) -> float:
        """Cores in use now (the autoscaler's utilization is CPU, as the HPA's)."""
        share = self.replica.share
        assert share is not None
        return min(float(share.working), share.cores)

    def close(self, now_s: float) -> None:
        """The replica's busy time is its core-seconds in use inside the measured window."""
        share = self.replica.share
        assert share is not None
        super().close(now_s)  # settles the threads' books
        share.settle()
        self.replica.busy_s = share.busy_s


class _Tick(Wake):
    """The next completion of a :class:`CoreShare`; a newer tick makes it stale."""

    __slots__ = ("share",)

    def __init__(self, share: CoreShare) -> None:
        self.share = share
        self.callbacks = _TICK

    def _fire(self) -> None:
        share = self.share
        if share.tick is self:
            share.tick = None
            share.complete()


_TICK: tuple[Callable[[_Tick], None]] = (_Tick._fire,)


class CoreShare:
    """The requests working on one replica, sharing its cores (processor sharing).

    ``virtual_s`` is the work each working request has received since the replica started
    (seconds of one core); the heap holds ``(virtual time when done, order, visit)``.
    """

    __slots__ = ("path", "cores", "virtual_s", "stamp_s", "heap", "working", "order", "tick", "busy_s", "window")

    def __init__(self, path: RequestPath, cores: float, warmup_s: float = 0.0, horizon_s: float = math.inf) -> None:
        """An idle share of ``cores`` cores; core-seconds in use count from ``warmup_s`` to ``horizon_s``."""
        self.path = path
        self.cores = cores
        self.busy_s = 0.0  # core-seconds in use inside the measured window
        self.window = (warmup_s, horizon_s)
        self.virtual_s = 0.0
        self.stamp_s = path.env._now
        self.heap: list[tuple[float, int, Visit]] = []
        self.working = 0
        self.order = 0
        self.tick: _Tick | None = None

    def _rate(self) -> float:
        """Core share of each working request now (per second of real time)."""
        n = self.working
        return 1.0 if n <= self.cores else self.cores / n

    def _advance(self) -> None:
        now = self.path.env._now
        if self.working:
            self.virtual_s += (now - self.stamp_s) * self._rate()
            lo = max(self.stamp_s, self.window[0])
            hi = min(now, self.window[1])
            if hi > lo:
                self.busy_s += (hi - lo) * min(float(self.working), self.cores)
        self.stamp_s = now

    def settle(self) -> None:
        """Count the core-seconds in use up to now (the run's end)."""
        self._advance()

    def add(self, visit: Visit, work_s: float) -> None:
        """``visit`` starts ``work_s`` seconds of work (on one core) now."""
        self._advance()
        self.order += 1
        heapq.heappush(self.heap, (self.virtual_s + work_s, self.order, visit))
        self.working += 1
        self._schedule()

    def remove(self) -> None:
        """A working visit was cancelled: its share goes to the others (its heap entry is dropped later)."""
        self._advance()
        self.working -= 1
        self._schedule()

    def _drop_stale(self) -> None:
        heap = self.heap
        while heap and not heap[0][2].working:
            heapq.heappop(heap)

    def _schedule(self) -> None:
        self._drop_stale()
        if not self.heap:
            self.tick = None
            return
        tick = self.tick = _Tick(self)
        wait_s = (self.heap[0][0] - self.virtual_s) / self._rate()
        self.path.schedule(tick, NORMAL, wait_s if wait_s > 0.0 else 0.0)

    def complete(self) -> None:
        """The first request in line is done (and any due at the same virtual time)."""
        self._advance()
        heap = self.heap
        self._drop_stale()
        if not heap:
            return
        # the tick was scheduled for the head's end: it is done, whatever the rounding says
        if heap[0][0] > self.virtual_s:
            self.virtual_s = heap[0][0]
        done: list[Visit] = []
        while heap and heap[0][0] <= self.virtual_s:
            visit = heapq.heappop(heap)[2]
            if visit.working:
                done.append(visit)
                self.working -= 1
        self._schedule()
        for visit in done:
            visit.work_done()
