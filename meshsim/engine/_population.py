"""Closed workloads: a population of end users who each wait for the answer, think, and ask again.

A user sends a request, waits for its end (the client's own timeout and retries
included), thinks for a ``think_time`` draw and sends the next, as a k6 virtual user or a
Locust user does. Under overload a closed population slows down with the mesh (at most
one request per user in flight), where open arrivals keep coming and pile up.

The number of users follows ``users`` and the linear ramps of ``stages`` (k6's
ramping-vus), times any active ``load`` fault's factor, rounded down. A user who is no
longer wanted stops after its request in flight ends (k6's graceful ramp-down) or at
once when thinking; a user wanted again starts with a think.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from simpy.events import NORMAL

from meshsim.distributions import Sampler, constant
from meshsim.engine._control import Control
from meshsim.engine._runtime import Wake
from meshsim.engine._workloads import Arrivals, UserRequest, _Shared
from meshsim.scenario import Workload

__all__ = ["Population", "User", "user_counts"]


def _load_factor(faults: list[Any], name: str, t_s: float) -> float:
    factor = 1.0
    for f in faults:
        active = f.at <= t_s and (f.duration is None or t_s < f.at + f.duration)
        if active and f.kind == "load" and f.target in (None, name):
            factor *= f.factor or 1.0
    return factor


def user_counts(faults: list[Any], w: Workload, end_s: float) -> list[tuple[float, int]]:
    """(time s, users wanted from then on) of closed workload ``w`` up to ``end_s``, in time order.

    The wanted count is floor(ramp(t) x load factor(t)): ``ramp`` is linear between the
    stage corners, the factor steps at load faults' edges; a change is listed at the
    time the product crosses an integer.
    """
    corners = w.user_steps()
    edges = {t for t, _ in corners}
    for f in faults:
        if f.kind == "load" and f.target in (None, w.name):
            edges.add(f.at)
            if f.duration is not None:
                edges.add(f.at + f.duration)
    edges.add(end_s)
    times = sorted(t for t in edges if 0.0 <= t <= end_s)

    def ramp(t_s: float) -> float:
        for (t0, a), (t1, b) in zip(corners, corners[1:]):
            if t0 <= t_s < t1:
                return a + (b - a) * (t_s - t0) / (t1 - t0)
        return corners[-1][1]

    out: list[tuple[float, int]] = []

    def want(t_s: float, n: int) -> None:
        if not out or out[-1][1] != n:
            out.append((t_s, n))

    for t0, t1 in zip(times, times[1:]):
        factor = _load_factor(faults, w.name, t0)
        a, b = ramp(t0) * factor, ramp(t1) * factor  # the ramp is continuous; the factor steps at t0
        low = math.floor(a + 1e-9)
        want(t0, low)
        if b > a:
            for level in range(low + 1, math.floor(b + 1e-9) + 1):
                want(t0 + (t1 - t0) * (level - a) / (b - a), level)
        elif b < a:
            for level in range(low, math.floor(b + 1e-9), -1):
                want(t0 + (t1 - t0) * (a - level) / (a - b), level - 1)
    return out


class Population(Arrivals):
    """A closed workload's users, their number following the ramp (see :func:`user_counts`)."""

    __slots__ = ("users", "wanted", "think", "changes", "at")

    def __init__(self, control: Control, w: Workload, shared: _Shared) -> None:
        """The users of closed workload ``w``, sending through its own ingress proxy."""
        self.attach(control, w, shared)
        think = w.think_time.build() if w.think_time is not None else constant(0.0)
        self.think: Sampler = think.sampler(control.stream(f"think/{w.name}"))
        self.users: list[User] = []
        self.wanted = 0
        self.changes = user_counts(list(control.scenario.faults), w, control.end_s)
        self.at = 0

    def start(self) -> None:
        """Apply the count wanted at time 0 and schedule the next change."""
        self._next()

    def _next(self) -> None:
        env = self.control.env
        now = env._now
        changes = self.changes
        while self.at < len(changes) and changes[self.at][0] <= now:
            self._set_wanted(changes[self.at][1])
            self.at += 1
        if self.at < len(changes) and changes[self.at][0] < self.end_s:
            self.callbacks = _CHANGE
            env.schedule(self, NORMAL, changes[self.at][0] - now)  # type: ignore[arg-type]  # a Wake

    def _set_wanted(self, n: int) -> None:
        self.wanted = n
        users = self.users
        while len(users) < n:
            users.append(User(self, len(users)))
        for user in users[:n]:
            if user.idle:
                user.think_then_send()


_CHANGE: tuple[Callable[[Population], None]] = (Population._next,)


class User(Wake):
    """One end user of a closed workload: think, send, wait for the answer, again."""

    __slots__ = ("population", "index", "idle")

    def __init__(self, population: Population, index: int) -> None:
        """User number ``index`` (from 0) of ``population``, not started yet."""
        self.population = population
        self.index = index
        self.idle = True  # neither thinking nor waiting for an answer

    def think_then_send(self) -> None:
        """Think for a draw of the think time, then send a request."""
        self.idle = False
        pop = self.population
        wait_s = pop.think()
        self.callbacks = _SEND
        pop.control.env.schedule(self, NORMAL, wait_s if wait_s > 0.0 else 0.0)  # type: ignore[arg-type]

    def _send(self) -> None:
        pop = self.population
        if self.index >= pop.wanted or pop.control.env._now >= pop.end_s:
            self.idle = True  # ramped down while thinking, or the run is over
            return
        UserRequest(pop, self).start()

    def answered(self) -> None:
        """The user's request ended (ok or not): think, then the next one (unless ramped down)."""
        if self.index >= self.population.wanted:
            self.idle = True
            return
        self.think_then_send()


_SEND: tuple[Callable[[User], None]] = (User._send,)
