"""Retry policy of the caller's proxy: Envoy's ``retry_on`` conditions, jittered back-off, retry limits."""

from __future__ import annotations

from collections.abc import Callable

from meshsim.engine._backoff import Backoff, EnvoyJitter
from meshsim.engine._limits import EnvoyRetryLimit, TowerBudget
from meshsim.engine._policies import RetryLimit
from meshsim.engine._runtime import Outcome
from meshsim.scenario import EffectivePolicy

__all__ = ["EnvoyRetries", "backoff_upper_s", "make_retry_limit", "retriable"]

GATEWAY_STATUSES = (502, 503, 504)


def retriable(res: Outcome, pol: EffectivePolicy) -> bool:
    """Whether Envoy's ``retry_on`` conditions allow retrying ``res`` [E1].

    Local replies of the caller's own proxy (pool overflow, no healthy upstream)
    are not retried by ``5xx``; meshsim's ``overflow`` and ``rate_limited``
    conditions name them explicitly. gRPC conditions never match: services are HTTP.
    """
    on = pol.retry_on
    cause = res.cause
    if "5xx" in on and not res.local and (res.status >= 500 or res.no_response):
        return True
    if "gateway-error" in on and not res.local and res.status in GATEWAY_STATUSES:
        return True
    if "reset" in on and res.no_response and cause != "connect_failure":
        return True
    if "connect-failure" in on and cause == "connect_failure":
        return True
    if "retriable-status-codes" in on and res.status in pol.retriable_status_codes and not res.local:
        return True
    if "retriable-4xx" in on and res.status == 409:
        return True
    if "overflow" in on and cause == "overflow":
        return True
    if "rate_limited" in on and res.status == 429:
        return True
    return bool("timeout" in on and cause == "timeout" and not res.local)


def backoff_upper_s(retry_number: int, base_s: float, max_s: float) -> float:
    """Envoy: retry N (1-based) waits U[0, (2^N - 1) x base), the bound capped at max [E1]."""
    return EnvoyJitter.upper_s(retry_number, base_s, max_s)


class EnvoyRetries:
    """Envoy's route retry policy [E1]: ``retry_on`` conditions and fully jittered back-off.

    Without ``backoff.max`` the cap is 10 x base, as Envoy's.
    """

    __slots__ = ("attempts", "retry_window_s", "_policy", "_backoff")

    def __init__(self, policy: EffectivePolicy, uniform: Callable[[], float]) -> None:
        """The retry policy of ``policy``; ``uniform`` draws the back-off jitter."""
        self.attempts = policy.retry_attempts
        self.retry_window_s: float | None = None  # Envoy retries within the route timeout only
        self._policy = policy
        base_s = policy.backoff_base_s or 0.0
        self._backoff: Backoff = EnvoyJitter(base_s, policy.backoff_max_s or 10 * base_s, uniform)

    def retriable(self, res: Outcome) -> bool:
        """Whether ``res`` matches one of the ``retry_on`` conditions."""
        return retriable(res, self._policy)

    def backoff_s(self, retry_number: int) -> float:
        """A jittered wait before retry ``retry_number`` (1-based), seconds; 0 without back-off."""
        return self._backoff.wait_s(retry_number, 0.0)


def make_retry_limit(policy: EffectivePolicy) -> RetryLimit | None:
    """The retry admission ``policy`` asks for: a budget, Envoy's max_retries, or none."""
    if policy.budget_kind == "linkerd":
        return TowerBudget(policy.budget_ratio, policy.budget_min_per_second, policy.budget_ttl_s)
    if policy.budget_kind == "envoy":
        return EnvoyRetryLimit(None, policy.budget_percent, policy.budget_min_concurrency)
    if policy.max_retries is not None:
        return EnvoyRetryLimit(policy.max_retries, None, 0)
    return None
