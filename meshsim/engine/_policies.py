"""The interfaces of the caller proxy's policy objects, and of the replicas' inbound limits.

Each caller proxy owns one object of each kind per destination (a sidecar keeps its own state
and never coordinates with the others). The engine only calls these methods; a new mesh
behaviour is a new small class that implements one of them:

- :class:`LoadBalancer` picks an endpoint (round robin, P2C, peak EWMA, ring hash);
- :class:`RetryPolicy` says which outcomes are retried and how long to back off (Envoy's in
  ``_retrying``, Traefik's retry middleware in ``_traefik_retry``);
- :class:`RetryLimit` admits or refuses a retry (Envoy's max_retries and budget, Linkerd's budget);
- :class:`Breaker` lets a request through or answers a local 503 (Traefik's breaker, ``_traefik_breaker``);
- :class:`HostHealth` takes endpoints out after failures (Envoy outlier detection, Linkerd failure
  accrual, Traefik's passive health check in ``_traefik_health``);
- :class:`RateLimiter` admits a request at the replica or answers 429.

Times are float seconds of simulated time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from meshsim.engine._runtime import Outcome

__all__ = ["Breaker", "EndpointStats", "HostHealth", "LoadBalancer", "RateLimiter", "RetryLimit", "RetryPolicy"]


class EndpointStats(Protocol):
    """What a balancer may read about the endpoints (indexed by position)."""

    active: list[int]
    rtt_estimate_s: list[float]
    rtt_stamp_s: list[float]


class LoadBalancer(Protocol):
    """Pick one endpoint index from ``candidates`` (non-empty)."""

    def choose(self, candidates: Sequence[int], stats: EndpointStats, now_s: float, key: int) -> int:
        """The chosen endpoint index; ``key`` is the request's hash key."""


class RetryPolicy(Protocol):
    """Which outcomes a proxy retries, how many times, and the wait before each retry."""

    attempts: int  # retries allowed after the first try
    retry_window_s: float | None  # no retry once the call is this old (Traefik's timeout); None: none

    def retriable(self, res: Outcome) -> bool:
        """Whether ``res`` may be retried."""

    def backoff_s(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1-based), seconds; 0 for none."""


class RetryLimit(Protocol):
    """Admission of retries across one proxy's calls to one destination."""

    def admit(self, active_requests: int, now_s: float) -> bool:
        """Whether one more retry may start now (``active_requests``: active + pending)."""

    def started(self) -> None:
        """A retry started."""

    def finished(self) -> None:
        """A retry ended."""

    def deposit(self, now_s: float) -> None:
        """A response was not retried (budgets that earn tokens count it)."""


class Breaker(Protocol):
    """A breaker in the caller's proxy that may answer a local 503 instead of sending."""

    def allow(self, now_s: float) -> bool:
        """Whether a request may pass now (False: a local 503, cause overflow)."""

    def record(self, now_s: float, network_error: bool, status: int, latency_s: float) -> None:
        """One attempt's result."""


class HostHealth(Protocol):
    """Per-endpoint health in one proxy: failures take an endpoint out for a while."""

    def available(self, i: int, now_s: float) -> bool:
        """Whether endpoint ``i`` may be picked now."""

    def record(self, i: int, failure: bool, gateway: bool, now_s: float, members: list[int]) -> bool:
        """One response from ``i``; True when it takes ``i`` out (an ejection)."""

    def on_pick(self, i: int, now_s: float) -> None:
        """Endpoint ``i`` was picked (a probe after a penalty, for failure accrual)."""

    def grow(self, n_endpoints: int) -> None:
        """Track endpoints added later (autoscaling)."""


class RateLimiter(Protocol):
    """Admission at the replica (before its queue)."""

    def take(self, now_s: float) -> bool:
        """Whether the request is admitted (False: 429, cause rate_limited)."""
