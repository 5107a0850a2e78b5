"""Traefik's retry middleware as a retry policy: what it retries, and its own back-off.

Traefik 3.7 (``pkg/middlewares/retry/retry.go``, docs/references.md §6 [T4]):

- a try is retried after a *network error*, when the proxy could not send the request
  (meshsim's ``connect_failure``), unless ``disableRetryOnNetworkError``; with ``status``,
  also when the answer's code is in those ranges, whoever wrote it (a server, the load
  balancer's "no available server" 503, a 504 from the forwarding timeout); nothing else;
- once ``timeout`` has passed since the request came in, the next answer is final;
- the retry goes back through the service's load balancer, which keeps no memory of the
  server that failed (``retry_different_host`` is false in the preset);
- back-off: none without ``initialInterval``. With it, Traefik uses cenkalti/backoff
  v4.3.0's ``ExponentialBackOff`` with ``InitialInterval`` = initialInterval, the default
  ``RandomizationFactor`` 0.5 and ``MaxInterval`` 60 s (the preset's ``backoff_cap_s``), and ``Multiplier`` =
  2^(1/(attempts - 1)) (attempts counts every try), so that the interval doubles over the
  attempts. Retry k (1-based) waits ``interval_k x (0.5 + U)``, U uniform on [0, 1), with
  ``interval_k = min(initialInterval x Multiplier^(k-1), MaxInterval)``
  (cenkalti/backoff ``exponential.go``: ``getRandomValueFromInterval`` and
  ``incrementCurrentInterval``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from meshsim.engine._runtime import Outcome
from meshsim.meshes import TRAEFIK_RETRY_NETWORK, TRAEFIK_RETRY_STATUS
from meshsim.scenario import EffectivePolicy

__all__ = ["TraefikRetries", "traefik_interval_s"]

#: what Traefik's proxy writes when it cannot reach the server (meshsim's connect_failure)
BAD_GATEWAY = 502
#: cenkalti/backoff's default RandomizationFactor: each wait is interval x [0.5, 1.5).
RANDOMIZATION = 0.5


def traefik_interval_s(retry_number: int, retries: int, initial_s: float, max_s: float) -> float:
    """The middle of Traefik's wait before retry ``retry_number`` (1-based) of ``retries``, seconds.

    ``initial_s x 2^((retry_number - 1) / retries)``, capped at ``max_s`` (Traefik's
    multiplier is 2^(1/(attempts - 1)) and attempts = retries + 1).
    """
    multiplier: float = 2.0 ** (1.0 / retries)
    return min(initial_s * multiplier ** (retry_number - 1), max_s)


class TraefikRetries:
    """Traefik's retry middleware (3.7; 2.x has only the network-error condition) [T4].

    ``retry_window_s``: Traefik's ``timeout`` (None: none). The conditions come from the
    effective policy, read as the Traefik configuration they stand for (the mesh unit's
    ``RETRY_NETWORK`` and ``RETRY_STATUS``, which the lab renders too): ``connect-failure``
    (or ``reset``) is the network-error retry, which covers a failed dial only (Traefik does
    not retry once a request was sent); ``retriable-status-codes`` (Traefik's ``status``),
    ``5xx`` (500-599), ``gateway-error`` (502-504) and the like are status ranges.
    """

    __slots__ = ("attempts", "retry_window_s", "_network", "_codes", "_initial_s", "_max_s", "_uniform")

    def __init__(self, policy: EffectivePolicy, uniform: Callable[[], float]) -> None:
        """The middleware ``policy`` describes; ``uniform`` draws the back-off jitter."""
        self.attempts = policy.retry_attempts
        self.retry_window_s = policy.retry_timeout_s
        on = policy.retry_on
        self._network = bool(on & TRAEFIK_RETRY_NETWORK)
        codes: set[int] = set(policy.retriable_status_codes) if "retriable-status-codes" in on else set()
        for cond in on:
            if cond in TRAEFIK_RETRY_STATUS:
                low, _, high = TRAEFIK_RETRY_STATUS[cond].partition("-")
                codes |= set(range(int(low), int(high or low) + 1))
        self._codes = frozenset(codes)
        self._initial_s = policy.backoff_base_s or 0.0
        self._max_s = policy.backoff_max_s or math.inf  # the traefik preset caps at MaxInterval, 60 s
        self._uniform = uniform

    def retriable(self, res: Outcome) -> bool:
        """A refused (or unanswered) connection, or an answer with one of the status codes."""
        if res.cause == "connect_failure":
            return self._network or BAD_GATEWAY in self._codes  # Traefik answers a failed dial with 502
        return res.status in self._codes

    def backoff_s(self, retry_number: int) -> float:
        """Traefik's jittered exponential wait before retry ``retry_number`` (1-based), seconds."""
        if not self._initial_s or self.attempts < 1:
            return 0.0
        interval_s = traefik_interval_s(retry_number, self.attempts, self._initial_s, self._max_s)
        return interval_s * (1.0 - RANDOMIZATION + 2.0 * RANDOMIZATION * self._uniform())
