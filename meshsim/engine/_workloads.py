"""End-user traffic: arrival processes with rate profiles, and the end user's own timeout and retries."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simpy.events import NORMAL

from meshsim.distributions import Distribution, uniform_sampler
from meshsim.engine._clients import ClientRetries, NumberedTry, TimedTries
from meshsim.engine._control import Control
from meshsim.engine._proxy import Proxy
from meshsim.engine._runtime import Context, Outcome, Wake
from meshsim.engine._timers import Timer
from meshsim.scenario import Workload

if TYPE_CHECKING:
    from meshsim.engine._population import User

__all__ = ["in_flight_ages", "install", "rate_changes"]


def rate_changes(scenario_faults: list[Any], w: Workload) -> list[tuple[float, float]]:
    """(time s, rate /s) steps of ``w``: its profile times any active ``load`` faults."""
    times = {0.0}
    times.update(step.at for step in w.profile)
    loads = [f for f in scenario_faults if f.kind == "load" and f.target in (None, w.name)]
    for f in loads:
        times.add(f.at)
        if f.duration is not None:
            times.add(f.at + f.duration)
    steps = sorted(w.profile, key=lambda s: s.at)
    out = []
    for t in sorted(times):
        rate = w.rate or 0.0  # a closed workload (users) has no arrival rate
        for step in steps:
            if step.at <= t:
                rate = step.rate
        for f in loads:
            if f.at <= t and (f.duration is None or t < f.at + f.duration):
                rate *= f.factor or 1.0
        out.append((t, rate))
    return out


def in_flight_ages(sources: list[Arrivals], now_s: float) -> None:
    """Record the age at ``now_s`` of every counted request still in flight (the run's end)."""
    for source in sources:
        ages = source.meter.stats.in_flight_age
        for request in source.live:
            ages.add(now_s - request.start_s)


def install(control: Control, closed: Callable[[Control, Workload, _Shared], Arrivals] | None = None) -> list[Arrivals]:
    """Start one arrival process per workload; ``closed`` makes a closed workload's (its users)."""
    streams = _Shared(control)
    out = []
    for w in control.scenario.workload:
        if w.closed and closed is None:
            raise ValueError(f"workload {w.name} is closed (users): pass its population's maker")
        arrivals = closed(control, w, streams) if w.closed and closed is not None else Arrivals(control, w, streams)
        arrivals.start()
        out.append(arrivals)
    return out


class _Shared:
    """The draws every workload shares: request keys and the clients' back-off jitter."""

    def __init__(self, control: Control) -> None:
        self.u_keys = uniform_sampler(control.stream("keys"))
        self.u_backoff = uniform_sampler(control.stream("client"))
        self.needs_keys = control.needs_keys  # request keys only matter to ring-hash balancing


class Arrivals(Wake):
    """One workload's arrival process (Poisson or constant), following its rate steps."""

    __slots__ = (
        "control",
        "workload",
        "ingress",
        "shared",
        "meter",
        "client",
        "gap",
        "steps",
        "i",
        "poisson",
        "end_s",
        "live",
    )

    def __init__(self, control: Control, w: Workload, shared: _Shared) -> None:
        """Arrivals of workload ``w`` through its own ingress proxy."""
        self.attach(control, w, shared)
        self.gap: Callable[[], float] = Distribution("exponential", (("mean", 1.0),)).sampler(
            control.stream(f"arrivals/{w.name}")
        )
        self.steps = rate_changes(list(control.scenario.faults), w)
        self.i = 0
        self.poisson = w.arrival == "poisson"

    def attach(self, control: Control, w: Workload, shared: _Shared) -> None:
        """What every workload source has, open or closed: its ingress, meter, client and live requests."""
        self.control = control
        self.workload = w
        self.ingress = Proxy(f"workload:{w.name}", w.origin, True)
        self.shared = shared
        self.meter = control.recorder.workload(w.name)
        self.client = ClientRetries(w.client, shared.u_backoff, control.env)  # the workload's one client
        self.end_s = control.end_s
        self.live: dict[UserRequest, None] = {}  # counted requests not ended yet (their ages at the end)

    def start(self) -> None:
        """Schedule the first arrival."""
        self._next()

    def _next(self) -> None:
        control = self.control
        now = control.env._now
        if now >= self.end_s:
            return
        steps = self.steps
        i = self.i
        while i + 1 < len(steps) and steps[i + 1][0] <= now:
            i += 1
        self.i = i
        rate = steps[i][1]
        next_change = steps[i + 1][0] if i + 1 < len(steps) else None
        if rate <= 0:
            if next_change is not None:
                self.callbacks = _RATE_CHANGE
                control.env.schedule(self, NORMAL, next_change - now)  # type: ignore[arg-type]  # a Wake
            return
        gap = self.gap() / rate if self.poisson else 1.0 / rate
        if next_change is not None and now + gap > next_change:
            # the exponential is memoryless: restart the draw at the new rate
            self.callbacks = _RATE_CHANGE
            control.env.schedule(self, NORMAL, next_change - now)  # type: ignore[arg-type]  # a Wake
            return
        self.callbacks = _ARRIVE
        control.env.schedule(self, NORMAL, gap)  # type: ignore[arg-type]  # a Wake

    def _arrive(self) -> None:
        if self.control.env._now < self.end_s:
            UserRequest(self).start()
        self._next()


_ARRIVE: tuple[Callable[[Arrivals], None]] = (Arrivals._arrive,)
_RATE_CHANGE: tuple[Callable[[Arrivals], None]] = (Arrivals._next,)


class UserRequest(TimedTries):
    """One end user's request: its tries (the client's own timeout and retries), counted after warm-up."""

    __slots__ = (
        "arrivals",
        "start_s",
        "counted",
        "trace",
        "key",
        "taken",
        "wait_s",
        "user",
    )

    def __init__(self, arrivals: Arrivals, user: User | None = None) -> None:
        """A request of ``arrivals``' workload, arriving now (sent by ``user`` of a closed workload)."""
        self.arrivals = arrivals
        self.user = user
        self.start_s = arrivals.control.env._now
        self.counted = self.start_s >= arrivals.control.warmup_s
        self.trace: list[dict[str, Any]] | None = None
        self.key = 0
        super().__init__()
        self.taken = 0  # tokens the client's last retry took (AWS retry quota)
        self.wait_s = 0.0  # the last back-off

    def start(self) -> None:
        """Count the request, decide its sampling and key, make the first try."""
        arrivals = self.arrivals
        if self.counted:
            arrivals.meter.stats.requests += 1
            arrivals.live[self] = None
            tracing = arrivals.control.tracing
            if tracing.sample > 0.0 and tracing.uniform() < tracing.sample:
                self.trace = []
        if arrivals.shared.needs_keys:
            self.key = int(arrivals.shared.u_keys() * 1_000_000)
        self._try()

    def _try(self) -> None:
        limiter = self.arrivals.client.rate_limiter
        if limiter is not None and not limiter.acquire(self):
            return  # the adaptive mode's client-side rate limit holds it: released() comes later
        self.released()

    def released(self) -> None:
        """Send the next try (the client's rate limiter, if any, let it go)."""
        arrivals = self.arrivals
        client = arrivals.workload.client
        self.tries += 1
        self.open = True
        if client.timeout is not None:
            self.timer = Timer(self)
            arrivals.control.timers.every(client.timeout, self.timer)
        # with client retries, each try tells which it is, so a late answer to an old one is dropped
        owner = self if self.arrivals.client.max_retries == 0 else NumberedTry(self, self.tries)
        ctx = Context(self.tries == 1, self.trace, 0, self.key, arrivals.workload.priority)

        arrivals.control.send(arrivals.ingress, arrivals.workload.entry, ctx, owner)

    def resume(self, res: Outcome, child: Any) -> None:
        """The only try answered (a client without retries)."""
        self.answered(self.tries, res)

    def _tried(self, res: Outcome, client_timeout: bool) -> None:
        arrivals = self.arrivals
        client = arrivals.client
        if self.tries == 1 and (res.cause is None or not client.max_retries) and client.stateless:
            self._finish(res)  # the usual case: nothing to decide or count
            return
        control = arrivals.control
        now = control.env._now
        w = arrivals.workload
        counted = now >= control.warmup_s
        if self.tries > 1 and counted:
            control.recorder.client_retry("user", w.entry, w.name, False, now)
        taken = client.decide(res, self.tries - 1, client_timeout, now)
        if taken is None:
            client.ended(res.cause is None, self.taken)
            self._finish(res)
            return
        self.taken = taken
        if counted:
            control.recorder.client_retry("user", w.entry, w.name, True, now)
        wait_s = client.backoff.wait_s(self.tries, self.wait_s)
        self.wait_s = wait_s
        if wait_s > 0:
            self.callbacks = _RETRY
            self.arrivals.control.env.schedule(self, NORMAL, wait_s)  # type: ignore[arg-type]  # a Wake
        else:
            self._try()

    def _finish(self, res: Outcome) -> None:
        if self.user is not None:
            self.user.answered()  # a closed workload's user thinks, then sends the next
        if not self.counted:
            return
        arrivals = self.arrivals
        del arrivals.live[self]
        control = arrivals.control
        now = control.env._now
        arrivals.meter.done(res.cause, now - self.start_s, now)
        trace = self.trace
        if trace:
            tracing = control.tracing
            tracing.traces_done += 1
            tid = f"{tracing.replication:08x}{tracing.traces_done:024x}"
            name = arrivals.workload.name
            for span in trace:
                span["trace_id"] = tid
                span["workload"] = name
            tracing.spans.extend(trace)


_RETRY: tuple[Callable[[UserRequest], None]] = (UserRequest._try,)
