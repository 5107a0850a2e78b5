"""Timers of the request path: per-try and route timeouts, the end user's timeout, hedge delays.

Most timers never fire (the answer comes first), and many share one length (a policy's
``per_try_timeout``, a client's ``timeout``). Timers of one length fire in the order they
were set, so a :class:`TimerLane` keeps them in a FIFO and puts only its head on SimPy's
queue: the queue stays as small as the number of things really in flight, however many
timers are pending. Other timers (a route deadline's remainder) go on the queue directly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from simpy.events import NORMAL

from meshsim.engine._runtime import ROUTE_TIMEOUT, Outcome, Wake

if TYPE_CHECKING:
    import simpy

__all__ = ["Timer", "TimerLane", "TimerOwner", "Timers"]


class TimerOwner(Protocol):
    """Something a :class:`Timer` tells when its time comes."""

    def on_timer(self, timer: Timer) -> None:
        """``timer`` fired."""


class Timer(Wake):
    """A one-shot timer for ``owner``; ``cancel()`` when it is no longer needed."""

    __slots__ = ("owner", "fired", "due_s")

    def __init__(self, owner: TimerOwner, fired: Outcome = ROUTE_TIMEOUT) -> None:
        """A timer for ``owner``; ``fired`` is the outcome it stands for."""
        self.owner: TimerOwner | None = owner
        self.fired = fired
        self.due_s = 0.0
        self.callbacks = _FIRE

    def cancel(self) -> None:
        """Never fire (the owner got its answer first)."""
        self.owner = None

    def _fire(self) -> None:
        owner = self.owner
        if owner is not None:
            self.owner = None
            owner.on_timer(self)


_FIRE: tuple[Callable[[Timer], None]] = (Timer._fire,)


class TimerLane(Wake):
    """Timers of one length, due in the order they were set; only the first is on SimPy's queue."""

    __slots__ = ("env", "schedule", "delay_s", "queue", "armed")

    def __init__(self, env: simpy.Environment, schedule: Callable[[Wake, int, float], None], delay_s: float) -> None:
        """A lane of ``delay_s``-second timers on ``env``."""
        self.env = env
        self.schedule = schedule
        self.delay_s = delay_s
        self.queue: deque[Timer] = deque()
        self.armed = False
        self.callbacks = _LANE

    def add(self, timer: Timer) -> None:
        """Start ``timer``: it fires ``delay_s`` from now unless cancelled."""
        timer.due_s = self.env._now + self.delay_s
        queue = self.queue
        # timers mostly end (cancelled) in the order they started: dropping the cancelled
        # ones at the head keeps the lane as short as what is really pending
        while queue and queue[0].owner is None:
            queue.popleft()
        queue.append(timer)
        if not self.armed:
            self.armed = True
            self.callbacks = _LANE
            self.schedule(self, NORMAL, self.delay_s)

    def _wake(self) -> None:
        now = self.env._now
        queue = self.queue
        while queue:
            timer = queue[0]
            if timer.owner is None:  # cancelled: drop it without waiting for its time
                queue.popleft()
                continue
            if timer.due_s > now:
                break
            queue.popleft()
            timer._fire()
        if queue:
            self.callbacks = _LANE
            self.schedule(self, NORMAL, max(0.0, queue[0].due_s - now))
        else:
            self.armed = False


_LANE: tuple[Callable[[TimerLane], None]] = (TimerLane._wake,)


class Timers:
    """The timers of one replication: a lane per fixed length, the queue for the rest."""

    def __init__(self, env: simpy.Environment, schedule: Callable[[Wake, int, float], None]) -> None:
        """Timers on ``env``, scheduled with ``schedule``."""
        self.env = env
        self.schedule = schedule
        self._lanes: dict[float, TimerLane] = {}

    def every(self, delay_s: float, timer: Timer) -> None:
        """Start ``timer`` for ``delay_s``, a length many timers share (a policy's or a client's timeout)."""
        lane = self._lanes.get(delay_s)
        if lane is None:
            lane = self._lanes[delay_s] = TimerLane(self.env, self.schedule, delay_s)
        lane.add(timer)

    def once(self, delay_s: float, timer: Timer) -> None:
        """Start ``timer`` for ``delay_s``, a length of its own (e.g. what is left of a deadline)."""
        timer.due_s = self.env._now + delay_s
        self.schedule(timer, NORMAL, delay_s)
