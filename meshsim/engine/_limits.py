"""Small state machines per caller proxy: retry admission, rate limits, outlier detection, breakers.

Retry admission is Envoy's max_retries and retry budget or Linkerd's tower budget; then
rate limits, outlier detection, failure accrual and Traefik's breaker.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from meshsim.scenario import OutlierParams

__all__ = [
    "EnvoyRetryLimit",
    "TowerBudget",
    "TokenBucket",
    "StepTokenBucket",
    "OutlierDetector",
    "FailureAccrual",
]


class EnvoyRetryLimit:
    """Concurrent retries allowed by one Envoy per cluster [E3, E9].

    With a budget the limit is max(min_retry_concurrency, budget_percent x
    (active + pending requests)); otherwise it is ``max_retries``.
    """

    def __init__(self, max_retries: int | None, budget_percent: float | None, min_concurrency: int) -> None:
        self.max_retries = max_retries
        self.budget_percent = budget_percent
        self.min_concurrency = min_concurrency
        self.active_retries = 0

    def admit(self, active_requests: int, now_s: float) -> bool:
        if self.budget_percent is not None:
            limit = max(self.min_concurrency, self.budget_percent / 100.0 * active_requests)
        elif self.max_retries is None:
            return True
        else:
            limit = self.max_retries
        return self.active_retries < limit

    def started(self) -> None:
        self.active_retries += 1

    def finished(self) -> None:
        self.active_retries -= 1

    def deposit(self, now_s: float) -> None:
        """Envoy's limit counts concurrency only; nothing to deposit."""


