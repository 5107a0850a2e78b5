"""Resolve the effective policy of an edge: the file's blocks over the mesh preset.

A per-version block replaces the service's block whole (Istio's subset merge,
references §1), and each concrete value remembers where it came from so
``meshsim explain`` can say which line or preset set it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshsim.meshes import RETRY_BUDGET_DEFAULTS, OutlierDefaults, preset
from meshsim.scenario._models import Scenario
from meshsim.scenario._policies import (
    CircuitBreakerSpec,
    FailureAccrualSpec,
    FaultInjectionSpec,
    HedgingSpec,
    LoadBalancerSpec,
    LocalitySpec,
    MirrorSpec,
    PassiveHealthCheckSpec,
    PolicySpec,
    RateLimitSpec,
)

__all__ = ["EffectivePolicy", "OutlierParams", "resolve_policy"]

#: ``connection_pool`` field -> the preset field that gives its value when unset.
_PRESET_POOL = {
    "max_connections": "max_connections",
    "max_pending": "max_pending",
    "max_requests": "max_requests",
    "max_retries": "max_retries",
    "connect_timeout": "connect_timeout_s",
}


#: Envoy outlier detection with every field filled in (seconds, percents): the presets' type.
OutlierParams = OutlierDefaults


@dataclass(frozen=True)
class EffectivePolicy:
    """Every policy value for calls to one service (or version), concrete. Times in seconds."""

    timeout_s: float | None
    retry_attempts: int
    per_try_timeout_s: float | None
    retry_on: frozenset[str]
    retriable_status_codes: frozenset[int]
    backoff_base_s: float | None
    backoff_max_s: float | None
    retry_different_host: bool
    budget_kind: str | None  # "envoy" | "linkerd" | None
    budget_percent: float
    budget_min_concurrency: int
    budget_ratio: float
    budget_min_per_second: float
    budget_ttl_s: float
    hedging: HedgingSpec | None
    load_balancer: LoadBalancerSpec
    max_connections: int | None
    max_pending: int | None
    max_requests: int | None
    max_retries: int | None
    connect_timeout_s: float
    outlier: OutlierParams | None
    panic_percent: float
    failure_accrual: FailureAccrualSpec | None
    circuit_breaker: CircuitBreakerSpec | None
    rate_limit: RateLimitSpec | None
    fault: FaultInjectionSpec | None
    locality: LocalitySpec | None
    locality_needs_outlier: bool
    mirror: MirrorSpec | None
    mesh_release: str = ""  # the release the preset models (``mesh.version``), e.g. "Traefik 3.7"
    retry_kind: str = "envoy"  # "traefik": Traefik's retry middleware (engine/_traefik_retry.py)
    retry_timeout_s: float | None = None  # Traefik's retry timeout: no retry once the call is this old
    refusal_round_trip: bool = False  # a refused connection costs one network round trip only
    local_reply_hop: bool = False  # the proxy's own answers cost the caller a round trip to it
    split_kind: str = "random"  # how a version split picks: "random" draw or "smooth" weighted round robin
    passive_health_check: PassiveHealthCheckSpec | None = None  # Traefik's load-balancer passive health check
    origins: dict[str, str] = field(default_factory=dict, compare=False)

    def as_rows(self) -> list[tuple[str, Any, str]]:
        """(field, value, origin) rows for ``meshsim explain``."""
        rows = []
        for name in self.__dataclass_fields__:
            if name == "origins":
                continue
            value = getattr(self, name)
            if hasattr(value, "model_dump"):
                value = value.model_dump(exclude_none=True)
            if isinstance(value, frozenset):
                value = sorted(value)
            rows.append((name, value, self.origins.get(name, "")))
        return rows


def _imported_origin(imported: dict[str, str], origin: str) -> str:
    """Replace ``policies.svc.block`` by the file and line an import read it from, when it did."""
    if not origin.startswith("policies."):
        return origin
    key = origin.split(" (", 1)[0]
    if key in imported:
        return f"{imported[key]} (imported)"
    for path, where in imported.items():
        if path.startswith(key + "."):
            return f"{where} (imported)"
    return origin


def _block(service_pol: Any, version_pol: PolicySpec | None, name: str) -> tuple[Any, str | None]:
    if version_pol is not None and getattr(version_pol, name, None) is not None:
        return getattr(version_pol, name), "version"
    if service_pol is not None and getattr(service_pol, name, None) is not None:
        return getattr(service_pol, name), "service"
    return None, None


def resolve_policy(scenario: Scenario, service: str, version: str | None = None) -> EffectivePolicy:
    """Return the effective policy for calls to ``service`` (and ``version``, when routed to one)."""
    pre = preset(scenario.mesh.defaults, scenario.mesh.version)
    pre_src = pre.source
    spol = scenario.policies.get(service)
    vpol = spol.versions.get(version) if (spol is not None and version is not None) else None
    base = f"policies.{service}" if spol is not None else ""
    vbase = f"policies.{service}.versions.{version}"
    origins: dict[str, str] = {}

    def src(level: str | None, block: str) -> str:
        if level == "version":
            return f"{vbase}.{block}"
        if level == "service":
            return f"{base}.{block}"
        return pre_src

    timeout, lvl = _block(spol, vpol, "timeout")
    timeout_s = timeout if lvl else pre.timeout_s
    if timeout_s == 0:
        timeout_s = None  # 0 turns the route timeout off, as in Envoy and Istio
    origins["timeout_s"] = src(lvl, "timeout")

    retries, lvl = _block(spol, vpol, "retries")
    rsrc = src(lvl, "retries")
    if retries is not None:
        attempts = retries.attempts if retries.attempts is not None else pre.retry_attempts_in_block
        per_try = retries.per_try_timeout if retries.per_try_timeout is not None else pre.per_try_timeout_s
        retry_on = tuple(retries.retry_on) if retries.retry_on is not None else pre.retry_on
        codes = tuple(retries.retriable_status_codes or pre.retriable_status_codes)
        backoff: tuple[float, float] | None
        if retries.backoff == "none":
            backoff = None
        elif retries.backoff is not None:
            cap = retries.backoff.max or pre.backoff_cap_s or 10 * retries.backoff.base
            backoff = (retries.backoff.base, cap)
        else:
            backoff = pre.backoff_s
        diff_host = (
            retries.retry_different_host if retries.retry_different_host is not None else pre.retry_different_host
        )
        retry_timeout = retries.timeout or None
        for key, sub, val in (
            ("retry_attempts", "attempts", retries.attempts),
            ("per_try_timeout_s", "per_try_timeout", retries.per_try_timeout),
            ("retry_on", "retry_on", retries.retry_on),
            ("retriable_status_codes", "retriable_status_codes", retries.retriable_status_codes),
            ("backoff_base_s", "backoff", retries.backoff),
            ("retry_different_host", "retry_different_host", retries.retry_different_host),
            ("retry_timeout_s", "timeout", retries.timeout),
        ):
            origins[key] = f"{rsrc}.{sub}" if val is not None else f"{pre_src} (field unset in {rsrc})"
    else:
        attempts = pre.retry_attempts
        per_try = pre.per_try_timeout_s
        retry_on = pre.retry_on
        codes = pre.retriable_status_codes
        backoff = pre.backoff_s
        diff_host = pre.retry_different_host
        retry_timeout = None
        for key in (
            "retry_attempts",
            "per_try_timeout_s",
            "retry_on",
            "retriable_status_codes",
            "backoff_base_s",
            "retry_different_host",
            "retry_timeout_s",
        ):
            origins[key] = pre_src
    for key in ("mesh_release", "retry_kind", "refusal_round_trip", "local_reply_hop", "split_kind"):
        origins[key] = pre_src
    origins["backoff_max_s"] = origins["backoff_base_s"]

    budget, lvl = _block(spol, vpol, "retry_budget")
    budget_kind = None
    b_pct, min_conc = RETRY_BUDGET_DEFAULTS["envoy"]
    b_min_conc = int(min_conc)
    b_ratio, b_min_ps, b_ttl = RETRY_BUDGET_DEFAULTS["linkerd"]
    if budget is not None:
        budget_kind = budget.kind
        if budget_kind == "envoy":
            b_pct = budget.budget_percent if budget.budget_percent is not None else b_pct
            b_min_conc = budget.min_retry_concurrency if budget.min_retry_concurrency is not None else b_min_conc
        else:
            b_ratio = budget.ratio if budget.ratio is not None else b_ratio
            b_min_ps = budget.min_per_second if budget.min_per_second is not None else b_min_ps
            b_ttl = budget.ttl if budget.ttl is not None else b_ttl
    for key in (
        "budget_kind",
        "budget_percent",
        "budget_min_concurrency",
        "budget_ratio",
        "budget_min_per_second",
        "budget_ttl_s",
    ):
        origins[key] = src(lvl, "retry_budget")

    lb, lvl = _block(spol, vpol, "load_balancer")
    lb = lb or LoadBalancerSpec.model_validate(pre.load_balancer)
    origins["load_balancer"] = src(lvl, "load_balancer")

    pool, lvl = _block(spol, vpol, "connection_pool")

    def pool_value(name: str) -> Any:
        val = getattr(pool, name) if pool is not None else None
        origins_key = {"connect_timeout": "connect_timeout_s"}.get(name, name)
        origins[origins_key] = src(lvl, f"connection_pool.{name}") if val is not None else pre_src
        return val if val is not None else getattr(pre, _PRESET_POOL[name])

    max_connections = pool_value("max_connections")
    max_pending = pool_value("max_pending")
    max_requests = pool_value("max_requests")
    max_retries = pool_value("max_retries")
    connect_timeout = pool_value("connect_timeout")
    if scenario.mesh.connect_timeout is not None and (pool is None or pool.connect_timeout is None):
        connect_timeout = scenario.mesh.connect_timeout
        origins["connect_timeout_s"] = "mesh.connect_timeout"

    od, lvl = _block(spol, vpol, "outlier_detection")
    outlier = None
    od_defaults = pre.outlier.as_dict()
    panic = pre.panic_percent
    if od is not None:
        vals = {k: (getattr(od, k) if getattr(od, k) is not None else v) for k, v in od_defaults.items()}
        if od.consecutive_gateway_errors is not None and od.enforcing_consecutive_gateway_errors is None:
            vals["enforcing_consecutive_gateway_errors"] = pre.gateway_enforcing_when_set
        vals["max_ejection_time"] = max(vals["max_ejection_time"], vals["base_ejection_time"])
        outlier = OutlierParams(**vals)
        if od.min_health_percent is not None:
            panic = od.min_health_percent
    elif pre.outlier_always:
        outlier = OutlierParams(**od_defaults)
    origins["outlier"] = src(lvl, "outlier_detection") if od is not None else pre_src
    origins["panic_percent"] = origins["outlier"]

    def simple(name: str) -> Any:
        val, level = _block(spol, vpol, name)
        origins[name] = src(level, name) if val is not None else pre_src
        return val

    hedging = simple("hedging")
    failure_accrual = simple("failure_accrual")
    circuit_breaker = simple("circuit_breaker")
    passive_health_check = simple("passive_health_check")
    rate_limit = simple("rate_limit")
    fault = simple("fault")
    mirror = simple("mirror")
    locality = simple("locality")
    if locality is None and pre.locality:
        locality = LocalitySpec(prefer="zone", cross_zone=pre.locality_cross_zone)
        origins["locality"] = pre_src

    if scenario.import_origins:
        origins = {k: _imported_origin(scenario.import_origins, v) for k, v in origins.items()}
    return EffectivePolicy(
        timeout_s=timeout_s,
        retry_attempts=int(attempts),
        per_try_timeout_s=per_try,
        retry_on=frozenset(retry_on),
        retriable_status_codes=frozenset(codes),
        backoff_base_s=backoff[0] if backoff else None,
        backoff_max_s=backoff[1] if backoff else None,
        retry_different_host=bool(diff_host),
        budget_kind=budget_kind,
        budget_percent=b_pct,
        budget_min_concurrency=b_min_conc,
        budget_ratio=b_ratio,
        budget_min_per_second=b_min_ps,
        budget_ttl_s=b_ttl,
        hedging=hedging,
        load_balancer=lb,
        max_connections=max_connections,
        max_pending=max_pending,
        max_requests=max_requests,
        max_retries=None if budget_kind == "envoy" else max_retries,
        connect_timeout_s=float(connect_timeout),
        outlier=outlier,
        panic_percent=float(panic),
        failure_accrual=failure_accrual,
        circuit_breaker=circuit_breaker,
        rate_limit=rate_limit,
        fault=fault,
        locality=locality,
        locality_needs_outlier=pre.locality_needs_outlier,
        mesh_release=pre.version,
        retry_kind=pre.retry_kind,
        retry_timeout_s=retry_timeout,
        refusal_round_trip=pre.refusal_round_trip,
        local_reply_hop=pre.local_reply_hop,
        split_kind=pre.split_kind,
        passive_health_check=passive_health_check,
        mirror=mirror,
        origins=origins,
    )
