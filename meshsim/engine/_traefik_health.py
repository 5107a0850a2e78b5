"""Traefik's passive health check on a load balancer (3.6 and later), as a :class:`~._policies.HostHealth`.

``pkg/healthcheck/healthcheck.go`` (``PassiveServiceHealthChecker``), docs/references.md §6 [T9]:
a try that reached the server and was answered below 500 clears the server's failures; any
other try (a 5xx, or no connection) adds one, stamped now. When the failures of the last
``failureWindow`` reach ``maxFailedAttempts``, the server is marked down for
``failureWindow``, then up again; failures older than the window no longer count. Defaults
(``dynamic.PassiveServerHealthCheck.SetDefaults``): 1 failure, 10 s.
"""

from __future__ import annotations

from collections import deque

__all__ = ["TraefikPassiveHealth"]


class TraefikPassiveHealth:
    """Per-server failure windows of one Traefik load balancer (times in seconds)."""

    __slots__ = ("max_failed", "window_s", "failures", "down_until", "ejections")

    def __init__(self, max_failed_attempts: int, failure_window_s: float, n_endpoints: int) -> None:
        """``max_failed_attempts`` failures within ``failure_window_s`` take a server down for that long."""
        self.max_failed = max_failed_attempts
        self.window_s = failure_window_s
        self.failures: list[deque[float]] = [deque() for _ in range(n_endpoints)]
        self.down_until = [0.0] * n_endpoints
        self.ejections = 0

    def grow(self, n_endpoints: int) -> None:
        """Track servers added later (autoscaling)."""
        while len(self.failures) < n_endpoints:
            self.failures.append(deque())
            self.down_until.append(0.0)

    def available(self, i: int, now_s: float) -> bool:
        """Whether server ``i`` is up in the balancer."""
        return now_s >= self.down_until[i]

    def on_pick(self, i: int, now_s: float) -> None:
        """Nothing: Traefik marks a server up again when its timer ends, without a probe."""

    def record(self, i: int, failure: bool, gateway: bool, now_s: float, members: list[int]) -> bool:
        """One try's answer from ``i``; True when it marks ``i`` down."""
        stamps = self.failures[i]
        if not failure:
            stamps.clear()
            return False
        stamps.append(now_s)
        while stamps and stamps[0] <= now_s - self.window_s:
            stamps.popleft()
        if len(stamps) < self.max_failed or now_s < self.down_until[i]:
            return False
        self.down_until[i] = now_s + self.window_s
        self.ejections += 1
        return True
