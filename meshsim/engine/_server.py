"""The replica's side of an attempt: a worker from a FIFO queue, the service time, downstream calls.

Two service disciplines give the same FIFO multi-worker queue (processor sharing is
:class:`~meshsim.engine._sharing.SharedCores`, a queue ordered by class
:class:`~meshsim.engine._priority.PriorityWorkers`):

- :class:`QueuedWorkers` moves each attempt through a :class:`Visit` (queue, work, the
  service's downstream calls, the answer), one event per step. Every service can use it.
- :class:`PlannedWorkers` is for a service that makes no calls: a request's work is known
  when it arrives, so its start is the earliest time a worker is free (the Kiefer-Wolfowitz
  recursion of a FIFO queue with c servers) and its answer is scheduled at once, without
  events for the start or the end of the work. Used when nothing can change the work
  while the request waits (no contention, no cancellation, no fault on the service).

A crash during the work turns the answer into a reset; a caller that gives up leaves the
work running (wasted work) unless the service has ``cancel_on_timeout``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from simpy.events import NORMAL

from meshsim.engine._runtime import OK, OVERFLOW_REMOTE, RESET, Outcome, Replica, Wake, outcome

if TYPE_CHECKING:
    from meshsim.engine._exchange import Exchange
    from meshsim.engine._path import RequestPath
    from meshsim.scenario import CallSpec

__all__ = ["PlannedWorkers", "QueuedWorkers", "Visit", "Workers"]


class Workers(Protocol):
    """A replica's service discipline: how an arriving attempt gets a worker and an answer."""

    def admit(self, exchange: Exchange) -> None:
        """An attempt arrives now; it is answered through ``exchange``."""

    def busy(self, now_s: float) -> float:
        """Workers (or cores, for processor sharing) busy at ``now_s`` (the autoscaler's utilization)."""

    def close(self, now_s: float) -> None:
        """The run ends (or stops) at ``now_s``: settle the replica's busy time."""


def _trace_span(exchange: Exchange, res: Outcome) -> dict[str, Any]:
    """The server span of a sampled request's attempt."""
    replica = exchange.replica
    spec = replica.spec
    parent = exchange.ctx.span_id
    return {
        "span_id": f"{exchange.span_id:016x}",
        "parent_id": f"{parent:016x}" if parent else None,
        "service": spec.service,
        "version": spec.version,
        "name": f"serve {spec.service}",
        "kind": "server",
        "peer_service": None,
        "start_s": exchange.arrived_s,
        "duration_s": exchange.ended_s - exchange.arrived_s,
        "error": res.cause is not None,
        "status_code": res.status,
        "location": replica.zone,
        "instance": f"{spec.service}-{replica.rid}",
        "request_bytes": spec.request_bytes,
        "response_bytes": spec.response_bytes,
    }


class PlannedWorkers:
    """FIFO with ``concurrency`` workers, planned on arrival (a service without calls)."""

    __slots__ = ("replica", "path")

    def __init__(self, replica: Replica, path: RequestPath) -> None:
        """The discipline of ``replica``: every worker free from now."""
        self.replica = replica
        self.path = path
        replica.plan = [replica.started_s] * replica.capacity

    def admit(self, exchange: Exchange) -> None:
        """Plan the request: start when a worker is free, answer when the work is done."""
        replica = self.replica
        spec = replica.spec
        path = self.path
        now = path.env._now
        plan = replica.plan
        free_s = plan[0]
        if free_s > now:  # every worker is busy: wait in line
            limit = spec.queue_limit
            if limit is not None:
                waiting = replica.waiting
                while waiting and waiting[0] <= now:
                    waiting.popleft()
                if len(waiting) >= limit:
                    exchange.respond(OVERFLOW_REMOTE)
                    return
                waiting.append(free_s)
            start = free_s
        else:
            start = now
        work = spec.sampler() * spec.degrade_factor
        if spec.extra_latency is not None:
            work += spec.extra_latency()
        end = start + work
        heapq.heapreplace(plan, end)
        # busy time inside the measured window (the part after a stop is taken back by close)
        lo = start if start > replica.warmup_s else replica.warmup_s
        hi = end if end < replica.horizon_s else replica.horizon_s
        if hi > lo:
            replica.busy_s += hi - lo
        exchange.arrived_s = now
        exchange.started_s = start
        exchange.epoch = replica.epoch
        if exchange.ctx.trace is not None:
            exchange.span_id = path.tracing.new_span_id()
        err = spec.error_rate + spec.extra_error_rate
        u = spec.uniform() if err > 0.0 else 1.0
        exchange.answer_at(spec.error_for(u) if u < err else OK, end)

    def complete(self, exchange: Exchange) -> None:
        """The planned answer arrives at the caller: the server's books, as of the end of the work."""
        replica = self.replica
        spec = replica.spec
        path = self.path
        end = exchange.ended_s
        if replica.epoch != exchange.epoch and replica.lost_between(exchange.arrived_s, end):
            exchange.res = RESET  # the replica crashed while working on this request
        if end >= path.warmup_s:
            if exchange.abandoned:
                spec.meter.stats.wasted_s += end - exchange.started_s
            spec.meter.served(exchange.arrived_s, exchange.started_s, end)
        trace = exchange.ctx.trace
        if trace is not None:
            trace.append(_trace_span(exchange, exchange.res))

    def busy(self, now_s: float) -> float:
        """Workers whose planned work reaches past ``now_s`` (planned work is back to back)."""
        return sum(1 for free_s in self.replica.plan if free_s > now_s)

    def close(self, now_s: float) -> None:
        """Take back the busy time planned after ``now_s`` (a stopped run)."""
        replica = self.replica
        lo = now_s if now_s > replica.warmup_s else replica.warmup_s
        for free_s in replica.plan:
            hi = free_s if free_s < replica.horizon_s else replica.horizon_s
            if hi > lo:
                replica.busy_s -= hi - lo


