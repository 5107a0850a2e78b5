"""Traefik and Traefik Mesh: everything meshsim knows about them (docs/references.md §6).

Two presets, selected by version: ``traefik`` (a Traefik 3.x proxy) and ``traefik-mesh``
(Traefik Mesh v1.4 on Traefik v2.8). Both are the Envoy base with Traefik's differences:
no route timeout, retries only when a retry middleware is set (and then only on
connection errors, at once, back through the balancer), weighted round robin, no
circuit-breaker thresholds, a 30 s dial timeout. The importer reads Traefik Mesh
annotations and SMI splits (:mod:`._mesh`) and Traefik 3.x CRDs and dynamic
configuration (:mod:`._importer`, :mod:`._middlewares`). The runtime differences of
Traefik 3.x (its back-off curve, smooth weighted round robin, the breaker's 1 s buckets,
status-code errors) are not in the engine yet; the importer notes each approximation.
"""

from __future__ import annotations

from meshsim.meshes._preset import MeshUnit, Semantic
from meshsim.meshes._traefik._defaults import BLOCKS, MESH_PRESET, PRESET, PRESET_V2, TRAEFIK_PROXY
from meshsim.meshes._traefik._importer import TraefikImporter

__all__ = ["BLOCKS", "MESH_PRESET", "PRESET", "SEMANTICS", "UNIT"]

_T = "traefik/traefik"
_V3 = "v3.7.9"
_V2 = "v2.8.8"
_MESH = "traefik/mesh"
_VM = "v1.4.7+ (9a344c9, Mar 2026)"

SEMANTICS: tuple[Semantic, ...] = (
    Semantic(
        "retry attempts",
        "attempts counts every try; 1 means no retry; 0 or less is refused",
        f"{_T} pkg/middlewares/retry/retry.go:98-117,137-141",
        _V3,
        "§6 [T4]",
    ),
    Semantic(
        "what is retried",
        "a network error before any request byte reached the server (unless disableRetryOnNetworkError); "
        "with status, those codes, for idempotent methods unless retryNonIdempotentMethod; not after timeout",
        f"{_T} pkg/middlewares/retry/retry.go:148-152,332-353",
        _V3,
        "§6 [T4]",
    ),
    Semantic(
        "where a retry goes",
        "back through the service's load balancer, which keeps no memory of the failed server",
        f"{_T} pkg/middlewares/retry/retry.go:231 (r.next is the service handler)",
        _V3,
        "§6 [T4]",
    ),
    Semantic(
        "retry back-off",
        "none without initialInterval; else exponential from it, multiplier 2^(1/(attempts-1)), ±50 % jitter",
        f"{_T} pkg/middlewares/retry/retry.go:262-277",
        _V3,
        "§6 [T4]",
    ),
    Semantic(
        "circuit breaker",
        "checkPeriod 100 ms, fallbackDuration 10 s, recoveryDuration 10 s, responseCode 503; service-wide",
        f"{_T} pkg/config/dynamic/middlewares.go:182-186",
        _V3,
        "§6 [T5]",
    ),
    Semantic(
        "rate limit",
        "token bucket: average per period (default 1 s), burst default 1",
        f"{_T} pkg/config/dynamic/middlewares.go:637-639",
        _V3,
        "§6 [T6]",
    ),
    Semantic(
        "weighted round robin",
        "earliest-deadline-first schedule (deterministic); 503 when no server is available",
        f"{_T} pkg/server/service/loadbalancer/wrr/wrr.go:15,22-28,175-176",
        _V3,
        "§6 [T3][T9]",
    ),
    Semantic(
        "dial timeout",
        "30 s",
        f"{_T} pkg/config/dynamic/http_config.go:570 ({_V3}); pkg/config/static/static_config.go:143 ({_V2})",
        f"{_V3}, {_V2}",
        "§6 [T8]",
    ),
    Semantic(
        "passive health check",
        "a server is down for failureWindow after maxFailedAttempts failures (5xx or no connection) in a row "
        "within failureWindow; defaults 1 and 10 s",
        f"{_T} pkg/healthcheck/healthcheck.go:371-459; pkg/config/dynamic/http_config.go:508-518",
        _V3,
        "§6 [T9]",
    ),
    Semantic(
        "mirroring",
        "percent of the traffic, default 0",
        f"{_T} pkg/config/dynamic/http_config.go:244-247",
        _V3,
        "§6 [T10]",
    ),
    Semantic(
        "Traefik Mesh annotations",
        "retry-attempts, circuit-breaker-expression, ratelimit-average + ratelimit-burst (both > 0), "
        "traffic-type, scheme; mesh.traefik.io/ first, then the legacy maesh.containo.us/",
        f"{_MESH} pkg/annotations/annotations.go:25-32,130-134; pkg/annotations/middleware.go:36-106",
        _VM,
        "§6 [T1][T2]",
    ),
    Semantic("Traefik Mesh proxy", "Traefik v2.8.3", f"{_MESH} go.mod:15", _VM, "§6 [T7]"),
)

UNIT = MeshUnit(
    name="traefik",
    title="Traefik / Traefik Mesh",
    presets={"traefik": PRESET, "traefik-mesh": MESH_PRESET},
    import_preset="traefik",
    importer=TraefikImporter,
    proxies=(TRAEFIK_PROXY,),
    block_defaults=BLOCKS,
    semantics=SEMANTICS,
    versions={"traefik": {"3": PRESET, "2": PRESET_V2}, "traefik-mesh": {"1": MESH_PRESET}},
)