class TowerBudget:
    """tower's TpsBudget as Linkerd uses it [L10, L11].

    The ttl is split into 10 slots. A response that was not retried deposits 1
    token; a retry withdraws floor(1/ratio) tokens (ratio <= 1). A reserve of
    min_per_second x ttl x withdraw tokens is always there, and slots older
    than ttl (with their deposits and withdrawals) expire.
    """

    SLOTS = 10

    def __init__(self, ratio: float, min_per_second: float, ttl_s: float) -> None:
        if ratio <= 1:
            self.deposit_amount = 1
            self.withdraw_amount = max(1, math.floor(1.0 / ratio)) if ratio > 0 else 10**9
        else:
            self.deposit_amount = int(ratio)
            self.withdraw_amount = 1
        self.reserve = min_per_second * ttl_s * self.withdraw_amount
        self.slot_s = ttl_s / self.SLOTS
        self.slots: deque[list[float]] = deque()  # [slot start, balance]
        self.active_retries = 0

    def _current(self, now_s: float) -> list[float]:
        start = math.floor(now_s / self.slot_s) * self.slot_s
        horizon = start - self.slot_s * (self.SLOTS - 1)
        while self.slots and self.slots[0][0] < horizon - 1e-12:
            self.slots.popleft()
        if not self.slots or self.slots[-1][0] < start:
            self.slots.append([start, 0.0])
        return self.slots[-1]

    def deposit(self, now_s: float) -> None:
        self._current(now_s)[1] += self.deposit_amount

    def admit(self, active_requests: int, now_s: float) -> bool:
        slot = self._current(now_s)
        total = sum(s[1] for s in self.slots)
        if total + self.reserve >= self.withdraw_amount:
            slot[1] -= self.withdraw_amount
            return True
        return False

    def started(self) -> None:
        self.active_retries += 1

    def finished(self) -> None:
        self.active_retries -= 1


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` stored; starts full.

    Tokens accrue continuously, as in Envoy's local rate limit since 1.32 (refilled when
    accessed) [E11] and Go's x/time/rate behind Traefik's RateLimit [T6].
    """

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = 0.0

    def take(self, now_s: float) -> bool:
        tokens = min(self.burst, self.tokens + (now_s - self.stamp) * self.rate)
        self.stamp = now_s
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        return False


class StepTokenBucket:
    """A token bucket refilled in steps: ``rate x fill_interval`` tokens every ``fill_interval``.

    Envoy's local rate limit before 1.32 refilled its bucket on a timer this way
    (``tokens_per_fill`` every ``fill_interval``, at most ``max_tokens``) [E11]. The bucket
    starts full; the fills fall at whole multiples of ``fill_interval`` from ``start_s``.
    """

    def __init__(self, rate_per_s: float, burst: int, fill_interval_s: float, start_s: float = 0.0) -> None:
        self.per_fill = rate_per_s * fill_interval_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.fill_interval_s = fill_interval_s
        self.start_s = start_s
        self.fills = 0  # fills applied so far

    def take(self, now_s: float) -> bool:
        fills = math.floor((now_s - self.start_s) / self.fill_interval_s)
        if fills > self.fills:
            self.tokens = min(self.burst, self.tokens + (fills - self.fills) * self.per_fill)
            self.fills = fills
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class OutlierDetector:
    """Envoy consecutive-error outlier detection for one caller proxy and cluster [E4, E5].

    Consecutive 5xx (local-origin errors included, as with
    split_external_local_origin_errors=false) and consecutive gateway errors eject
    inline; a host returns at the first interval tick after its ejection time,
    which is base x (ejections in a row), capped at max_ejection_time; the
    multiplier drops by one for each interval the host stays healthy.
    """

    def __init__(self, params: OutlierParams, n_endpoints: int, uniform: Callable[[], float]) -> None:
        self.p = params
        self.consec_5xx = [0] * n_endpoints
        self.consec_gw = [0] * n_endpoints
        self.ejected_until = [0.0] * n_endpoints
        self.multiplier = [0] * n_endpoints
        self.healthy_since = [0.0] * n_endpoints
        self.ejections = 0
        self._u = uniform
        self._n = n_endpoints

    def grow(self, n_endpoints: int) -> None:
        """Track endpoints added later (autoscaling)."""
        extra = n_endpoints - self._n
        if extra > 0:
            for counts in (self.consec_5xx, self.consec_gw, self.multiplier):
                counts.extend([0] * extra)
            for times_s in (self.ejected_until, self.healthy_since):
                times_s.extend([0.0] * extra)
            self._n = n_endpoints

    def is_ejected(self, i: int, now_s: float) -> bool:
        """Whether endpoint ``i`` is ejected at ``now_s``."""
        return self.ejected_until[i] > now_s

    def available(self, i: int, now_s: float) -> bool:
        """Whether endpoint ``i`` may be picked (not ejected)."""
        return self.ejected_until[i] <= now_s

    def on_pick(self, i: int, now_s: float) -> None:
        """Envoy has no probe requests: nothing to do."""

    def ejected_count(self, now_s: float, among: list[int]) -> int:
        return sum(1 for i in among if self.ejected_until[i] > now_s)

    def record(self, i: int, failure_5xx: bool, gateway: bool, now_s: float, members: list[int]) -> bool:
        """Count one response from endpoint ``i``; return True when it ejects the endpoint.

        ``failure_5xx``: a 5xx or no response; ``gateway``: 502, 503 or 504; ``members``: the
        endpoints the control plane lists (the max_ejection_percent base).
        """
        if not failure_5xx:
            self.consec_5xx[i] = 0
            self.consec_gw[i] = 0
            return False
        self.consec_5xx[i] += 1
        if gateway:
            self.consec_gw[i] += 1
        trip = self.consec_5xx[i] >= self.p.consecutive_5xx
        if not trip and gateway and self.consec_gw[i] >= self.p.consecutive_gateway_errors:
            trip = self._u() * 100.0 < self.p.enforcing_consecutive_gateway_errors
        if not trip or self.ejected_until[i] > now_s:
            return False
        ejected = self.ejected_count(now_s, members)
        if members and 100.0 * ejected / len(members) >= self.p.max_ejection_percent:
            return False
        # the multiplier decays by one per healthy interval since the host came back
        healthy_intervals = int(max(0.0, now_s - self.healthy_since[i]) / self.p.interval)
        self.multiplier[i] = max(0, self.multiplier[i] - healthy_intervals) + 1
        duration = min(self.p.base_ejection_time * self.multiplier[i], self.p.max_ejection_time)
        # un-ejection happens on the detector's interval timer
        until = math.ceil((now_s + duration) / self.p.interval) * self.p.interval
        self.ejected_until[i] = until
        self.healthy_since[i] = until
        self.consec_5xx[i] = 0
        self.consec_gw[i] = 0
        self.ejections += 1
        return True


class FailureAccrual:
    """Linkerd consecutive-failure accrual with probation [L3].

    After ``max_failures`` consecutive failures an endpoint is unavailable for a
    penalty (min_penalty, doubling on each failed probe up to max_penalty, with
    jitter); then one probe request decides whether it is back.
    """

    def __init__(
        self,
        max_failures: int,
        min_penalty_s: float,
        max_penalty_s: float,
        jitter: float,
        n_endpoints: int,
        uniform: Callable[[], float],
    ) -> None:
        self.max_failures = max_failures
        self.min_penalty_s = min_penalty_s
        self.max_penalty_s = max_penalty_s
        self.jitter = jitter
        self.failures = [0] * n_endpoints
        self.until = [0.0] * n_endpoints
        self.penalty = [0.0] * n_endpoints
        self.probing = [False] * n_endpoints
        self.ejections = 0
        self._u = uniform

    def grow(self, n_endpoints: int) -> None:
        """Track endpoints added later (autoscaling)."""
        extra = n_endpoints - len(self.failures)
        if extra > 0:
            self.failures += [0] * extra
            self.until += [0.0] * extra
            self.penalty += [0.0] * extra
            self.probing += [False] * extra

    def available(self, i: int, now_s: float) -> bool:
        """Whether endpoint ``i`` may be picked: no penalty running and no probe in flight."""
        if self.until[i] > now_s:
            return False
        return not self.probing[i] or self.penalty[i] == 0.0

    def on_pick(self, i: int, now_s: float) -> None:
        """The first pick after a penalty is the probe."""
        if self.penalty[i] > 0 and self.until[i] <= now_s and not self.probing[i]:
            self.probing[i] = True  # this request is the probe

    def record(self, i: int, failed: bool, gateway: bool, now_s: float, members: list[int]) -> bool:
        """Count one response from endpoint ``i``; True when it takes ``i`` out (a penalty starts)."""
        if self.probing[i]:
            self.probing[i] = False
            if failed:
                self.penalty[i] = min(self.max_penalty_s, self.penalty[i] * 2)
                self._penalise(i, now_s)
                return True
            self.penalty[i] = 0.0
            self.failures[i] = 0
            return False
        if not failed:
            self.failures[i] = 0
            return False
        self.failures[i] += 1
        if self.failures[i] >= self.max_failures and self.penalty[i] == 0.0:
            self.penalty[i] = self.min_penalty_s
            self._penalise(i, now_s)
            self.ejections += 1
            return True
        return False

    def _penalise(self, i: int, now_s: float) -> None:
        jitter = 1.0 + self.jitter * (2 * self._u() - 1)
        self.until[i] = now_s + self.penalty[i] * jitter
