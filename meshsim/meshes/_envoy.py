"""Envoy: the proxy under Istio, Consul, App Mesh and Kuma, and the base every preset is written from.

:data:`ENVOY` is what an Envoy cluster and route do when a mesh sets nothing
(docs/references.md §0). Each mesh's preset is ``ENVOY.but(...)``: the fields it names
are where that mesh differs from plain Envoy. :data:`BLOCKS` holds Envoy's per-field
defaults for a block a configuration writes partly; :data:`SEMANTICS` cites each value.
"""

from __future__ import annotations

from meshsim.meshes._preset import BlockDefaults, OutlierDefaults, Preset, Proxy, Semantic
from meshsim.units import format_duration

__all__ = [
    "BLOCKS",
    "ENVOY",
    "RETRY_BUDGET",
    "ENVOY_PROXY",
    "OFF",
    "RETRY_ON",
    "SEMANTICS",
    "UNLIMITED_31",
    "UNLIMITED_32",
    "envoy_max_ejection",
]

_API = "envoyproxy/data-plane-api"
_API_VERSION = "main 84e8436 (Jan 2026; Envoy 1.37 API)"
_DOCS = "envoyproxy/envoy docs/root"
_DOCS_VERSION = "v1.36 source; latest docs (v1.39)"

#: A consecutive-error threshold no host ever reaches: the scenario format has no "off" for
#: ``consecutive_5xx``; Envoy, Istio and Kuma turn a detector off with enforcement 0 %
#: (§0 [E4], §5 [K4]).
OFF = 2**32 - 1
#: Istio writes 2^32-1 into all four circuit-breaker thresholds (§1 [S4]).
UNLIMITED_32 = 2**32 - 1
#: App Mesh (accounts created after 29 Jul 2020) writes 2^31-1 (§4 [A1]).
UNLIMITED_31 = 2**31 - 1

#: Per proxy traversal, one direction's processing cost folded into one draw (docs/proxies.md):
#: Istio 1.10-1.15 measured +2.65 ms at p90 for the two proxies of a hop (§8 [P1]).
ENVOY_PROXY = Proxy(
    "envoy",
    {"dist": "lognormal", "median": "0.6ms", "p99": "2.5ms"},
    "Istio 1.10-1.15 sidecar figures, §8 [P1]",
)

_OUTLIER = OutlierDefaults(
    consecutive_5xx=5,
    consecutive_gateway_errors=5,
    enforcing_consecutive_gateway_errors=0.0,
    interval=10.0,
    base_ejection_time=30.0,
    max_ejection_time=300.0,
    max_ejection_percent=10.0,
)

#: Plain Envoy: what a cluster and a route do when nothing is configured (§0).
ENVOY = Preset(
    name=None,
    source="Envoy defaults (docs/references.md §0)",
    proxy="envoy",
    timeout_s=15.0,  # route timeout [E2]
    retry_attempts=0,  # no retry policy: no retries [E1]
    retry_attempts_in_block=1,  # a retry policy without num_retries retries once [E2]
    per_try_timeout_s=None,  # the route timeout bounds every try [E2]
    retry_on=(),  # Envoy retries on nothing its retry_on does not name [E1]
    retriable_status_codes=(),
    backoff_s=(0.025, 0.25),  # base 25 ms, max 10 x base [E2]
    retry_different_host=False,  # only with the previous_hosts predicate [E2]
    load_balancer="round_robin",  # lb_policy ROUND_ROBIN = 0 [E10]
    max_connections=1024,  # circuit-breaker thresholds [E3]
    max_pending=1024,
    max_requests=1024,
    max_retries=3,
    connect_timeout_s=5.0,  # cluster connect_timeout [E10]
    outlier_always=False,  # outlier detection only when the cluster has the block [E4]
    outlier=_OUTLIER,  # [E4]
    # A gateway-error count a scenario writes is meant to eject: Istio and Kuma, the meshes that
    # expose it, enforce it at 100 % once a count is set (§1 [S4], §5 [K4]); Envoy's own default
    # enforcement is 0 % and applies when only the other fields are written.
    gateway_enforcing_when_set=100.0,
    panic_percent=50.0,  # healthy panic threshold [E7]
    locality=False,
    locality_cross_zone=True,
    locality_needs_outlier=False,
    version="Envoy 1.3x",
)

#: Envoy's retry budget when the block is set: (budget_percent, min_retry_concurrency) [E3].
RETRY_BUDGET = (20.0, 3)


def _scenario(value: float) -> float | int:
    """A number as the scenario writes it (``10.0`` -> ``10``)."""
    return int(value) if float(value).is_integer() else value


# The same values in the scenario's own syntax (durations as text), for blocks written partly.
assert ENVOY.backoff_s is not None
_BACKOFF = {"backoff.base": format_duration(ENVOY.backoff_s[0]), "backoff.max": format_duration(ENVOY.backoff_s[1])}
_POOL = {
    "max_connections": ENVOY.max_connections,
    "max_pending": ENVOY.max_pending,
    "max_requests": ENVOY.max_requests,
    "max_retries": ENVOY.max_retries,
}
_OUTLIER_BLOCK = {
    **{
        k: format_duration(v) if k in ("interval", "base_ejection_time", "max_ejection_time") else _scenario(v)
        for k, v in _OUTLIER.as_dict().items()
    },
    "min_health_percent": _scenario(ENVOY.panic_percent),
}

