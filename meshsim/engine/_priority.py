"""Non-preemptive priority: a free worker takes the waiting request of the highest class.

``discipline: priority`` keeps the FIFO discipline's workers and visits, and orders the
queue by the request's class (``workload[].priority``, carried to every downstream call
in its :class:`~meshsim.engine._runtime.Context`): higher first, first come first served
within a class. A request at work is never interrupted. With one worker this is the
M/G/1 non-preemptive priority queue of Cobham (1954) (docs/references.md §11).
"""

from __future__ import annotations

from meshsim.engine._exchange import Exchange
from meshsim.engine._runtime import OVERFLOW_REMOTE
from meshsim.engine._server import QueuedWorkers, Visit

__all__ = ["PriorityWorkers"]


class PriorityWorkers(QueuedWorkers):
    """FIFO workers whose queue is ordered by class (highest ``ctx.priority`` first)."""

    __slots__ = ()

    def admit(self, exchange: Exchange) -> None:
        """Take a free worker, or wait behind every request of the same or a higher class."""
        replica = self.replica
        if replica.busy_workers < replica.capacity:
            Visit(exchange, self.path).start()
            return
        queue = replica.queue
        limit = replica.spec.queue_limit
        if limit is not None and len(queue) >= limit:
            exchange.respond(OVERFLOW_REMOTE)
            return
        priority = exchange.ctx.priority
        at = len(queue)
        while at > 0 and queue[at - 1].exchange.ctx.priority < priority:
            at -= 1
        queue.insert(at, Visit(exchange, self.path))
