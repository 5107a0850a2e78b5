"""Consul's preset and per-block defaults (docs/references.md §3, §7)."""

from __future__ import annotations

from meshsim.meshes._envoy import BLOCKS as ENVOY_BLOCKS
from meshsim.meshes._envoy import ENVOY
from meshsim.meshes._preset import BlockDefaults, Preset
from meshsim.units import format_duration

__all__ = ["BLOCKS", "PRESET"]

#: What an unset field means under ``mesh.defaults: consul``: plain Envoy with these differences.
PRESET: Preset = ENVOY.but(
    name="consul",
    source="consul preset (docs/references.md §3, §7)",
    version="Consul 1.22 (Envoy 1.35)",
    # A retry policy exists only when a retry field is set; it retries on connect-failure
    # plus the listed codes [C1].
    retry_on=("connect-failure", "retriable-status-codes"),
    outlier_always=True,  # every upstream cluster gets an outlier block [C2][C3]
    panic_percent=0.0,  # discovery-chain clusters turn panic mode off [C3]
)

#: Consul's defaults for the fields of a block an object writes partly.
BLOCKS: dict[str, BlockDefaults] = {
    "retries": (
        {"attempts": 1, **ENVOY_BLOCKS["backoff"][0]},
        "Consul: NumRetries 0/unset leaves Envoy's 1 retry, §3 [C1][C4]",
    ),
    "connection_pool": (
        {**ENVOY_BLOCKS["connection_pool"][0], "connect_timeout": format_duration(PRESET.connect_timeout_s)},
        "Consul writes only the Limits set; Envoy 1024/3 otherwise; connect 5s, §3 [C3][C2]",
    ),
    "outlier_detection": (
        {**ENVOY_BLOCKS["outlier_detection"][0], "min_health_percent": 0},
        "Consul: Envoy outlier defaults, panic threshold 0 (off), §3 [C3]",
    ),
}
