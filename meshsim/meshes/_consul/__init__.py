"""Consul service mesh: everything meshsim knows about it (docs/references.md §3).

The preset is plain Envoy (§0) with Consul's differences: retries (when a retry field
is set) on connect-failure and the listed codes, outlier detection on every upstream,
and no panic mode. The importer (:mod:`._importer`) reads service-router, -splitter,
-resolver and -defaults entries as HCL, JSON or ``consul.hashicorp.com`` CRDs.
"""

from __future__ import annotations

from meshsim.meshes._consul._defaults import BLOCKS, PRESET
from meshsim.meshes._consul._importer import ConsulImporter
from meshsim.meshes._envoy import ENVOY_PROXY
from meshsim.meshes._preset import MeshUnit, Semantic

__all__ = ["BLOCKS", "PRESET", "SEMANTICS", "UNIT"]

_C = "hashicorp/consul"
_V = "main (search index, 2026; Consul 1.22)"
_DOCS = "developer.hashicorp.com/consul/docs"

SEMANTICS: tuple[Semantic, ...] = (
    Semantic(
        "retry policy",
        "only when NumRetries, RetryOnConnectFailure, RetryOn or RetryOnStatusCodes is set; "
        "conditions = RetryOn + connect-failure + retriable-status-codes; NumRetries 0 leaves Envoy's 1",
        f"{_C} agent/xds/routes.go (makeRetryPolicy); {_DOCS}/agent/config-entries/service-router",
        _V,
        "§3 [C1][C4]",
    ),
    Semantic(
        "route timeout",
        "Envoy's 15 s unless RequestTimeout is set; a negative value turns it off; the resolver's "
        "RequestTimeout applies only when no router or splitter starts the chain",
        f"{_C} agent/xds/routes.go (makeRouteActionFromName, resolver RequestTimeout)",
        _V,
        "§3 [C1][C6]",
    ),
    Semantic(
        "connect timeout",
        "5000 ms",
        f"{_C} agent/xds/config/config.go (ParseGatewayConfig, UpstreamConfig ConnectTimeoutMs)",
        _V,
        "§3 [C2]",
    ),
    Semantic(
        "outlier detection",
        "every upstream cluster has an outlier block, so Envoy's defaults apply even with no PassiveHealthCheck; "
        "discovery-chain clusters set the panic threshold to 0",
        f"{_C} agent/xds/clusters.go (makeUpstreamClustersForDiscoveryChain)",
        _V,
        "§3 [C3]",
    ),
    Semantic(
        "PassiveHealthCheck fields",
        "Interval and MaxFailures 0 mean unset (Envoy's 10 s and 5); EnforcingConsecutive5xx 0 is kept "
        "for sidecars (no consecutive-5xx ejection); MaxEjectionPercent and BaseEjectionTime passed through",
        f"{_C} agent/xds/config/config.go (ToOutlierDetection, allowZero)",
        _V,
        "§3 [C3][C5]",
    ),
    Semantic(
        "circuit breakers",
        "only the Limits set are written (0 means unset); Envoy's 1024/1024/1024/3 otherwise",
        f"{_C} agent/xds/clusters.go (makeThresholdsIfNeeded); {_DOCS}/agent/config-entries/service-defaults",
        _V,
        "§3 [C3][C5]",
    ),
    Semantic(
        "load balancer",
        "Envoy's ROUND_ROBIN unless LoadBalancer.Policy; least_request ChoiceCount 2",
        f"{_C} agent/xds/clusters.go (injectLBToCluster); {_DOCS}/connect/config-entries/service-resolver",
        _V,
        "§3 [C6]",
    ),
    Semantic(
        "discovery chain",
        "router -> splitter -> resolver; the first matching route wins; an implied catch-all to the service",
        f"{_C} api/config_entry_discoverychain.go",
        _V,
        "§3 [C7]",
    ),
)

UNIT = MeshUnit(
    name="consul",
    title="Consul service mesh",
    presets={"consul": PRESET},
    import_preset="consul",
    importer=ConsulImporter,
    proxies=(ENVOY_PROXY,),
    block_defaults=BLOCKS,
    semantics=SEMANTICS,
)