#: Envoy's defaults for the fields of a block a configuration writes partly (scenario syntax).
BLOCKS: dict[str, BlockDefaults] = {
    "retries": (
        {"attempts": ENVOY.retry_attempts_in_block, **_BACKOFF},
        "Envoy: num_retries unset => 1, back-off 25ms..250ms, §0 [E1][E2]",
    ),
    "backoff": (dict(_BACKOFF), "Envoy back-off 25ms..250ms, §0 [E1]"),
    "connection_pool": (dict(_POOL), "Envoy circuit-breaker defaults 1024/1024/1024/3, §0 [E3]"),
    "outlier_detection": (
        dict(_OUTLIER_BLOCK),
        "Envoy outlier defaults; gateway detector enforcing 0%, panic 50%, §0 [E4][E7]",
    ),
    "retry_budget": (
        {"budget_percent": _scenario(RETRY_BUDGET[0]), "min_retry_concurrency": RETRY_BUDGET[1]},
        "Envoy retry budget, §0 [E3]",
    ),
}

#: Envoy/Istio/Consul retry conditions -> scenario ``retry_on`` names (None: not modelled) [E1].
RETRY_ON: dict[str, str | None] = {
    "5xx": "5xx",
    "gateway-error": "gateway-error",
    "reset": "reset",
    "connect-failure": "connect-failure",
    "refused-stream": "refused-stream",
    "retriable-4xx": "retriable-4xx",
    "retriable-status-codes": "retriable-status-codes",
    "cancelled": "cancelled",
    "deadline-exceeded": "deadline-exceeded",
    "internal": "internal",
    "resource-exhausted": "resource-exhausted",
    "unavailable": "unavailable",
    "envoy-ratelimited": "rate_limited",
    "reset-before-request": None,
    "http3-post-connect-failure": None,
    "retriable-headers": None,
}


def envoy_max_ejection(base_s: float) -> float:
    """Envoy's max_ejection_time default: 300 s or the base time, whichever is larger (§0 [E4])."""
    return max(300.0, base_s)


SEMANTICS: tuple[Semantic, ...] = (
    Semantic(
        "route timeout",
        "15 s, covering every try and back-off; 0 turns it off",
        f"{_API} envoy/config/route/v3/route_components.proto:1371",
        _API_VERSION,
        "§0 [E2]",
    ),
    Semantic(
        "retries when a retry policy omits num_retries",
        "1",
        f"{_API} envoy/config/route/v3/route_components.proto:1704-1706",
        _API_VERSION,
        "§0 [E2]",
    ),
    Semantic(
        "retry back-off",
        "fully jittered: retry N waits U[0, (2^N-1) x 25 ms), capped at 10 x base = 250 ms",
        f"{_API} envoy/config/route/v3/route_components.proto:1766-1769; {_DOCS} "
        "configuration/http/http_filters/router_filter.rst (x-envoy-max-retries)",
        _API_VERSION,
        "§0 [E1][E2]",
    ),
    Semantic(
        "circuit breakers",
        "max_connections 1024, max_pending_requests 1024, max_requests 1024, max_retries 3",
        f"{_API} envoy/config/cluster/v3/circuit_breaker.proto:58-72",
        _API_VERSION,
        "§0 [E3]",
    ),
    Semantic(
        "retry budget",
        "budget_percent 20 %, min_retry_concurrency 3; replaces max_retries",
        f"{_API} envoy/config/cluster/v3/circuit_breaker.proto:36-50",
        _API_VERSION,
        "§0 [E3]",
    ),
    Semantic(
        "outlier detection fields",
        "consecutive_5xx 5 (enforcing 100 %), consecutive_gateway_failure 5 (enforcing 0 %), interval 10 s, "
        "base_ejection_time 30 s, max_ejection_percent 10 %, max_ejection_time max(300 s, base)",
        f"{_API} envoy/config/cluster/v3/outlier_detection.proto:31-87,157",
        _API_VERSION,
        "§0 [E4]",
    ),
    Semantic(
        "load balancer",
        "ROUND_ROBIN; least request picks the best of choice_count = 2 random hosts",
        f"{_API} envoy/config/cluster/v3/cluster.proto:90,450",
        _API_VERSION,
        "§0 [E10][E6]",
    ),
    Semantic(
        "connect timeout",
        "5 s",
        f"{_API} envoy/config/cluster/v3/cluster.proto:881-883",
        _API_VERSION,
        "§0 [E10]",
    ),
    Semantic(
        "healthy panic threshold",
        "50 %; 0 turns panic mode off",
        f"{_API} envoy/config/cluster/v3/cluster.proto:631-637",
        _API_VERSION,
        "§0 [E7]",
    ),
    Semantic(
        "priority overprovisioning factor",
        "1.4",
        f"{_API} envoy/config/endpoint/v3/endpoint.proto:92-102",
        _API_VERSION,
        "§0 [E8]",
    ),
    Semantic(
        "retry conditions",
        "5xx = any 5xx or no answer; gateway-error = 502/503/504; retriable-4xx = 409; "
        "a request whose route timeout fired is not retried",
        f"{_DOCS} configuration/http/http_filters/router_filter.rst (x-envoy-retry-on)",
        _DOCS_VERSION,
        "§0 [E1]",
    ),
)
