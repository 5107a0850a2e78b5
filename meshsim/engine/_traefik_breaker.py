"""Traefik's circuit breaker (vulcand/oxy ``cbreaker``), as a :class:`~._policies.Breaker`.

Traefik 3.7 wraps oxy v2.2.0's breaker (``pkg/middlewares/circuitbreaker/circuit_breaker.go``;
Traefik 2.x: oxy v1.4.1, the same semantics), docs/references.md §6 [T5]:

- the metrics (``memmetrics/roundtrip.go``) are rolling counters of 10 buckets of 1 s
  (``counterBuckets``, ``counterResolution``): a bucket is a whole second, and the window is
  the current second plus the 9 before it, so between 9 and 10 s of history, not a sliding
  10 s; a network error is an answer with code 502 or 504 (a refused or broken connection
  and a timeout are answered so by Traefik's proxy);
- the expression is checked after a response is recorded, at most once per ``checkPeriod``
  (``checkAndSet``), and not while tripped; tripping resets the metrics;
- tripped: the fallback answers every request for ``fallbackDuration``; then recovering for
  ``recoveryDuration``: oxy's ratio controller lets a request through when
  allowed+1 / (allowed + denied) stays under 0.5 x elapsed / recoveryDuration (``ratio.go``),
  deterministic, about a linearly growing share of traffic; then standby.
"""

from __future__ import annotations

import math
from collections import deque

from meshsim.meshes import parse_traefik_breaker as parse_breaker_expression

__all__ = ["TraefikBreaker"]

#: oxy's rolling counters: 10 buckets of 1 s.
BUCKETS = 10
BUCKET_S = 1.0
#: answers oxy counts as network errors (Traefik's proxy writes them for dial errors and timeouts)
NETWORK_ERROR_CODES = (502, 504)


class TraefikBreaker:
    """Traefik/oxy service-wide breaker over ten 1 s buckets [T5].

    It trips on ``NetworkErrorRatio() > x``, ``ResponseCodeRatio(a, b, c, d) > x`` or
    ``LatencyAtQuantileMS(q) > x``. States: standby -> tripped (fallback 503 for
    fallback_duration) -> recovering (oxy's ratio controller over recovery_duration) -> standby.
    """

    __slots__ = (
        "metric",
        "threshold",
        "args",
        "check_period_s",
        "fallback_s",
        "recovery_s",
        "events",
        "state",
        "since",
        "next_check",
        "trips",
        "allowed",
        "denied",
    )

    def __init__(self, expression: str, check_period_s: float, fallback_s: float, recovery_s: float) -> None:
        """The breaker ``expression`` names, with oxy's check period and durations (seconds)."""
        self.metric, self.threshold, self.args = self.parse(expression)
        self.check_period_s = check_period_s
        self.fallback_s = fallback_s
        self.recovery_s = recovery_s
        # (time s, network error, status, latency s) of each recorded answer in the window
        self.events: deque[tuple[float, bool, int, float]] = deque()
        self.state = "standby"
        self.since = 0.0
        self.next_check = 0.0
        self.trips = 0
        self.allowed = 0  # the ratio controller's counts while recovering
        self.denied = 0

    @staticmethod
    def parse(expr: str) -> tuple[str, float, tuple[float, ...]]:
        """``"NetworkErrorRatio() > 0.3"`` -> (metric, threshold, arguments) (the scenario checked it)."""
        return parse_breaker_expression(expr)

    def record(self, now_s: float, network_error: bool, status: int, latency_s: float) -> None:
        """One answer that passed the breaker; then the periodic check (oxy ``serve``, ``checkAndSet``)."""
        if network_error and status not in NETWORK_ERROR_CODES:
            status = 502  # Traefik answers a refused or broken connection with 502
        self.events.append((now_s, network_error or status in NETWORK_ERROR_CODES, status, latency_s))
        if now_s < self.next_check:
            return
        self.next_check = now_s + self.check_period_s
        if self.state != "tripped" and self._value(now_s) > self.threshold:
            self.state, self.since = "tripped", now_s
            self.trips += 1
            self.events.clear()  # oxy resets the metrics when it trips

    def _value(self, now_s: float) -> float:
        # the buckets of the current second and the 9 before it (RollingCounter.cleanup)
        oldest = (math.floor(now_s / BUCKET_S) - (BUCKETS - 1)) * BUCKET_S
        events = self.events
        while events and events[0][0] < oldest:
            events.popleft()
        if not events:
            return 0.0
        if self.metric == "NetworkErrorRatio":
            return sum(1 for e in events if e[1]) / len(events)
        if self.metric == "ResponseCodeRatio":
            a, b, c, d = self.args
            num = sum(1 for e in events if a <= e[2] < b)
            den = sum(1 for e in events if c <= e[2] < d)
            return num / den if den else 0.0
        lat = sorted(e[3] for e in events)
        q = self.args[0] / 100.0 if self.args else 0.5
        return 1000.0 * lat[min(len(lat) - 1, int(q * len(lat)))]

    def allow(self, now_s: float) -> bool:
        """Whether a request may pass now (False: the fallback's local 503)."""
        if self.state == "standby":
            return True
        if self.state == "tripped":
            if now_s < self.since + self.fallback_s:
                return False
            self.state, self.since = "recovering", now_s
            self.allowed = self.denied = 0
        elapsed_s = now_s - self.since
        if elapsed_s > self.recovery_s:
            self.state, self.since = "standby", now_s
            return True
        target = 0.5 * elapsed_s / self.recovery_s
        if (self.allowed + 1) / (self.allowed + self.denied + 1) < target:
            self.allowed += 1
            return True
        self.denied += 1
        return False
