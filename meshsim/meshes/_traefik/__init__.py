"""Traefik and Traefik Mesh: everything meshsim knows about them (docs/references.md §6).

Presets by release: ``traefik`` is a Traefik 3.x proxy (``mesh.version: 3``, the default)
or, with ``mesh.version: 2``, a Traefik 2.x one; ``traefik-mesh`` is Traefik Mesh v1.4 on
Traefik v2.8. All are the Envoy base with Traefik's differences: no route timeout, retries
only when a retry middleware is set (connection errors, and in 3.7 status codes), run by
Traefik's own retry policy (its back-off, back through the balancer), a refused dial
costing one round trip, a smooth weighted split, no circuit-breaker thresholds, a 30 s dial
timeout. The engine's Traefik objects are ``meshsim.engine._traefik_retry``,
``_traefik_breaker`` and ``_traefik_health``. The importer reads Traefik Mesh annotations
and SMI splits (:mod:`._mesh`) and Traefik 3.x CRDs and dynamic configuration
(:mod:`._importer`, :mod:`._middlewares`).
"""

from __future__ import annotations

from meshsim.meshes._preset import MeshUnit, Semantic
from meshsim.meshes._traefik._defaults import (
    BLOCKS,
    MESH_PRESET,
    PRESET,
    PRESET_V2,
    RETRY_NETWORK,
    RETRY_STATUS,
    TRAEFIK_PROXY,
)
from meshsim.meshes._traefik._importer import TraefikImporter

__all__ = ["BLOCKS", "MESH_PRESET", "PRESET", "RETRY_NETWORK", "RETRY_STATUS", "SEMANTICS", "UNIT"]

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
        "back-off wait",
        "retry k waits min(initial x multiplier^(k-1), 60 s) x U[0.5, 1.5) (RandomizationFactor 0.5, MaxInterval 60 s)",
        "cenkalti/backoff exponential.go:80-92,171-215",
        "v4.3.0",
        "§6 [T11]",
    ),
    Semantic(
        "retry timeout",
        "once timeout has passed since the request came in, the next answer is final",
        f"{_T} pkg/middlewares/retry/retry.go:327-335",
        _V3,
        "§6 [T4]",
    ),
    Semantic(
        "Traefik 2.x retries",
        "network errors only: no status, timeout, disableRetryOnNetworkError (mesh.version: 2, traefik-mesh)",
        f"{_T} pkg/middlewares/retry/retry.go",
        _V2,
        "§6 [T4]",
    ),
    Semantic(
        "refused dial",
        "costs one network round trip; the 502 it answers is retried as a network error",
        f"{_T} pkg/middlewares/retry/retry.go:56-70,332-335 (proxy reached, request not written)",
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
        "breaker window",
        "10 buckets of 1 s (current second + 9); 502 and 504 are network errors; checked after an answer",
        "vulcand/oxy memmetrics/roundtrip.go:194,290-291; memmetrics/counter.go:129-144; cbreaker/cbreaker.go:179-259",
        "v2.2.0",
        "§6 [T12]",
    ),
    Semantic(
        "breaker recovery",
        "a request passes while allowed / (allowed + denied) < 0.5 x elapsed / recoveryDuration",
        "vulcand/oxy cbreaker/ratio.go:36-74",
        "v2.2.0",
        "§6 [T12]",
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
        "earliest-deadline-first schedule (deterministic: deadline += 1/weight); 503 when no server is available",
        f"{_T} pkg/server/service/loadbalancer/wrr/wrr.go:15,22-28,175-176,199-253",
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
