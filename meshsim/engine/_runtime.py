"""Runtime objects the engine moves requests through: outcomes, replicas, service specs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from meshsim.distributions import Distribution, Sampler, UniformSource

if TYPE_CHECKING:
    from meshsim.engine._limits import TokenBucket

#: The zone of a service with no placement and no locations in the scenario.
DEFAULT_ZONE = "local/local/local"

__all__ = ["Outcome", "OK", "Replica", "Membership", "VersionRuntime", "Attempt", "outcome"]


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


@dataclass
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
    calls: list[Any]  # list of steps: ("seq", CallSpec) or ("par", [CallSpec])
    cancel_on_timeout: bool
    contention_s: float = 0.0
    sampler: Sampler = field(kw_only=True)  # service time draws (s), from the version's own stream
    uniform: UniformSource = field(kw_only=True)  # U(0,1) draws for errors and call probabilities
    # fault hooks: multiplied and added by active faults
    degrade_factor: float = 1.0
    extra_latency: Callable[[], float] | None = None  # extra service time per request (s)
    extra_error_rate: float = 0.0


class Membership:
    """A counter bumped whenever a service's endpoint list changes (lets callers cache it)."""

    __slots__ = ("version",)

    def __init__(self) -> None:
        self.version = 0


class Replica:
    """One pod: a worker pool (SimPy resource) in a zone, with the control plane's view of it."""

    __slots__ = (
        "rid",
        "service",
        "version",
        "zone",
        "spec",
        "workers",
        "up",
        "refusing",
        "_known",
        "membership",
        "epoch",
        "busy_since",
        "busy_workers",
        "busy_s",
        "bucket",
        "blackholed",
        "started_s",
        "stopped_s",
    )

    def __init__(
        self, env: simpy.Environment, rid: int, spec: VersionRuntime, zone: str, membership: Membership | None = None
    ) -> None:
        self.membership = membership or Membership()
        self.rid = rid
        self.service = spec.service
        self.version = spec.version
        self.zone = zone
        self.spec = spec
        self.workers = simpy.Resource(env, capacity=spec.concurrency)
        self.up = True  # answering (False: outage black hole or crash)
        self.refusing = False  # crashed: connection refused at once
        self.blackholed = False  # outage: connects wait for the connect timeout
        self._known = True  # in the control plane's endpoint list
        self.epoch = 0  # bumps on crash, so in-flight work ends in a reset
        self.busy_s = 0.0
        self.busy_workers = 0
        self.busy_since = 0.0
        self.started_s = env.now
        self.stopped_s: float | None = None
        self.bucket: TokenBucket | None = None  # inbound token bucket (rate_limit)

    @property
    def known(self) -> bool:
        """Whether the control plane lists this replica; setting it invalidates callers' cached lists."""
        return self._known

    @known.setter
    def known(self, value: bool) -> None:
        if value != self._known:
            self._known = value
            self.membership.version += 1


class Attempt:
    """Context one attempt carries into the server (and onward to its downstream calls)."""

    __slots__ = ("abandoned", "original", "trace", "span_id", "key")

    def __init__(self, original: bool, trace: list[dict[str, Any]] | None, span_id: int, key: int) -> None:
        self.abandoned = False
        self.original = original
        self.trace = trace
        self.span_id = span_id
        self.key = key
