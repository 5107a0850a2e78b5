"""What the lab's processes say to each other: host names, headers, and how a status becomes a cause.

Kept free of heavy imports: the backend processes import it at start-up.

A response from a lab backend carries ``X-Lab-Backend`` (which process answered) and, on a
failure, ``X-Lab-Cause`` (meshsim's cause: ``error``, ``overflow``, or a downstream call's
cause passed up, as meshsim's engine does). A response without them was produced by
Traefik itself: 502 when it could not connect (after its retries), 504 when a forwarding
timeout fired, 503 from the circuit breaker's fallback or from a load balancer with no server
("no available server"), 429 from a rate limit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ADMIN_PREFIX",
    "BACKEND_HEADER",
    "CAUSE_HEADER",
    "HOST_SUFFIX",
    "BackendConfig",
    "classify",
    "host_of",
]

#: Requests to ``<service>.lab`` are routed by Traefik to that service's servers.
HOST_SUFFIX = ".lab"
BACKEND_HEADER = "X-Lab-Backend"
CAUSE_HEADER = "X-Lab-Cause"
#: Paths under this prefix are the lab's control requests to a backend: never queued or counted.
ADMIN_PREFIX = "/__lab/"

_CAUSES = frozenset(
    ("error", "timeout", "overflow", "no_endpoint", "connect_failure", "rate_limited", "budget_exhausted")
)


def host_of(service: str) -> str:
    """The Host header that routes a request to ``service`` through Traefik."""
    return f"{service}{HOST_SUFFIX}"


def classify(status: int, cause_header: str | None, breaker: bool, body: bytes = b"") -> str | None:
    """Meshsim's cause for an HTTP answer (None: ok).

    Args:
        status: the HTTP status the caller received.
        cause_header: the ``X-Lab-Cause`` header, when a backend answered.
        breaker: whether the callee's router has a circuit breaker (its fallback answers 503).
        body: the answer's body: Traefik's load balancer says "no available server" when its
            server list is empty (the breaker's fallback says "Service Unavailable").
    """
    if cause_header is not None and cause_header in _CAUSES:
        return cause_header
    if 200 <= status < 400:
        return None
    if status == 502:
        return "connect_failure"
    if status == 504:
        return "timeout"
    if status == 503:
        if breaker and b"no available server" not in body[:64].lower():
            return "overflow"
        return "no_endpoint"
    if status == 429:
        return "rate_limited"
    return "error"


@dataclass(frozen=True)
class BackendConfig:
    """What one backend process is told at start (``python -m meshsim.lab._backend FILE``); seconds, bytes."""

    name: str
    port: int
    traefik_url: str
    samples_file: str  # service times drawn in advance (float64, seconds), used in turn
    seed: int  # its own error and call-probability draws
    max_lifetime_s: float
    concurrency: int = 16
    queue_limit: int | None = None
    holds_worker: bool = True
    contention_s: float = 0.0
    error_codes: list[list[float]] = field(default_factory=list)  # [[status, probability], ...]
    calls: list[dict[str, Any]] = field(default_factory=list)
    breaker_targets: list[str] = field(default_factory=list)
    cancel_on_timeout: bool = False
    response_bytes: int = 1000

    def write(self, path: Path) -> Path:
        """Write the config as JSON to ``path`` and return it."""
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")
        return path
