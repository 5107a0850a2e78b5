"""App Mesh's preset and per-block defaults (docs/references.md §4, §7)."""

from __future__ import annotations

from meshsim.meshes._envoy import BLOCKS as ENVOY_BLOCKS
from meshsim.meshes._envoy import ENVOY, UNLIMITED_31
from meshsim.meshes._preset import BlockDefaults, Preset

__all__ = ["BLOCKS", "PRESET"]

#: What an unset field means under ``mesh.defaults: appmesh``: plain Envoy with these differences
#: (accounts created after 29 Jul 2020 [A1]).
PRESET: Preset = ENVOY.but(
    name="appmesh",
    source="appmesh preset (docs/references.md §4, §7)",
    version="App Mesh, accounts created after 29 Jul 2020",
    retry_attempts=2,  # hidden default retry policy [A1]
    retry_attempts_in_block=2,
    retry_on=("retriable-status-codes", "reset", "connect-failure", "refused-stream"),
    retriable_status_codes=(503,),
    max_connections=None,  # 2^31-1 in all four thresholds [A1]
    max_pending=None,
    max_requests=None,
    max_retries=None,
)

#: App Mesh's defaults for the fields of a block an object writes partly.
BLOCKS: dict[str, BlockDefaults] = {
    "retries": (dict(ENVOY_BLOCKS["backoff"][0]), "App Mesh: Envoy back-off 25ms..250ms, §0 [E1]"),
    "connection_pool": (
        {
            "max_connections": UNLIMITED_31,
            "max_pending": UNLIMITED_31,
            "max_requests": UNLIMITED_31,
            "max_retries": UNLIMITED_31,
        },
        "App Mesh: unset thresholds 2^31-1 (accounts after Jul 2020), §4 [A1]",
    ),
    "outlier_detection": (
        dict(ENVOY_BLOCKS["outlier_detection"][0]),
        "App Mesh: Envoy outlier defaults, §4 [A3] §0 [E4]",
    ),
}
