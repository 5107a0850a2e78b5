"""Istio's preset and per-block defaults (docs/references.md §1, §7)."""

from __future__ import annotations

from meshsim.meshes._envoy import BLOCKS as ENVOY_BLOCKS
from meshsim.meshes._envoy import ENVOY, UNLIMITED_32
from meshsim.meshes._preset import BlockDefaults, Preset
from meshsim.units import format_duration

__all__ = ["BLOCKS", "PRESET"]

#: What an unset field means under ``mesh.defaults: istio``: plain Envoy with these differences.
PRESET: Preset = ENVOY.but(
    name="istio",
    source="istio preset (docs/references.md §1, §7)",
    version="Istio 1.24 and later",
    timeout_s=None,  # Istio writes 0: no route timeout [S7]
    retry_attempts=2,  # default retry policy [S3]
    retry_attempts_in_block=2,  # a scenario retries block without attempts keeps Istio's 2
    retry_on=("connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"),
    retry_different_host=True,  # previous-hosts predicate [S3]
    load_balancer="least_request",  # [S4]
    max_connections=None,  # 2^32-1 in all four thresholds [S4]
    max_pending=None,
    max_requests=None,
    max_retries=None,
    connect_timeout_s=10.0,  # mesh connectTimeout [S8]
    panic_percent=0.0,  # minHealthPercent 0: panic mode off [S4]
    locality=True,  # locality LB on mesh-wide [S8]
    locality_needs_outlier=True,  # failover needs outlier detection [S5]
)

_BACKOFF = dict(ENVOY_BLOCKS["backoff"][0])
_OUTLIER = dict(ENVOY_BLOCKS["outlier_detection"][0])

#: Istio's defaults for the fields of a block an object writes partly.
BLOCKS: dict[str, BlockDefaults] = {
    "retries": (
        {
            "retry_on": list(PRESET.retry_on),
            "retriable_status_codes": [],
            "retry_different_host": True,
            **_BACKOFF,
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
            "connect_timeout": format_duration(PRESET.connect_timeout_s),
        },
        "Istio: thresholds 2^32-1, connectTimeout 10s, §1 [S4][S8]",
    ),
    "outlier_detection": (
        {**_OUTLIER, "min_health_percent": 0},
        "Istio passes Envoy defaults; minHealthPercent 0 turns panic off, §1 [S4][S2]",
    ),
    "retry_budget": (
        dict(ENVOY_BLOCKS["retry_budget"][0]),
        "Istio retryBudget: percent 20, minRetryConcurrency 3 (Envoy's), §1 [S2][S9]",
    ),
    "fault.delay": ({"percent": 0}, "Istio: no percentage => nothing injected, §1 [S1]"),
    "fault.abort": ({"percent": 0}, "Istio: no percentage => nothing injected, §1 [S1]"),
    "mirror": ({"percent": 100}, "Istio: no mirrorPercentage => 100% mirrored, §1 [S1]"),
}
