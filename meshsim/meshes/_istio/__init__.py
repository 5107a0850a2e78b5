"""Istio: everything meshsim knows about it (docs/references.md §1).

The preset is plain Envoy (§0) with Istio's differences: no route timeout, 2 retries on
connection-level conditions with the previous-hosts predicate, least request, breakers
at 2^32-1, a 10 s connect timeout, no panic mode, and locality-aware routing that acts
only with outlier detection. The importer (:mod:`._importer`) reads VirtualService,
DestinationRule and Gateway API routes.
"""

from __future__ import annotations

from meshsim.meshes._envoy import ENVOY_PROXY
from meshsim.meshes._istio._defaults import BLOCKS, PRESET
from meshsim.meshes._istio._importer import IstioImporter
from meshsim.meshes._preset import MeshUnit, Semantic

__all__ = ["BLOCKS", "PRESET", "SEMANTICS", "UNIT"]

_ISTIO = "istio/istio"
_API = "istio/api"
_V = "1.31 dev (86c9f01, Aug 2026); the 1.24+ default"
_V_API = "master (b8f8791, Jul 2026)"

SEMANTICS: tuple[Semantic, ...] = (
    Semantic(
        "retries with no retries block",
        "2, on connect-failure, refused-stream, unavailable, cancelled, retriable-status-codes (no codes); "
        "previous-hosts predicate, 5 host re-picks",
        f"{_ISTIO} pilot/pkg/networking/core/route/retry/retry.go:36-37,53,94-103",
        _V,
        "§1 [S3]",
    ),
    Semantic(
        "retries block with attempts 0 or none",
        "no retries",
        f"{_ISTIO} pilot/pkg/networking/core/route/retry/retry.go:116-119",
        _V,
        "§1 [S3]",
    ),
    Semantic(
        "retries block without retryOn",
        "keeps the default conditions; bare status codes add retriable-status-codes",
        f"{_ISTIO} pilot/pkg/networking/core/route/retry/retry.go:122-134",
        _V,
        "§1 [S3]",
    ),
    Semantic(
        "retries under consistent hashing",
        "no previous-hosts predicate",
        f"{_ISTIO} pilot/pkg/networking/core/route/retry/retry.go:85-103",
        _V,
        "§1 [S3]",
    ),
    Semantic(
        "route timeout when none is set",
        "off (Istio writes 0, not Envoy's 15 s)",
        f"{_ISTIO} pilot/pkg/networking/core/route/route.go:1331-1335",
        _V,
        "§1 [S7]",
    ),
    Semantic(
        "a route with fault injection",
        "no timeout and no retries",
        f"{_API} networking/v1alpha3/virtual_service.proto:460",
        _V_API,
        "§1 [S1]",
    ),
    Semantic(
        "mirroring without mirrorPercentage",
        "100 % mirrored",
        f"{_API} networking/v1alpha3/virtual_service.proto:487-490",
        _V_API,
        "§1 [S1]",
    ),
    Semantic(
        "load balancer when simple is unset",
        "LEAST_REQUEST",
        f"{_ISTIO} pilot/pkg/networking/core/cluster_traffic_policy.go:384,393-394",
        _V,
        "§1 [S4]",
    ),
    Semantic(
        "circuit-breaker thresholds",
        "2^32-1 in max_connections, max_pending_requests, max_requests, max_retries",
        f"{_ISTIO} pilot/pkg/networking/core/cluster_traffic_policy.go:478-488",
        _V,
        "§1 [S4]",
    ),
    Semantic(
        "outlier detection",
        "only with a DestinationRule block; success rate off; a consecutive count > 0 enforces 100 %; "
        "maxEjectionPercent used only if > 0; panic threshold = minHealthPercent (default 0, off)",
        f"{_ISTIO} pilot/pkg/networking/core/cluster_traffic_policy.go:493-557",
        _V,
        "§1 [S4][S2]",
    ),
    Semantic(
        "retryBudget",
        "percent 20 %, minRetryConcurrency 3",
        f"{_API} networking/v1alpha3/destination_rule.proto:292-305",
        _V_API,
        "§1 [S2]",
    ),
    Semantic(
        "connect timeout and locality LB",
        "connectTimeout 10 s; localityLbSetting enabled",
        f"{_ISTIO} pkg/config/mesh/mesh.go:85-86,94",
        _V,
        "§1 [S8]",
    ),
    Semantic(
        "subset traffic policy",
        "replaces the parent's blocks whole (connectionPool, outlierDetection, loadBalancer, retryBudget)",
        f"{_ISTIO} pilot/pkg/model/destination_rule.go:179",
        _V,
        "§1 [S6]",
    ),
)

UNIT = MeshUnit(
    name="istio",
    title="Istio",
    presets={"istio": PRESET},
    import_preset="istio",
    importer=IstioImporter,
    proxies=(ENVOY_PROXY,),
    block_defaults=BLOCKS,
    semantics=SEMANTICS,
)
