"""Kuma / Kong Mesh: everything meshsim knows about it (docs/references.md §5).

The preset is plain Envoy (§0) with the default policies Kuma 2.6 to 2.14 create for
every new mesh: 5 retries with a 16 s per-try timeout, and locality awareness that keeps
traffic in the local zone. The importer (:mod:`._importer`, with :mod:`._targets` for
the targetRef model) reads the targetRef policies in Kubernetes and Universal form.
"""

from __future__ import annotations

from meshsim.meshes._envoy import ENVOY_PROXY
from meshsim.meshes._kuma._defaults import BLOCKS, PRESET
from meshsim.meshes._kuma._importer import KumaImporter
from meshsim.meshes._preset import MeshUnit, Semantic

__all__ = ["BLOCKS", "PRESET", "SEMANTICS", "UNIT"]

_K = "kumahq/kuma"
_V = "2.14.x (348b652, Aug 2026)"

SEMANTICS: tuple[Semantic, ...] = (
    Semantic(
        "mesh-retry-all",
        "HTTP and gRPC: 5 retries, per-try timeout 16 s, back-off 25 ms to 250 ms",
        f"{_K} pkg/defaults/mesh/meshretry.go:14,34-55",
        _V,
        "§5 [K1]",
    ),
    Semantic(
        "MeshRetry without retryOn",
        "HTTP: gateway-error, connect-failure, refused-stream; gRPC: cancelled, connect-failure, gateway-error, "
        "refused-stream, reset, resource-exhausted, unavailable; numRetries unset = Envoy's 1",
        f"{_K} pkg/plugins/policies/meshretry/plugin/xds/configurer.go:30-34,72,118",
        _V,
        "§5 [K3]",
    ),
    Semantic(
        "mesh-timeout-all",
        "outbound connect 5 s, idle 1 h, request 15 s, stream idle 30 min",
        f"{_K} pkg/defaults/mesh/meshtimeout.go:29-36; pkg/plugins/policies/core/defaults/consts.go:9-12",
        _V,
        "§5 [K1][K2]",
    ),
    Semantic(
        "mesh-circuit-breaker-all",
        "1024/1024/1024 with maxRetries 3; no outlier detection",
        f"{_K} pkg/defaults/mesh/meshcircuitbreaker.go:23-26",
        _V,
        "§5 [K1]",
    ),
    Semantic(
        "outlier detectors",
        "a consecutive detector without a count gets enforcement 0; panic threshold Envoy's 50 % unless set",
        f"{_K} pkg/plugins/policies/meshcircuitbreaker/plugin/xds/configurer.go:85-125,204-213",
        _V,
        "§5 [K4]",
    ),
    Semantic(
        "locality awareness",
        "on: traffic stays in the local zone; cross-zone only when crossZone is configured",
        f"{_K} pkg/plugins/policies/meshloadbalancingstrategy/api/v1alpha1/meshloadbalancingstrategy.go:44-78",
        _V,
        "§5 [K5]",
    ),
    Semantic(
        "targetRef",
        "to[] targets Mesh, MeshService (name, or labels from 2.10), MeshMultiZoneService, MeshHTTPRoute; "
        "top-level Mesh or Dataplane",
        f"{_K} api/common/v1alpha1/targetref.go:18-121",
        _V,
        "§5 [K6]",
    ),
)

UNIT = MeshUnit(
    name="kuma",
    title="Kuma / Kong Mesh",
    presets={"kuma": PRESET},
    import_preset="kuma",
    importer=KumaImporter,
    proxies=(ENVOY_PROXY,),
    block_defaults=BLOCKS,
    semantics=SEMANTICS,
)