class QueuedWorkers:
    """FIFO with ``concurrency`` workers, one :class:`Visit` per attempt (any service)."""

    __slots__ = ("replica", "path")

    def __init__(self, replica: Replica, path: RequestPath) -> None:
        """The discipline of ``replica``."""
        self.replica = replica
        self.path = path

    def admit(self, exchange: Exchange) -> None:
        """Take a free worker, or wait in the FIFO queue, or overflow when the queue is full."""
        replica = self.replica
        if replica.busy_workers < replica.capacity:
            Visit(exchange, self.path).start()
            return
        limit = replica.spec.queue_limit
        if limit is not None and len(replica.queue) >= limit:
            exchange.respond(OVERFLOW_REMOTE)
            return
        replica.queue.append(Visit(exchange, self.path))

    def busy(self, now_s: float) -> float:
        """Workers in use now."""
        return self.replica.busy_workers

    def close(self, now_s: float) -> None:
        """Integrate busy time up to ``now_s``."""
        self.replica.set_busy(now_s, 0)


# Where a visit is in its life.
_QUEUED, _WORKING, _CALLING, _DONE = 0, 1, 2, 3


class Visit(Wake):
    """An attempt at a replica with the FIFO discipline: queue, a worker, work, downstream calls, answer."""

    __slots__ = ("exchange", "path", "replica", "spec", "work_s", "held", "stage", "step", "repeat", "ctx")

    def __init__(self, exchange: Exchange, path: RequestPath) -> None:
        """The replica's side of ``exchange``, arriving now."""
        replica = exchange.replica
        self.exchange = exchange
        exchange.visit = self
        self.path = path
        self.replica = replica
        self.spec = replica.spec
        now = path.env._now
        exchange.arrived_s = now
        exchange.started_s = now
        exchange.epoch = replica.epoch
        self.work_s = 0.0
        self.held = False  # holds a worker
        self.stage = _QUEUED
        self.step = 0
        self.repeat = 0
        ctx = exchange.ctx
        if ctx.trace is not None:
            exchange.span_id = path.tracing.new_span_id()
            ctx = ctx.child(exchange.span_id)
        self.ctx = ctx  # the context of its downstream calls

    def start(self) -> None:
        """Take a worker (unless one was handed over) and do the work."""
        replica = self.replica
        spec = self.spec
        path = self.path
        now = path.env._now
        if not self.held:
            replica.set_busy(now, 1)
            self.held = True
        self.exchange.started_s = now
        self.stage = _WORKING
        work = spec.sampler() * spec.degrade_factor
        if spec.contention_s:
            work += spec.contention_s * (replica.busy_workers - 1)  # the others in progress slow this one
        if spec.extra_latency is not None:
            work += spec.extra_latency()
        self.work_s = work
        if work <= 0:
            self._served()
        elif replica.share is not None:
            replica.share.add(self, work)  # processor sharing (_sharing.CoreShare)
        else:
            self.callbacks = _SERVED
            path.schedule(self, NORMAL, work)

    @property
    def working(self) -> bool:
        """Whether the visit is doing its own work now."""
        return self.stage == _WORKING

    def work_done(self) -> None:
        """Its share of the cores finished the work (processor sharing)."""
        self._served()

    def _take_worker(self) -> None:
        if self.stage == _QUEUED:  # not cancelled while the worker was on its way
            self.start()

    def _served(self) -> None:
        if self.stage != _WORKING:
            return  # cancelled while working
        spec = self.spec
        path = self.path
        if self.exchange.abandoned and path.env._now >= path.warmup_s:
            spec.meter.stats.wasted_s += self.work_s
        err = spec.error_rate + spec.extra_error_rate
        u = spec.uniform() if err > 0.0 else 1.0
        if u < err:
            self._finish(spec.error_for(u))
        elif spec.calls:
            if not spec.holds_worker:
                self._release()
            self.stage = _CALLING
            self._next_step()
        else:
            self._finish(OK)

    # ----- downstream calls -----
    def _next_step(self) -> None:
        calls = self.spec.calls
        while self.step < len(calls):
            kind, item = calls[self.step]
            if kind == "seq":
                call: CallSpec = item
                if self.repeat == 0 and call.probability < 1.0 and self.spec.uniform() >= call.probability:
                    self.step += 1
                    continue
                self.repeat += 1
                sidecar = self.replica.sidecar
                assert sidecar is not None
                self.path.call(sidecar, call.to, self.ctx, self)
                return
            if Fanout(self, item).start():
                return
            self.step += 1
        self._finish(OK)

    def resume(self, res: Outcome, child: Any) -> None:
        """A downstream call (or parallel step) ended with ``res``."""
        if self.stage != _CALLING:
            return  # cancelled meanwhile: nobody waits for the rest
        kind, item = self.spec.calls[self.step]
        if res.cause is not None and (kind == "par" or not item.optional):
            self._finish(outcome(res.cause, 500))  # the caller fails with its dependency's cause
            return
        if kind != "seq" or self.repeat >= item.count:
            self.step += 1
            self.repeat = 0
        self._next_step()

    # ----- the end -----
    def _release(self) -> None:
        replica = self.replica
        self.held = False
        replica.set_busy(self.path.env._now, -1)
        if replica.queue:
            _hand_over(replica, self.path)

    def _finish(self, res: Outcome) -> None:
        self.stage = _DONE
        if self.held:
            self._release()
        exchange = self.exchange
        exchange.visit = None  # done: break the cycle, so reference counting frees both (no GC work)
        if self.replica.epoch != exchange.epoch:
            res = RESET  # the replica crashed while working on this request
        path = self.path
        now = path.env._now
        exchange.ended_s = now
        if now >= path.warmup_s:
            self.spec.meter.served(exchange.arrived_s, exchange.started_s, now)
        trace = exchange.ctx.trace
        if trace is not None:
            trace.append(_trace_span(exchange, res))
        exchange.respond(res)

    def cancel(self) -> None:
        """The caller reset the attempt: leave the queue or stop working, and answer with a reset.

        Calls already sent downstream run on; their answers are dropped.
        """
        if self.stage == _DONE:
            return
        share = self.replica.share
        if self.stage == _WORKING and share is not None:
            self.stage = _DONE
            share.remove()  # the others get its share of the cores
        if self.stage == _QUEUED:
            self.exchange.started_s = self.exchange.arrived_s
            if not self.held:
                self.replica.queue.remove(self)
            # else a worker was handed over and not taken up yet: _finish passes it on
        self._finish(RESET)


