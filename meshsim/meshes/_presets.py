"""What an unset policy field means in each mesh (``mesh.defaults``).

Values follow docs/references.md section 7 and the per-mesh
sections it summarises; each entry says which section and source it rests on.
``None`` means "off" (no timeout, no limit). Durations are seconds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS", "NO_PRESET", "preset", "PROXY_FOR_PRESET"]

UNLIMITED = None

# With no preset an unset policy does nothing (docs/scenario.md): no retries, no
# timeouts, round robin, no limits, no ejection.
NO_PRESET: dict[str, Any] = {
    "timeout": None,
    "retries.attempts": 0,
    "retries.per_try_timeout": None,
    "retries.retry_on": ("5xx",),
    "retries.retriable_status_codes": (),
    "retries.backoff": (0.025, 0.25),
    "retries.retry_different_host": True,
    "retries.partial_attempts": 1,  # Envoy: a retry policy without num_retries retries once
    "retry_budget": None,
    "load_balancer": "round_robin",
    "connection_pool.max_connections": UNLIMITED,
    "connection_pool.max_pending": UNLIMITED,
    "connection_pool.max_requests": UNLIMITED,
    "connection_pool.max_retries": UNLIMITED,
    "connection_pool.connect_timeout": 5.0,  # Envoy cluster default
    "outlier_detection": None,
    "outlier.panic_percent": 50.0,  # Envoy healthy panic threshold [E7]
    "failure_accrual": None,
    "locality.enabled": False,
    "source": "no preset (docs/scenario.md: unset policy does nothing)",
}

_ENVOY_OUTLIER = {
    "consecutive_5xx": 5,
    "consecutive_gateway_errors": 5,
    "enforcing_consecutive_gateway_errors": 0.0,
    "interval": 10.0,
    "base_ejection_time": 30.0,
    "max_ejection_time": 300.0,
    "max_ejection_percent": 10.0,
}

PRESETS: dict[str, dict[str, Any]] = {
    # Section 1 and 7 (Istio): 2 retries on connect-failure, refused-stream,
    # unavailable, cancelled, retriable-status-codes [S3]; no route timeout [S7];
    # LEAST_REQUEST [S4]; breakers at 2^32-1 [S4]; outlier detection only if a
    # DestinationRule sets it, with panic off (minHealthPercent 0) [S4];
    # connectTimeout 10 s [S8]; locality LB on mesh-wide [S8].
    "istio": {
        "timeout": None,
        "retries.attempts": 2,
        "retries.per_try_timeout": None,
        "retries.retry_on": (
            "connect-failure",
            "refused-stream",
            "unavailable",
            "cancelled",
            "retriable-status-codes",
        ),
        "retries.retriable_status_codes": (),
        "retries.backoff": (0.025, 0.25),
        "retries.retry_different_host": True,
        "retries.partial_attempts": 2,
        "retry_budget": None,
        "load_balancer": "least_request",
        "connection_pool.max_connections": UNLIMITED,
        "connection_pool.max_pending": UNLIMITED,
        "connection_pool.max_requests": UNLIMITED,
        "connection_pool.max_retries": UNLIMITED,
        "connection_pool.connect_timeout": 10.0,
        "outlier_detection": None,
        "outlier.defaults": _ENVOY_OUTLIER,
        "outlier.panic_percent": 0.0,
        "failure_accrual": None,
        "locality.enabled": True,
        "locality.needs_outlier_detection": True,
        "source": "istio preset (docs/references.md §1, §7)",
    },
    # Section 2 (Linkerd): no retries unless configured; annotation limit 1 with
    # back-off 25-250 ms [L7]; ServiceProfile budget 20 % / 10 rps / 10 s [L6];
    # no route timeout [L6]; P2C PeakEWMA, rtt 30 ms, decay 10 s [L8];
    # failure accrual off unless annotated [L3]; connect timeout 1 s,
    # balancer queue 10,000 [L12].
    "linkerd": {
        "timeout": None,
        "retries.attempts": 0,
        "retries.per_try_timeout": None,
        "retries.retry_on": ("5xx",),
        "retries.retriable_status_codes": (),
        "retries.backoff": (0.025, 0.25),
        "retries.retry_different_host": True,
        "retries.partial_attempts": 1,
        "retry_budget": None,
        "retry_budget.linkerd": (0.2, 10.0, 10.0),
        "load_balancer": "ewma",
        "connection_pool.max_connections": UNLIMITED,
        "connection_pool.max_pending": 10_000,
        "connection_pool.max_requests": UNLIMITED,
        "connection_pool.max_retries": UNLIMITED,
        "connection_pool.connect_timeout": 1.0,
        "outlier_detection": None,
        "outlier.panic_percent": 0.0,
        "failure_accrual": None,
        "locality.enabled": False,
        "source": "linkerd preset (docs/references.md §2, §7)",
    },
    # Section 3 (Consul): no retries (1 if a retry field is set) [C1]; 15 s
    # route timeout [E2]; outlier detection always on with Envoy defaults and
    # panic off [C3]; Envoy's 1024/1024/1024/3 breakers [C3]; round robin;
    # connect timeout 5 s [C2].
    "consul": {
        "timeout": 15.0,
        "retries.attempts": 0,
        "retries.per_try_timeout": None,
        "retries.retry_on": ("connect-failure", "retriable-status-codes"),
        "retries.retriable_status_codes": (),
        "retries.backoff": (0.025, 0.25),
        "retries.retry_different_host": False,
        "retries.partial_attempts": 1,
        "retry_budget": None,
        "load_balancer": "round_robin",
        "connection_pool.max_connections": 1024,
        "connection_pool.max_pending": 1024,
        "connection_pool.max_requests": 1024,
        "connection_pool.max_retries": 3,
        "connection_pool.connect_timeout": 5.0,
        "outlier_detection": dict(_ENVOY_OUTLIER),
        "outlier.defaults": _ENVOY_OUTLIER,
        "outlier.panic_percent": 0.0,
        "failure_accrual": None,
        "locality.enabled": False,
        "source": "consul preset (docs/references.md §3, §7)",
    },
    # Section 4 (App Mesh, accounts created after 29 Jul 2020): hidden default
    # of 2 retries on 503, reset and connect-failure [A1]; 15 s timeout [A2];
    # breakers 2^31-1 [A1]; outlier detection only if configured [A3].
    "appmesh": {
        "timeout": 15.0,
        "retries.attempts": 2,
        "retries.per_try_timeout": None,
        "retries.retry_on": ("retriable-status-codes", "reset", "connect-failure", "refused-stream"),
        "retries.retriable_status_codes": (503,),
        "retries.backoff": (0.025, 0.25),
        "retries.retry_different_host": False,
        "retries.partial_attempts": 2,
        "retry_budget": None,
        "load_balancer": "round_robin",
        "connection_pool.max_connections": UNLIMITED,
        "connection_pool.max_pending": UNLIMITED,
        "connection_pool.max_requests": UNLIMITED,
        "connection_pool.max_retries": UNLIMITED,
        "connection_pool.connect_timeout": 5.0,
        "outlier_detection": None,
        "outlier.defaults": _ENVOY_OUTLIER,
        "outlier.panic_percent": 50.0,
        "failure_accrual": None,
        "locality.enabled": False,
        "source": "appmesh preset (docs/references.md §4, §7)",
    },
    # Section 5 (Kuma default policies): mesh-retry-all 5 retries, per-try 16 s,
    # back-off 25-250 ms, retryOn gateway-error/connect-failure/refused-stream
    # [K1, K3]; mesh-timeout 15 s request, connect 5 s [K1]; breakers
    # 1024/1024/1024/3, no outlier detection [K1]; round robin; local zone first
    # and cross-zone off [K5].
    "kuma": {
        "timeout": 15.0,
        "retries.attempts": 5,
        "retries.per_try_timeout": 16.0,
        "retries.retry_on": ("gateway-error", "connect-failure", "refused-stream"),
        "retries.retriable_status_codes": (),
        "retries.backoff": (0.025, 0.25),
        "retries.retry_different_host": False,
        "retries.partial_attempts": 1,
        "retry_budget": None,
        "load_balancer": "round_robin",
        "connection_pool.max_connections": 1024,
        "connection_pool.max_pending": 1024,
        "connection_pool.max_requests": 1024,
        "connection_pool.max_retries": 3,
        "connection_pool.connect_timeout": 5.0,
        "outlier_detection": None,
        "outlier.defaults": _ENVOY_OUTLIER,
        "outlier.panic_percent": 50.0,
        "failure_accrual": None,
        "locality.enabled": True,
        "locality.cross_zone": False,
        "source": "kuma preset (docs/references.md §5, §7)",
    },
    # Section 6 (Traefik Mesh): no retries unless annotated, and then no
    # back-off and only connection-level errors [T4]; no timeout, no outlier
    # detection, no limits; weighted round robin [T3].
    "traefik": {
        "timeout": None,
        "retries.attempts": 0,
        "retries.per_try_timeout": None,
        "retries.retry_on": ("connect-failure",),
        "retries.retriable_status_codes": (),
        "retries.backoff": None,
        "retries.retry_different_host": True,
        "retries.partial_attempts": 0,
        "retry_budget": None,
        "load_balancer": "round_robin",
        "connection_pool.max_connections": UNLIMITED,
        "connection_pool.max_pending": UNLIMITED,
        "connection_pool.max_requests": UNLIMITED,
        "connection_pool.max_retries": UNLIMITED,
        "connection_pool.connect_timeout": 5.0,
        "outlier_detection": None,
        "outlier.panic_percent": 50.0,
        "failure_accrual": None,
        "locality.enabled": False,
        "source": "traefik preset (docs/references.md §6, §7)",
    },
}

PROXY_FOR_PRESET = {
    "istio": "envoy",
    "consul": "envoy",
    "appmesh": "envoy",
    "kuma": "envoy",
    "linkerd": "linkerd2-proxy",
    "traefik": "traefik",
    None: "none",
}


def preset(name: str | None) -> dict[str, Any]:
    """Return the defaults table for ``name`` (``None`` = no preset)."""
    if name is None:
        return NO_PRESET
    base = dict(NO_PRESET)
    base.update(PRESETS[name])
    return base
