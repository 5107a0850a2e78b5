"""What requests move through at run time: outcomes, service versions, replicas and their workers.

Times are float seconds of simulated time; sizes are bytes.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import simpy

from meshsim.distributions import Distribution, Sampler

if TYPE_CHECKING:
    from meshsim.engine._policies import RateLimiter
    from meshsim.engine._proxy import Proxy
    from meshsim.engine._sharing import CoreShare
    from meshsim.metrics import ServiceMeter

#: The zone of a service with no placement and no locations in the scenario.
DEFAULT_ZONE = "local/local/local"

__all__ = [
    "CONNECT_FAILURE",
    "DEFAULT_ZONE",
    "NO_ENDPOINT",
    "OK",
    "OVERFLOW_LOCAL",
    "OVERFLOW_REMOTE",
    "PER_TRY_TIMEOUT",
    "RATE_LIMITED",
    "RESET",
    "ROUTE_TIMEOUT",
    "SERVER_ERROR",
    "Context",
    "NULL_WAITER",
    "Membership",
    "Outcome",
    "Replica",
    "Step",
    "VersionRuntime",
    "Wake",
    "Waiter",
    "outcome",
]


class Outcome:
    """How one attempt or request ended. ``cause`` None means ok (docs/scenario.md causes otherwise)."""

    __slots__ = ("cause", "status", "local", "no_response")

    def __init__(self, cause: str | None, status: int, local: bool = False, no_response: bool = False) -> None:
        self.cause = cause
        self.status = status
        self.local = local  # produced by the caller's own proxy (never reached the upstream)
        self.no_response = no_response  # reset, connect failure or timeout: no HTTP response

    @property
    def ok(self) -> bool:
        return self.cause is None

    def __repr__(self) -> str:
        return f"Outcome({self.cause}, {self.status})"


OK = Outcome(None, 200)
_CACHE: dict[tuple[Any, ...], Outcome] = {}


def outcome(cause: str, status: int, local: bool = False, no_response: bool = False) -> Outcome:
    """A shared immutable outcome (they are compared by field, never mutated)."""
    key = (cause, status, local, no_response)
    o = _CACHE.get(key)
    if o is None:
        o = _CACHE[key] = Outcome(cause, status, local, no_response)
    return o


OVERFLOW_LOCAL = outcome("overflow", 503, local=True)
OVERFLOW_REMOTE = outcome("overflow", 503)
NO_ENDPOINT = outcome("no_endpoint", 503, local=True)
CONNECT_FAILURE = outcome("connect_failure", 503, no_response=True)
PER_TRY_TIMEOUT = outcome("timeout", 504, no_response=True)
ROUTE_TIMEOUT = outcome("timeout", 504, local=True)
RATE_LIMITED = outcome("rate_limited", 429)
RESET = outcome("error", 503, no_response=True)
SERVER_ERROR = outcome("error", 500)


def server_error(status: int) -> Outcome:
    """The outcome of a server answering ``status`` (an error by its own draw)."""
    return SERVER_ERROR if status == 500 else outcome("error", status)


class Waiter(Protocol):
    """Something waiting for a call or an exchange to end (a request, a server, a retry loop)."""

    def resume(self, res: Outcome, child: Any) -> None:
        """``child`` ended with ``res``."""


class _NullWaiter:
    """Waits for nothing: the owner of mirrored copies, whose outcome is dropped."""

    def resume(self, res: Outcome, child: Any) -> None:
        """Drop the outcome."""


NULL_WAITER: Waiter = _NullWaiter()


class Wake:
    """Base of objects the engine puts on SimPy's event queue directly, without a process.

    SimPy's ``Environment.step`` only reads an event's ``callbacks`` and ``_ok``; a subclass
    sets ``callbacks`` to a one-function tuple (a class constant, so scheduling allocates
    nothing) naming the step to run when its time comes. One object is on the queue at most
    once at a time.
    """

    __slots__ = ("callbacks",)
    _ok: ClassVar[bool] = True  # never a failed event

    def __init__(self) -> None:
        self.callbacks: tuple[Callable[[Any], None], ...] | None = None


#: One step of a service's downstream calls: ("seq", CallSpec) or ("par", [CallSpec, ...]).
Step = tuple[str, Any]


@dataclass(slots=True)
class VersionRuntime:
    """Everything a replica of one service version needs at run time (seconds, bytes)."""

    service: str
    version: str | None
    concurrency: int
    queue_limit: int | None
    holds_worker: bool
    service_time: Distribution
    error_rate: float
    request_bytes: int
    response_bytes: int
    calls: list[Step]
    cancel_on_timeout: bool
    contention_s: float = 0.0
    cores: float | None = None  # processor sharing on this many cores (None: FIFO workers)
    prioritized: bool = False  # the queue serves higher-priority requests first (discipline: priority)
    planned: bool = False  # replicas plan their FIFO queue on arrival (see _server.PlannedWorkers)
    sampler: Sampler = field(kw_only=True)  # service time draws (s), from the version's own stream
    uniform: Sampler = field(kw_only=True)  # U(0,1) draws for errors and call probabilities
    meter: ServiceMeter = field(kw_only=True)  # the service's metrics
    # what active faults do to it (see the add_/remove_ methods)
    degrade_factor: float = 1.0
    extra_latency: Callable[[], float] | None = None  # extra service time per request (s)
    extra_error_rate: float = 0.0
    # (HTTP status, ratio) of the version's own errors; () with error_rate 0
    error_codes: tuple[tuple[int, float], ...] = ()
    # cumulative probability -> the answer, own errors first then each fault's (see error_for)
    error_table: tuple[tuple[float, Outcome], ...] = ()
    refuse_rate: float = 0.0  # the version's own share of refused connection attempts
    extra_refuse_rate: float = 0.0  # what refuse faults add (independent of the own share)
    refuse_share: float = 0.0  # own + extra: the share of connection attempts refused now
    refusals: Sampler | None = None  # U(0,1) draws deciding refusals (its own stream), when any
    _latency_faults: list[Callable[[], float]] = field(default_factory=list, repr=False)
    _error_faults: list[tuple[tuple[int, float], ...]] = field(default_factory=list, repr=False)
    _refuse_faults: list[float] = field(default_factory=list, repr=False)
    _degrade_faults: list[float] = field(default_factory=list, repr=False)

    @property
    def busy_units(self) -> float:
        """What utilization divides by: the cores of a processor-sharing replica, else its workers."""
        return self.cores if self.cores is not None else float(self.concurrency)

    def add_latency(self, sampler: Callable[[], float]) -> None:
        """A latency fault adds ``sampler()`` seconds to each request's service time."""
        self._latency_faults.append(sampler)
        self._refresh_latency()

    def remove_latency(self, sampler: Callable[[], float]) -> None:
        """A latency fault ended."""
        self._latency_faults.remove(sampler)
        self._refresh_latency()

    def _refresh_latency(self) -> None:
        samplers = list(self._latency_faults)
        if not samplers:
            self.extra_latency = None
        elif len(samplers) == 1:
            self.extra_latency = samplers[0]
        else:
            self.extra_latency = lambda: sum(s() for s in samplers)

    def set_errors(self, codes: tuple[tuple[int, float], ...]) -> None:
        """The version's own errors: (HTTP status, ratio) pairs."""
        self.error_codes = codes
        self.error_rate = sum(rate for _, rate in codes)
        self._refresh_errors()

    def add_error_rate(self, rate: float | tuple[tuple[int, float], ...]) -> None:
        """An errors fault: extra failures at ``rate`` (HTTP 500, or per status), independent of the own."""
        self._error_faults.append(((500, rate),) if isinstance(rate, float | int) else rate)
        self._refresh_errors()

    def remove_error_rate(self, rate: float | tuple[tuple[int, float], ...]) -> None:
        """An errors fault ended."""
        self._error_faults.remove(((500, rate),) if isinstance(rate, float | int) else rate)
        self._refresh_errors()

    def _refresh_errors(self) -> None:
        keep = 1.0 - self.error_rate
        table: list[tuple[float, Outcome]] = []
        acc = 0.0
        for code, rate in self.error_codes:
            acc += rate
            table.append((acc, server_error(code)))
        for codes in self._error_faults:
            # independent failures: this fault fails what everything before it let through
            for code, rate in codes:
                acc += keep * rate
                table.append((acc, server_error(code)))
            keep *= 1.0 - sum(rate for _, rate in codes)
        # total = 1 - prod(1 - r)
        self.extra_error_rate = max(0.0, 1.0 - keep - self.error_rate)
        self.error_table = tuple(table)

    def error_for(self, u: float) -> Outcome:
        """The error answered for a draw ``u`` below the total error rate (its status code by share)."""
        table = self.error_table
        for cum, res in table:
            if u < cum:
                return res
        return table[-1][1] if table else SERVER_ERROR

    def add_refuse_rate(self, rate: float) -> None:
        """A refuse fault: the replicas refuse ``rate`` of connection attempts, independent of the own share."""
        self._refuse_faults.append(rate)
        self._refresh_refusals()

    def remove_refuse_rate(self, rate: float) -> None:
        """A refuse fault ended."""
        self._refuse_faults.remove(rate)
        self._refresh_refusals()

    def _refresh_refusals(self) -> None:
        keep = 1.0 - self.refuse_rate
        for r in self._refuse_faults:
            keep *= 1.0 - r
        self.extra_refuse_rate = max(0.0, 1.0 - keep - self.refuse_rate)
        self.refuse_share = self.refuse_rate + self.extra_refuse_rate

    def set_refuse_rate(self, rate: float) -> None:
        """The version's own share of refused connection attempts."""
        self.refuse_rate = rate
        self._refresh_refusals()

    def refuses(self) -> bool:
        """Whether this connection attempt is refused (partial connection failure)."""
        share = self.refuse_share
        return share > 0.0 and self.refusals is not None and self.refusals() < share

    def add_degrade(self, factor: float) -> None:
        """A degrade fault multiplies the service time by ``factor``."""
        self._degrade_faults.append(factor)
        self._refresh_degrade()

    def remove_degrade(self, factor: float) -> None:
        """A degrade fault ended."""
        self._degrade_faults.remove(factor)
        self._refresh_degrade()

    def _refresh_degrade(self) -> None:
        prod = 1.0
        for x in self._degrade_faults:
            prod *= x
        self.degrade_factor = prod


