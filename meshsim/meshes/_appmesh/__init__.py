"""AWS App Mesh: everything meshsim knows about it (docs/references.md §4).

The preset is plain Envoy (§0) with App Mesh's differences for accounts created after
29 July 2020: a hidden default of 2 retries on 503, reset, connect-failure and
refused-stream, and circuit breakers at 2^31-1. The importer (:mod:`._importer`) reads
the API JSON, the Kubernetes CRDs (v1beta2 and v1beta1) and CloudFormation templates.
"""

from __future__ import annotations

from meshsim.meshes._appmesh._defaults import BLOCKS, PRESET
from meshsim.meshes._appmesh._importer import AppMeshImporter
from meshsim.meshes._envoy import ENVOY_PROXY
from meshsim.meshes._preset import MeshUnit, Semantic

__all__ = ["BLOCKS", "PRESET", "SEMANTICS", "UNIT"]

_GUIDE = "awsdocs/aws-app-mesh-user-guide doc_source"
_V = "latest docs (2026; end of support 30 Sep 2026)"
_CTRL = "aws/aws-app-mesh-controller-for-k8s"
_VC = "v1beta2 API (7588d12, Jul 2026)"

SEMANTICS: tuple[Semantic, ...] = (
    Semantic(
        "default retry policy",
        "2 retries on HTTP 503, gRPC UNAVAILABLE, connect-failure, refused-stream and reset "
        "(accounts created after 29 Jul 2020; not shown in the API)",
        f"{_GUIDE}/envoy-defaults.md",
        _V,
        "§4 [A1]",
    ),
    Semantic(
        "circuit breakers",
        "2,147,483,647 in all four thresholds unless connectionPool sets them",
        f"{_GUIDE}/envoy-defaults.md",
        _V,
        "§4 [A1]",
    ),
    Semantic("route timeout", "15 s", f"{_GUIDE}/routes.md", _V, "§4 [A2]"),
    Semantic(
        "outlier detection",
        "only if a listener configures it; maxServerErrors, interval, baseEjectionDuration and "
        "maxEjectionPercent are all required",
        f"{_CTRL} apis/appmesh/v1beta2/virtualnode_types.go:157-175",
        _VC,
        "§4 [A3]",
    ),
    Semantic(
        "virtual gateway vs node",
        "a node with listeners must have serviceDiscovery; a gateway has none",
        f"{_CTRL} apis/appmesh/v1beta2/virtualnode_types.go:437",
        _VC,
        "§4 [A3]",
    ),
    Semantic(
        "retry events",
        "server-error = 500-508, 510, 511; gateway-error = 502/503/504; client-error = 409; "
        "stream-error = refused stream; server-error and gateway-error also retry resets",
        "docs.aws.amazon.com/app-mesh/latest/APIReference/API_HttpRetryPolicy.html",
        "API 2019-01-25",
        "§4 [A4]",
    ),
    Semantic(
        "load balancer",
        "not configurable; Envoy's ROUND_ROBIN (inferred)",
        "envoyproxy/data-plane-api envoy/config/cluster/v3/cluster.proto:90",
        "main 84e8436 (Jan 2026)",
        "§4 [E10]",
    ),
)

UNIT = MeshUnit(
    name="appmesh",
    title="AWS App Mesh",
    presets={"appmesh": PRESET},
    import_preset="appmesh",
    importer=AppMeshImporter,
    proxies=(ENVOY_PROXY,),
    block_defaults=BLOCKS,
    semantics=SEMANTICS,
)
