"""Kuma's preset and per-block defaults (docs/references.md §5, §7)."""

from __future__ import annotations

from meshsim.meshes._envoy import BLOCKS as ENVOY_BLOCKS
from meshsim.meshes._envoy import ENVOY, OFF
from meshsim.meshes._preset import BlockDefaults, Preset

__all__ = ["BLOCKS", "GRPC_RETRY_ON", "HTTP_RETRY_ON", "PRESET"]

#: MeshRetry's conditions when ``retryOn`` is left out [K3].
HTTP_RETRY_ON = ("gateway-error", "connect-failure", "refused-stream")
GRPC_RETRY_ON = (
    "cancelled",
    "connect-failure",
    "gateway-error",
    "refused-stream",
    "reset",
    "resource-exhausted",
    "unavailable",
)

#: What an unset field means under ``mesh.defaults: kuma``: plain Envoy with the default policies
#: Kuma 2.6 to 2.14 create with every mesh (mesh-retry-all, mesh-timeout-all, mesh-circuit-breaker-all).
PRESET: Preset = ENVOY.but(
    name="kuma",
    source="kuma preset (docs/references.md §5, §7)",
    version="Kuma 2.6 to 2.14 (default policies of a new mesh)",
    retry_attempts=5,  # mesh-retry-all [K1]
    per_try_timeout_s=16.0,  # mesh-retry-all [K1]
    retry_on=HTTP_RETRY_ON,  # [K3]
    locality=True,  # locality awareness on by default [K5]
    locality_cross_zone=False,  # cross-zone only when crossZone is configured [K5]
)

_BACKOFF = dict(ENVOY_BLOCKS["backoff"][0])

#: Kuma's defaults for the fields of a block a policy writes partly.
BLOCKS: dict[str, BlockDefaults] = {
    "retries.http": (
        {"attempts": 1, "retry_on": list(HTTP_RETRY_ON), **_BACKOFF},
        "Kuma MeshRetry: numRetries unset => Envoy 1; HTTP retryOn default; back-off, §5 [K3]",
    ),
    "retries.grpc": (
        {"attempts": 1, "retry_on": list(GRPC_RETRY_ON), **_BACKOFF},
        "Kuma MeshRetry: gRPC retryOn default, §5 [K3]",
    ),
    "connection_pool": (
        dict(ENVOY_BLOCKS["connection_pool"][0]),
        "Kuma MeshCircuitBreaker: Envoy 1024/1024/1024/3, §5 [K1]",
    ),
    "outlier_detection": (
        {
            **ENVOY_BLOCKS["outlier_detection"][0],
            "consecutive_5xx": OFF,
            "enforcing_consecutive_gateway_errors": 0,
        },
        "Kuma: a consecutive detector without a count gets enforcement 0 (off); panic 50%, §5 [K4]",
    ),
}
