"""Per-mesh defaults for fields left unset INSIDE a block that an object does set.

A field the configuration never mentions stays unset in the imported policy: the
preset named in ``mesh.defaults`` (``ImportResult.defaults``) gives it its meaning.
But when an object writes a block partly (an Istio ``retries`` block without
``retryOn``, an Envoy outlier block with only ``interval``), the mesh fills the rest
of *that block* with its own per-field defaults, and so does the importer, so the
block means what it meant in the mesh whatever preset the scenario uses.

Every entry cites ``docs/references.md`` by section number and
source tag. Durations are written in the scenario syntax.
"""

from __future__ import annotations

from typing import Any

from meshsim.meshes._base import Block

__all__ = ["BLOCK_DEFAULTS", "OFF", "PRESET_FOR_FORMAT", "UNLIMITED_31", "UNLIMITED_32", "envoy_max_ejection", "fill"]

#: A consecutive-error threshold no host ever reaches: the scenario format has no
#: "off" for ``consecutive_5xx``, and Envoy/Kuma turn a detector off by setting its
#: enforcement to 0 %, which never ejects (reference section 5 [K4], section 0 [E4]).
OFF = 2**32 - 1
#: Istio writes 2^32-1 into all four Envoy circuit-breaker thresholds (section 1 [S4]).
UNLIMITED_32 = 2**32 - 1
#: App Mesh (accounts created after 29 Jul 2020) writes 2^31-1 (section 4 [A1]).
UNLIMITED_31 = 2**31 - 1

#: The ``mesh.defaults`` preset each format implies (None: plain Kubernetes).
PRESET_FOR_FORMAT: dict[str, str | None] = {
    "istio": "istio",
    "linkerd": "linkerd",
    "consul": "consul",
    "appmesh": "appmesh",
    "kuma": "kuma",
    "traefik": "traefik",
    "kubernetes": None,
}

_ENVOY_BACKOFF = {"backoff.base": "25ms", "backoff.max": "250ms"}
_ENVOY_POOL = {"max_connections": 1024, "max_pending": 1024, "max_requests": 1024, "max_retries": 3}
_ENVOY_OUTLIER = {
    "consecutive_5xx": 5,
    "consecutive_gateway_errors": 5,
    "enforcing_consecutive_gateway_errors": 0,
    "interval": "10s",
    "base_ejection_time": "30s",
    "max_ejection_time": "300s",
    "max_ejection_percent": 10,
    "min_health_percent": 50,
}