_SERVED: tuple[Callable[[Visit], None]] = (Visit._served,)
_START: tuple[Callable[[Visit], None]] = (Visit._take_worker,)


def _hand_over(replica: Replica, path: RequestPath) -> None:
    """Give a freed worker to the oldest waiting visit; it starts after the current event.

    Starting it later rather than at once keeps a chain of zero-work visits from running
    inside one another. The worker counts as busy from now, so no newcomer overtakes.
    """
    nxt: Visit = replica.queue.popleft()
    replica.busy_workers += 1  # busy time was integrated up to now by the release
    nxt.held = True
    nxt.callbacks = _START
    path.schedule(nxt, NORMAL, 0.0)


class Fanout:
    """A parallel step of a visit: its calls start at once; it ends when every branch answered.

    It answers the visit with the first failing required branch (in the order of the
    step), or OK.
    """

    __slots__ = ("visit", "calls", "branches", "pending")

    def __init__(self, visit: Visit, calls: list[CallSpec]) -> None:
        """The parallel step ``calls`` of ``visit``."""
        self.visit = visit
        self.calls = calls
        self.branches: list[Branch] = []
        self.pending = 0

    def start(self) -> bool:
        """Start the branches whose probability draw says so; False when none is made."""
        u = self.visit.spec.uniform
        self.branches = [Branch(self, c) for c in self.calls if c.probability >= 1.0 or u() < c.probability]
        if not self.branches:
            return False
        self.pending = len(self.branches)
        for branch in self.branches:
            branch.next_call()
        return True

    def branch_done(self) -> None:
        """One branch ended; the last one answers the visit."""
        self.pending -= 1
        if self.pending:
            return
        res = OK
        for branch in self.branches:
            if branch.res.cause is not None and not branch.spec.optional:
                res = branch.res
                break
        self.branches = []  # break the branches' cycle: reference counting frees them
        self.visit.resume(res, self)


class Branch:
    """One call of a parallel step, made ``count`` times in a row (it stops at the first failure)."""

    __slots__ = ("fanout", "spec", "left", "res")

    def __init__(self, fanout: Fanout, spec: CallSpec) -> None:
        """The call ``spec`` of ``fanout``."""
        self.fanout = fanout
        self.spec = spec
        self.left = spec.count
        self.res = OK

    def next_call(self) -> None:
        """Make the next of the ``count`` calls."""
        self.left -= 1
        visit = self.fanout.visit
        sidecar = visit.replica.sidecar
        assert sidecar is not None
        visit.path.call(sidecar, self.spec.to, visit.ctx, self)

    def resume(self, res: Outcome, child: Any) -> None:
        """One call ended."""
        self.res = res
        if res.cause is None and self.left > 0:
            self.next_call()
            return
        self.fanout.branch_done()
