"""Traefik's presets and per-block defaults (docs/references.md §6, §7).

Three releases: ``traefik`` is a Traefik 3.x proxy (the release people run today,
measured live at 3.7.15; ``mesh.version: 3``, the default), ``traefik`` with
``mesh.version: 2`` a Traefik 2.x proxy, and ``traefik-mesh`` Traefik Mesh v1.4 on its
Traefik v2.8 proxies. Where their behaviour is the same, the second is
written as the first; every difference is a field of :data:`MESH_PRESET`.
"""

from __future__ import annotations

from meshsim.meshes._envoy import ENVOY
from meshsim.meshes._preset import BlockDefaults, Preset, Proxy

__all__ = ["BLOCKS", "MESH_PRESET", "PRESET", "PRESET_V2", "RETRY_NETWORK", "RETRY_STATUS", "TRAEFIK_PROXY"]

#: Traefik publishes no per-hop figure; the Envoy prior is reused, labelled an assumption (§8).
TRAEFIK_PROXY = Proxy(
    "traefik",
    {"dist": "lognormal", "median": "0.6ms", "p99": "2.5ms"},
    "no published Traefik figure: the Envoy prior, an assumption (§8)",
)

#: Traefik 3.x: the Envoy base with Traefik's differences.
PRESET: Preset = ENVOY.but(
    name="traefik",
    source="traefik preset (docs/references.md §6, §7)",
    version="Traefik 3.7",
    proxy="traefik",
    timeout_s=None,  # no response timeout unless a serversTransport sets one [T8]
    retry_attempts_in_block=0,  # the retry middleware requires attempts [T4]
    retry_on=("connect-failure",),  # a retry only before any request byte reached a server [T4]
    backoff_s=None,  # initialInterval unset: retries follow at once [T4]
    # A retry goes back through the service's load balancer, which keeps no memory of the
    # server that failed (measured: tries split 50/50 over two servers when one refuses) [T4].
    retry_different_host=False,
    load_balancer="round_robin",  # weighted round robin [T3]
    max_connections=None,  # no circuit-breaker thresholds
    max_pending=None,
    max_requests=None,
    max_retries=None,
    connect_timeout_s=30.0,  # serversTransport forwardingTimeouts.dialTimeout [T8]
    panic_percent=0.0,  # with every server down the balancer answers 503; no panic mode [T9]
    # Traefik's retry middleware: connect errors and (3.7) status codes, its own exponential
    # back-off from initialInterval, the timeout option (engine/_traefik_retry.py) [T4]
    retry_kind="traefik",
    # a refused dial costs a round trip plus Traefik's own work for the try (half a proxy
    # traversal), not the service (measured: 1.995 tries per request and 0.22 % failed with
    # one of two servers refusing and immediate retries, the round robin alternating)
    refusal_round_trip=True,
    # a weighted service is a deterministic earliest-deadline-first schedule, not a draw [T3]
    split_kind="smooth",
    # cenkalti/backoff's MaxInterval, which Traefik leaves at its default [T4]
    backoff_cap_s=60.0,
    # Traefik is an edge (or per-node) proxy: a breaker's fallback or its "no available
    # server" 503 costs the caller a round trip to it (measured: about 0.65 ms on loopback)
    local_reply_hop=True,
)

#: Traefik 2.x: the same proxy for everything meshsim reads, except that its retry middleware
#: retries on connection errors only (no status, timeout or disableRetryOnNetworkError; 3.7
#: added them) [T4].
PRESET_V2: Preset = PRESET.but(
    source="traefik preset, mesh.version 2 (docs/references.md §6, §7)",
    version="Traefik 2.x (v2.8)",
    retry_status_supported=False,
)

#: Traefik Mesh v1.4.8 on Traefik v2.8.3: Traefik 2.x's proxy behaviour (retry, circuit
#: breaker, rate limit, round robin, 30 s dial timeout) [T2][T7].
MESH_PRESET: Preset = PRESET_V2.but(
    name="traefik-mesh",
    source="traefik-mesh preset (docs/references.md §6, §7)",
    version="Traefik Mesh v1.4.8 (Traefik v2.8.3)",
)

#: ``retry_on`` conditions -> the Traefik retry ``status`` range they mean (3.7); ``connect-failure``
#: and ``reset`` are its network-error retry (a failed dial), ``retriable-status-codes`` adds the
#: listed codes; other conditions have no Traefik equivalent [T4].
RETRY_STATUS: dict[str, str] = {
    "5xx": "500-599",
    "gateway-error": "502-504",
    "retriable-4xx": "409",
    "rate_limited": "429",
    "timeout": "504",
}
#: the ``retry_on`` conditions that stand for Traefik's network-error retry
RETRY_NETWORK = frozenset({"connect-failure", "reset"})

#: Traefik's defaults for the fields of a block a configuration writes partly.
BLOCKS: dict[str, BlockDefaults] = {
    "retries": (
        {"backoff": "none", "retry_on": list(PRESET.retry_on), "retry_different_host": PRESET.retry_different_host},
        "Traefik retry middleware: no back-off, connection errors only, through the balancer again, §6 [T4]",
    ),
    "circuit_breaker": (
        {"check_period": "100ms", "fallback_duration": "10s", "recovery_duration": "10s"},
        "Traefik circuit breaker: checkPeriod 100ms, fallback 10s, recovery 10s, §6 [T5]",
    ),
    "rate_limit": ({"burst": 1}, "Traefik rate limit: burst 1, period 1s, §6 [T6]"),
}