#: mesh -> block -> (field defaults, citation). Field names are dotted within the block.
BLOCK_DEFAULTS: dict[str, dict[str, tuple[dict[str, Any], str]]] = {
    "envoy": {
        "retries": (
            {"attempts": 1, **_ENVOY_BACKOFF},
            "Envoy: num_retries unset => 1, back-off 25ms..250ms, §0 [E1][E2]",
        ),
        "connection_pool": (dict(_ENVOY_POOL), "Envoy circuit-breaker defaults 1024/1024/1024/3, §0 [E3]"),
        "outlier_detection": (
            dict(_ENVOY_OUTLIER),
            "Envoy outlier defaults; gateway detector enforcing 0%, panic 50%, §0 [E4][E7]",
        ),
        "retry_budget": ({"budget_percent": 20, "min_retry_concurrency": 3}, "Envoy retry budget, §0 [E3]"),
    },
    "istio": {
        "retries": (
            {
                "retry_on": ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"],
                "retriable_status_codes": [],
                "retry_different_host": True,
                **_ENVOY_BACKOFF,
            },
            (
                "Istio: retries block without retryOn keeps the default conditions, previous-hosts predicate on, "
                "Envoy back-off, §1 [S3] §0 [E1]"
            ),
        ),
        "connection_pool": (
            {
                "max_connections": UNLIMITED_32,
                "max_pending": UNLIMITED_32,
                "max_requests": UNLIMITED_32,
                "max_retries": UNLIMITED_32,
                "connect_timeout": "10s",
            },
            "Istio: thresholds 2^32-1, connectTimeout 10s, §1 [S4][S8]",
        ),
        "outlier_detection": (
            {
                **_ENVOY_OUTLIER,
                "min_health_percent": 0,
            },
            "Istio passes Envoy defaults; minHealthPercent 0 turns panic off, §1 [S4][S2]",
        ),
        "retry_budget": (
            {"budget_percent": 20, "min_retry_concurrency": 3},
            "Istio retryBudget: percent 20, minRetryConcurrency 3, §1 [S2][S9]",
        ),
        "fault.delay": ({"percent": 0}, "Istio: no percentage => nothing injected, §1 [S1]"),
        "fault.abort": ({"percent": 0}, "Istio: no percentage => nothing injected, §1 [S1]"),
        "mirror": ({"percent": 100}, "Istio: no mirrorPercentage => 100% mirrored, §1 [S1]"),
    },
    "linkerd": {
        "retries": (
            {"attempts": 1, **_ENVOY_BACKOFF, "retry_on": []},
            "Linkerd retry annotations: limit 1, back-off 25ms..250ms, §2 [L1][L7]",
        ),
        "retry_budget": (
            {"ratio": 0.2, "min_per_second": 10, "ttl": "10s"},
            "Linkerd ServiceProfile budget 20%/10 rps/10s, §2 [L6]",
        ),
        "failure_accrual": (
            {"kind": "consecutive", "max_failures": 7, "min_penalty": "1s", "max_penalty": "60s", "jitter": 0.5},
            "Linkerd consecutive failure accrual defaults, §2 [L3]",
        ),
    },
    "consul": {
        "retries": (
            {"attempts": 1, **_ENVOY_BACKOFF},
            "Consul: NumRetries 0/unset leaves Envoy's 1 retry, §3 [C1][C4]",
        ),
        "connection_pool": (
            {**_ENVOY_POOL, "connect_timeout": "5s"},
            "Consul writes only the Limits set; Envoy 1024/3 otherwise; connect 5s, §3 [C3][C2]",
        ),
        "outlier_detection": (
            {**_ENVOY_OUTLIER, "min_health_percent": 0},
            "Consul: Envoy outlier defaults, panic threshold 0 (off), §3 [C3]",
        ),
    },
    "appmesh": {
        "retries": (dict(_ENVOY_BACKOFF), "App Mesh: Envoy back-off 25ms..250ms, §0 [E1]"),
        "connection_pool": (
            {
                "max_connections": UNLIMITED_31,
                "max_pending": UNLIMITED_31,
                "max_requests": UNLIMITED_31,
                "max_retries": UNLIMITED_31,
            },
            "App Mesh: unset thresholds 2^31-1 (accounts after Jul 2020), §4 [A1]",
        ),
        "outlier_detection": (dict(_ENVOY_OUTLIER), "App Mesh: Envoy outlier defaults, §4 [A3] §0 [E4]"),
    },
    "kuma": {
        "retries.http": (
            {"attempts": 1, "retry_on": ["gateway-error", "connect-failure", "refused-stream"], **_ENVOY_BACKOFF},
            "Kuma MeshRetry: numRetries unset => Envoy 1; HTTP retryOn default; back-off, §5 [K3]",
        ),
        "retries.grpc": (
            {
                "attempts": 1,
                "retry_on": [
                    "cancelled",
                    "connect-failure",
                    "gateway-error",
                    "refused-stream",
                    "reset",
                    "resource-exhausted",
                    "unavailable",
                ],
                **_ENVOY_BACKOFF,
            },
            "Kuma MeshRetry: gRPC retryOn default, §5 [K3]",
        ),
        "connection_pool": (dict(_ENVOY_POOL), "Kuma MeshCircuitBreaker: Envoy 1024/1024/1024/3, §5 [K1]"),
        "outlier_detection": (
            {
                **_ENVOY_OUTLIER,
                "consecutive_5xx": OFF,
                "enforcing_consecutive_gateway_errors": 0,
            },
            "Kuma: a consecutive detector without a count gets enforcement 0 (off); panic 50%, §5 [K4]",
        ),
    },
    "traefik": {
        "retries": (
            {"backoff": "none", "retry_on": ["connect-failure"], "retry_different_host": True},
            "Traefik Mesh retry middleware: no back-off, connection errors only, §6 [T4]",
        ),
        "circuit_breaker": (
            {"check_period": "100ms", "fallback_duration": "10s", "recovery_duration": "10s"},
            "oxy circuit-breaker defaults, §6 [T5]",
        ),
    },
}


def fill(block: Block, mesh: str, table: str | None = None, skip: tuple[str, ...] = ()) -> None:
    """Fill the unset fields of ``block`` with ``mesh``'s per-field defaults (weak values)."""
    values, note = BLOCK_DEFAULTS[mesh][table or block.name]
    for fld, value in values.items():
        if fld.split(".")[0] in skip or block.has(fld):
            continue
        block.default(fld, list(value) if isinstance(value, list) else value, note)


def envoy_max_ejection(base_s: float) -> float:
    """Envoy's max_ejection_time default: 300 s or the base time, whichever is larger (§0 [E4])."""
    return max(300.0, base_s)