class Membership:
    """A counter bumped whenever a service's endpoint list changes (lets callers cache it)."""

    __slots__ = ("version",)

    def __init__(self) -> None:
        self.version = 0


class Replica:
    """One pod in a zone: ``concurrency`` workers, the faults' flags and the control plane's view.

    How requests get a worker is the job of ``workers`` (see :mod:`meshsim.engine._server`):
    a FIFO queue of visits (``queue``, ``busy_workers``) or, for a service that makes no
    calls, a plan of when each worker is free (``plan``).
    """

    __slots__ = (
        "rid",
        "service",
        "version",
        "zone",
        "spec",
        "capacity",
        "workers",
        "queue",
        "plan",
        "waiting",
        "up",
        "refusing",
        "_known",
        "membership",
        "epoch",
        "losses",
        "busy_since",
        "busy_workers",
        "busy_s",
        "limiter",
        "blackholed",
        "started_s",
        "stopped_s",
        "warmup_s",
        "horizon_s",
        "sidecar",
        "outages",
        "share",
    )

    def __init__(
        self,
        env: simpy.Environment,
        rid: int,
        spec: VersionRuntime,
        zone: str,
        membership: Membership | None = None,
        warmup_s: float = 0.0,
        horizon_s: float = math.inf,
    ) -> None:
        """Replica ``rid`` of ``spec`` in ``zone``, measured from ``warmup_s`` to ``horizon_s``."""
        self.membership = membership or Membership()
        self.rid = rid
        self.service = spec.service
        self.version = spec.version
        self.zone = zone
        self.spec = spec
        self.capacity = spec.concurrency
        self.workers: Any = None  # the service discipline, set by the mesh
        self.queue: deque[Any] = deque()  # visits waiting for a worker, oldest first (FIFO discipline)
        self.plan: list[float] = []  # heap of the times each worker is free (planned discipline)
        self.waiting: deque[float] = deque()  # start times of planned requests still waiting
        self.up = True  # answering (False: outage black hole or crash)
        self.refusing = False  # crashed: connection refused at once
        self.blackholed = False  # outage: connects wait for the connect timeout
        self._known = True  # in the control plane's endpoint list
        self.epoch = 0  # bumps when in-flight work is lost (crash, outage)
        self.losses: list[float] = []  # when it was lost, seconds
        self.busy_s = 0.0  # worker-seconds busy inside the measured window
        self.busy_workers = 0
        self.busy_since = 0.0
        self.warmup_s = warmup_s
        self.horizon_s = horizon_s
        self.started_s = env.now
        self.stopped_s: float | None = None
        self.limiter: RateLimiter | None = None  # inbound rate limit (rate_limit)
        self.sidecar: Proxy | None = None  # the proxy its downstream calls go through
        self.outages = 0  # outage faults covering it now
        self.share: CoreShare | None = None  # the shared cores of a processor-sharing replica

    def set_busy(self, now_s: float, delta: int) -> None:
        """Change the number of busy workers by ``delta`` at ``now_s``, integrating busy time after warm-up."""
        start = self.busy_since if self.busy_since > self.warmup_s else self.warmup_s
        if now_s > start:
            self.busy_s += self.busy_workers * (now_s - start)
        self.busy_since = now_s
        self.busy_workers += delta

    def lose_in_flight(self, now_s: float) -> None:
        """A crash or outage: whatever the replica is working on ends in a reset."""
        self.epoch += 1
        self.losses.append(now_s)

    def lost_between(self, start_s: float, end_s: float) -> bool:
        """Whether in-flight work was lost between ``start_s`` and ``end_s``."""
        return any(start_s <= t <= end_s for t in self.losses)

    @property
    def known(self) -> bool:
        """Whether the control plane lists this replica; setting it invalidates callers' cached lists."""
        return self._known

    @known.setter
    def known(self, value: bool) -> None:
        if value != self._known:
            self._known = value
            self.membership.version += 1


class Context:
    """What a request carries from hop to hop: first-try flag, trace, parent span, hash key, priority."""

    __slots__ = ("original", "trace", "span_id", "key", "priority")

    def __init__(
        self, original: bool, trace: list[dict[str, Any]] | None, span_id: int, key: int, priority: int = 0
    ) -> None:
        self.original = original  # every hop so far was a first try (amplification's denominator)
        self.trace = trace  # the sampled request's span list, or None
        self.span_id = span_id  # the parent span (0: none)
        self.key = key  # the request's hash key (ring hash)
        self.priority = priority  # its workload's class: higher is served first (discipline: priority)

    def retry(self) -> Context:
        """The context of a retry of a call made in this context (no longer original)."""
        return self if not self.original else Context(False, self.trace, self.span_id, self.key, self.priority)

    def child(self, span_id: int) -> Context:
        """The context of calls made while serving this request, under span ``span_id``."""
        if span_id == self.span_id:
            return self
        return Context(self.original, self.trace, span_id, self.key, self.priority)
