"""Realise a scenario on loopback: which backends, Traefik routes, arrivals and faults it needs.

:func:`plan_lab` reads a loaded scenario and either returns a :class:`LabPlan` or raises
:class:`~meshsim.errors.MeshsimInputError` naming the one field the lab cannot realise on a
real Traefik (exit code 2). Policies are read as the simulator reads them, through
:func:`~meshsim.scenario.resolve_policy`, so a value the ``traefik`` preset fills in is the
value the lab renders; where Traefik itself behaves differently from that value (a
scenario under another preset's retry semantics, say), the lab renders what Traefik offers
and the comparison shows the difference.

Everything runs on one machine, so the scenario's network (zones, links, cross-cloud
latency, request sizes) is replaced by loopback, in the live run and in the prediction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from meshsim.errors import MeshsimInputError
from meshsim.meshes import TRAEFIK_RETRY_NETWORK, TRAEFIK_RETRY_STATUS
from meshsim.scenario import DistSpec, EffectivePolicy, Fault, Scenario, Service, line_of, resolve_policy

__all__ = [
    "MAX_BACKENDS",
    "MAX_HORIZON_S",
    "MAX_RATE_PER_S",
    "BackendSpec",
    "FaultPlan",
    "LabPlan",
    "RoutePlan",
    "WorkloadPlan",
    "error_codes",
    "plan_lab",
]

#: One Python process per replica on a small machine: more would measure the machine, not the mesh.
MAX_BACKENDS = 24
#: Arrivals one asyncio load generator keeps on time (measured lateness stays under a millisecond).
MAX_RATE_PER_S = 1500.0
#: Longest live replication (warm-up plus duration), seconds.
MAX_HORIZON_S = 3600.0

# Service fields a version inherits (docs/scenario.md "services"); defaults as documented there.
_SERVICE_DEFAULTS: dict[str, Any] = {
    "concurrency": 16,
    "queue_limit": None,
    "holds_worker_during_calls": True,
    "error_rate": 0.0,
    "response_size": 1000,
    "calls": None,
    "cancel_on_timeout": False,
    "contention": 0.0,
    "service_time": None,
    "placement": None,
    "replicas": None,
}

_RETRY_STATUS = TRAEFIK_RETRY_STATUS
# gRPC conditions never match an HTTP service, in meshsim's engine as on Traefik.
_RETRY_NEVER = frozenset(
    ("refused-stream", "unavailable", "cancelled", "deadline-exceeded", "internal", "resource-exhausted")
)


@dataclass(frozen=True)
class BackendSpec:
    """One backend process: a replica of ``service`` (``version``).

    ``replica_id`` is the number meshsim's engine gives the same replica (every service's
    replicas in file order: service, version, placement), so the two can be matched.
    """

    name: str
    service: str
    version: str | None
    replica_id: int
    concurrency: int
    queue_limit: int | None
    holds_worker: bool
    service_time: DistSpec
    error_codes: tuple[tuple[int, float], ...]
    calls: tuple[dict[str, Any], ...]
    cancel_on_timeout: bool
    contention_s: float
    response_bytes: int


@dataclass(frozen=True)
class RoutePlan:
    """How Traefik routes calls to one service: its server groups and middlewares.

    ``groups`` holds (version or None, split weight or None, backend names). Options are in
    Traefik's own dynamic-configuration form (durations in seconds until rendering).
    """

    service: str
    groups: tuple[tuple[str | None, int | None, tuple[str, ...]], ...]
    strategy: str
    retry: dict[str, Any] | None
    breaker: dict[str, Any] | None
    dial_timeout_s: float
    response_header_timeout_s: float | None
    policy: EffectivePolicy = field(compare=False)


@dataclass(frozen=True)
class WorkloadPlan:
    """Open-loop arrivals of one workload: rate steps ``(from s, rate /s)`` and the client's behaviour."""

    name: str
    entry: str
    poisson: bool
    steps: tuple[tuple[float, float], ...]
    client_timeout_s: float | None
    client_retries: int
    client_backoff_s: float
    client_jitter: bool


@dataclass(frozen=True)
class FaultPlan:
    """A fault the lab switches on the real processes (times in seconds from the start of the run)."""

    index: int
    kind: str
    at_s: float
    length_s: float | None
    backends: tuple[str, ...]
    instances: int = 1
    error_rate: float | None = None
    factor: float | None = None
    add: DistSpec | None = None


@dataclass(frozen=True)
class LabPlan:
    """Everything a live run of the scenario needs."""

    scenario: Scenario
    warmup_s: float
    duration_s: float
    discovery_delay_s: float
    backends: tuple[BackendSpec, ...]
    routes: dict[str, RoutePlan]
    workloads: tuple[WorkloadPlan, ...]
    faults: tuple[FaultPlan, ...]
    notes: tuple[str, ...]

    @property
    def horizon_s(self) -> float:
        """Warm-up plus duration, seconds."""
        return self.warmup_s + self.duration_s

    def expected_requests(self) -> float:
        """End-user requests the workloads offer over the whole run."""
        total = 0.0
        for w in self.workloads:
            for i, (t, rate) in enumerate(w.steps):
                end = w.steps[i + 1][0] if i + 1 < len(w.steps) else self.horizon_s
                total += rate * max(0.0, min(end, self.horizon_s) - t)
        return total


def _refuse(scenario: Scenario, path: tuple[str | int, ...], message: str) -> MeshsimInputError:
    file = scenario.source_file
    return MeshsimInputError(
        f"meshsim lab cannot realise this on Traefik: {message}",
        file=file,
        line=line_of(file, path),
        field=".".join(str(p) for p in path),
    )


def error_codes(value: object) -> tuple[tuple[int, float], ...]:
    """``error_rate`` as (HTTP status, probability) pairs: a plain ratio answers 500.

    A mapping ``{503: 0.3}`` (status code to ratio), also inside a pydantic model, is read
    as it stands, so the lab follows the scenario format when errors are given per status.
    """
    if value is None:
        return ()
    root = getattr(value, "root", None)
    if root is not None:
        value = root
    elif hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, Mapping):
        return tuple(sorted((int(k), float(v)) for k, v in value.items() if float(v) > 0))
    if not isinstance(value, (int, float)):
        raise TypeError(f"error_rate: expected a ratio or a mapping of status code to ratio, got {value!r}")
    rate = float(value)
    return ((500, rate),) if rate > 0 else ()


def _field(svc: Service, version: str | None, name: str) -> Any:
    ver = svc.versions.get(version) if version is not None else None
    if ver is not None and getattr(ver, name, None) is not None:
        return getattr(ver, name)
    val = getattr(svc, name, None)
    return val if val is not None else _SERVICE_DEFAULTS.get(name)


def _calls(scenario: Scenario, service: str, version: str | None) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "parallel": step.parallel,
            "calls": [
                {"to": c.to, "probability": c.probability, "optional": c.optional, "count": c.count} for c in step.calls
            ],
        }
        for step in scenario.call_steps(service, version)
    )


def _backends(scenario: Scenario, needed: set[str]) -> list[BackendSpec]:
    """One backend per replica of the ``needed`` services, in meshsim's replica order (service, version, placement)."""
    out: list[BackendSpec] = []
    rid = 0
    for name, svc in scenario.services.items():
        versions: list[str | None] = list(svc.versions) if svc.versions else [None]
        for version in versions:
            placement = _field(svc, version, "placement")
            if placement is not None:
                count = sum(int(n) for n in placement.values())
            else:
                n = _field(svc, version, "replicas")
                count = 1 if n is None else int(n)
            if name not in needed:
                rid += count
                continue
            for k in range(count):
                tag = f"{name}-{version}-{k}" if version is not None else f"{name}-{k}"
                out.append(
                    BackendSpec(
                        name=tag,
                        service=name,
                        version=version,
                        replica_id=rid,
                        concurrency=int(_field(svc, version, "concurrency")),
                        queue_limit=_field(svc, version, "queue_limit"),
                        holds_worker=bool(_field(svc, version, "holds_worker_during_calls")),
                        service_time=_field(svc, version, "service_time"),
                        error_codes=error_codes(_field(svc, version, "error_rate")),
                        calls=_calls(scenario, name, version),
                        cancel_on_timeout=bool(_field(svc, version, "cancel_on_timeout")),
                        contention_s=float(_field(svc, version, "contention") or 0.0),
                        response_bytes=int(_field(svc, version, "response_size")),
                    )
                )
                rid += 1
    return out


def _reachable(scenario: Scenario) -> list[str]:
    """Services the workloads reach, in scenario order."""
    seen: set[str] = set()
    todo = [w.entry for w in scenario.workload]
    while todo:
        s = todo.pop()
        if s in seen or s not in scenario.services:
            continue
        seen.add(s)
        versions: list[str | None] = list(scenario.services[s].versions) or [None]
        for v in versions:
            for step in scenario.call_steps(s, v):
                todo.extend(c.to for c in step.calls)
    return [s for s in scenario.services if s in seen]


def _check_policy(scenario: Scenario, service: str, pol: EffectivePolicy) -> None:
    base: tuple[str | int, ...] = ("policies", service)
    spec = scenario.policies.get(service)
    if spec is not None and spec.versions:
        raise _refuse(
            scenario,
            (*base, "versions"),
            "Traefik attaches middlewares to a router, not to one version of a service; "
            "give the policy for the whole service",
        )
    unrealised = [
        ("retry_budget", pol.budget_kind is not None, "Traefik has no retry budget"),
        ("hedging", pol.hedging is not None, "Traefik does not hedge requests"),
        ("outlier_detection", pol.outlier is not None, "Envoy outlier detection is not Traefik's"),
        ("failure_accrual", pol.failure_accrual is not None, "Linkerd failure accrual is not Traefik's"),
        ("rate_limit", pol.rate_limit is not None, "not realised yet (Traefik's limiter delays before it refuses)"),
        ("fault", pol.fault is not None, "Istio fault injection has no Traefik middleware"),
        ("locality", pol.locality is not None, "every lab process runs on one host"),
        ("mirror", pol.mirror is not None, "not realised yet"),
        ("passive_health_check", pol.passive_health_check is not None, "not realised yet"),
    ]
    pool_limits = (pol.max_connections, pol.max_pending, pol.max_requests, pol.max_retries)
    unrealised.append(
        ("connection_pool", any(v is not None for v in pool_limits), "Traefik has no Envoy-style pool limits")
    )
    for name, present, why in unrealised:
        if present:
            raise _refuse(scenario, (*base, name), why)
    if pol.load_balancer.kind not in ("round_robin", "least_request"):
        raise _refuse(
            scenario,
            (*base, "load_balancer"),
            f"{pol.load_balancer.kind}: Traefik balances with wrr (round_robin) or p2c (least_request)",
        )


def _retry(scenario: Scenario, service: str, pol: EffectivePolicy) -> tuple[dict[str, Any] | None, list[str]]:
    """Traefik's retry middleware options for ``pol`` (attempts count every try), and notes."""
    notes: list[str] = []
    if pol.retry_attempts <= 0:
        return None, notes
    on = set(pol.retry_on)
    network = bool(on & TRAEFIK_RETRY_NETWORK)
    ranges = [_RETRY_STATUS[c] for c in sorted(on) if c in _RETRY_STATUS]
    if "retriable-status-codes" in on:
        ranges += [str(c) for c in sorted(pol.retriable_status_codes)]
    left = on - set(_RETRY_STATUS) - _RETRY_NEVER - TRAEFIK_RETRY_NETWORK - {"retriable-status-codes"}
    if left:
        raise _refuse(
            scenario,
            ("policies", service, "retries", "retry_on"),
            f"{', '.join(sorted(left))}: no Traefik retry condition matches",
        )
    if not network and not ranges:
        notes.append(f"{service}: no retry condition can match on HTTP, so no retry middleware is rendered")
        return None, notes
    opts: dict[str, Any] = {"attempts": pol.retry_attempts + 1}
    if ranges:
        opts["status"] = ranges
    if not network:
        opts["disableRetryOnNetworkError"] = True
    if pol.backoff_base_s:
        opts["initialInterval"] = pol.backoff_base_s
        if pol.retry_kind != "traefik":
            notes.append(
                f"{service}: back-off rendered as Traefik's initialInterval {pol.backoff_base_s * 1e3:g} ms "
                "(Traefik's is exponential from it with 50% randomisation; this preset draws Envoy's full jitter)"
            )
    if pol.retry_timeout_s:
        opts["timeout"] = pol.retry_timeout_s
    if pol.retry_different_host:
        notes.append(
            f"{service}: meshsim retries on a different host; Traefik's retry goes back through its "
            "balancer, which does not remember the server that failed"
        )
    return opts, notes


def _timeouts(scenario: Scenario, service: str, pol: EffectivePolicy) -> tuple[float | None, list[str]]:
    """Traefik's responseHeaderTimeout for ``pol`` (a per-try timeout), and notes."""
    per_try = pol.per_try_timeout_s
    route = pol.timeout_s
    if route is None:
        return per_try, []
    if pol.retry_attempts == 0:
        return route if per_try is None else min(route, per_try), []
    if per_try is not None and (pol.retry_attempts + 1) * per_try <= route:
        return per_try, [f"{service}: the route timeout can only fire during back-off waits; not rendered"]
    raise _refuse(
        scenario,
        ("policies", service, "timeout"),
        "a route timeout over several tries has no Traefik equivalent (forwarding timeouts are per try); "
        "use retries.per_try_timeout, or no retries",
    )


def _route(scenario: Scenario, service: str, backends: list[BackendSpec]) -> tuple[RoutePlan, list[str]]:
    pol = resolve_policy(scenario, service)
    _check_policy(scenario, service, pol)
    retry, notes = _retry(scenario, service, pol)
    header_timeout, more = _timeouts(scenario, service, pol)
    notes += more
    mine = [b for b in backends if b.service == service]
    spec = scenario.policies.get(service)
    split = spec.split if spec is not None else None
    groups: list[tuple[str | None, int | None, tuple[str, ...]]]
    if split:
        weights = _int_weights(split)
        groups = [(v, weights[v], tuple(b.name for b in mine if b.version == v)) for v in split]
    else:
        groups = [(None, None, tuple(b.name for b in mine))]
    breaker = None
    if pol.circuit_breaker is not None:
        cb = pol.circuit_breaker
        breaker = {
            "expression": cb.expression,
            "checkPeriod": cb.check_period,
            "fallbackDuration": cb.fallback_duration,
            "recoveryDuration": cb.recovery_duration,
        }
    route = RoutePlan(
        service=service,
        groups=tuple(groups),
        strategy="p2c" if pol.load_balancer.kind == "least_request" else "wrr",
        retry=retry,
        breaker=breaker,
        dial_timeout_s=pol.connect_timeout_s,
        response_header_timeout_s=header_timeout,
        policy=pol,
    )
    return route, notes


def _int_weights(split: dict[str, float]) -> dict[str, int]:
    """Traefik weights are integers: keep whole weights, else scale by 1000 (0.1 % resolution)."""
    if all(float(w).is_integer() for w in split.values()):
        return {v: int(w) for v, w in split.items()}
    return {v: round(w * 1000) for v, w in split.items()}


def _steps(scenario: Scenario, w_index: int) -> tuple[tuple[float, float], ...]:
    """Rate steps of a workload: its profile times any active ``load`` fault."""
    w = scenario.workload[w_index]
    loads = [f for f in scenario.faults if f.kind == "load" and f.target in (None, w.name)]
    times = {0.0, *(s.at for s in w.profile)}
    for f in loads:
        times.add(f.at)
        if f.duration is not None:
            times.add(f.at + f.duration)
    profile = sorted(w.profile, key=lambda s: s.at)
    out = []
    for t in sorted(times):
        rate = w.rate or 0.0  # closed workloads are refused before their steps are asked for
        for s in profile:
            if s.at <= t:
                rate = s.rate
        for f in loads:
            if f.at <= t and (f.duration is None or t < f.at + f.duration):
                rate *= f.factor or 1.0
        out.append((float(t), float(rate)))
    return tuple(out)


def _targets(scenario: Scenario, i: int, f: Fault, backends: list[BackendSpec]) -> tuple[str, ...]:
    target = f.target or ""
    svc, _, ver = target.partition("/")
    if svc not in scenario.services or (ver and ver not in scenario.services[svc].versions):
        raise _refuse(
            scenario,
            ("faults", i, "target"),
            f"'{target}' is not a service or service/version; the lab switches faults inside its backends",
        )
    return tuple(b.name for b in backends if b.service == svc and (not ver or b.version == ver))


def _faults(scenario: Scenario, backends: list[BackendSpec]) -> list[FaultPlan]:
    out: list[FaultPlan] = []
    for i, f in enumerate(scenario.faults):
        if f.kind in ("outage", "partition"):
            raise _refuse(
                scenario,
                ("faults", i, "kind"),
                f"a {f.kind} black-holes traffic between places; on loopback there is one place",
            )
        if f.kind == "load":
            continue  # realised in the arrival steps
        if f.between is not None:
            raise _refuse(scenario, ("faults", i, "between"), "on loopback there is one place")
        if f.location is not None:
            raise _refuse(scenario, ("faults", i, "location"), "on loopback there is one place")
        base = FaultPlan(
            index=i, kind=f.kind, at_s=float(f.at), length_s=f.length_s(), backends=_targets(scenario, i, f, backends)
        )
        if f.kind == "crash":
            out.append(replace(base, instances=f.instances or 1))
        elif f.kind == "errors":
            if isinstance(f.rate, dict):
                raise _refuse(scenario, ("faults", i, "rate"), "the lab's errors fault answers HTTP 500 only")
            out.append(replace(base, error_rate=float(f.rate or 0.0)))
        elif f.kind == "refuse":
            raise _refuse(scenario, ("faults", i, "kind"), "the lab's backends do not refuse a share of connections")
        elif f.kind == "degrade":
            out.append(replace(base, factor=float(f.factor or 1.0)))
        else:
            out.append(replace(base, add=f.add))
    return out


def _check_scenario(scenario: Scenario, warmup_s: float, duration_s: float) -> None:
    mesh = scenario.mesh
    traefik = mesh.defaults == "traefik" or any(spec.format == "traefik" for spec in mesh.import_)
    if not traefik:
        raise _refuse(
            scenario,
            ("mesh", "defaults"),
            "the lab runs a real Traefik: set mesh.defaults: traefik (or import a Traefik configuration)",
        )
    if mesh.proxy not in (None, "traefik"):
        raise _refuse(scenario, ("mesh", "proxy"), f"the lab's proxy is Traefik, not {mesh.proxy}")
    if scenario.rollout is not None:
        raise _refuse(scenario, ("rollout",), "a progressive rollout needs a controller the lab does not run")
    for name, svc in scenario.services.items():
        if svc.autoscaling is not None:
            raise _refuse(scenario, ("services", name, "autoscaling"), "the lab runs a fixed set of backends")
        refusing = [((), svc)] + [(("versions", v), ver) for v, ver in svc.versions.items()]
        for sub, fields in refusing:
            if fields.refuse_rate:
                raise _refuse(
                    scenario,
                    ("services", name, *sub, "refuse_rate"),
                    "the lab's backends do not refuse a share of connections (a crash refuses them all)",
                )
    if warmup_s + duration_s > MAX_HORIZON_S:
        raise _refuse(scenario, ("duration",), f"a live run is at most {MAX_HORIZON_S:g} s (warm-up plus duration)")


def plan_lab(scenario: Scenario, *, duration_s: float | None = None, warmup_s: float | None = None) -> LabPlan:
    """Plan a live run of ``scenario`` (``duration_s``/``warmup_s`` override the file's).

    Raises:
        MeshsimInputError: a field the lab cannot realise on Traefik, with its file and line.
    """
    warm = float(scenario.warmup if warmup_s is None else warmup_s)
    dur = float(scenario.duration if duration_s is None else duration_s)
    if dur <= 0 or warm < 0:
        raise MeshsimInputError("duration must be above zero and warm-up not negative", field="duration")
    _check_scenario(scenario, warm, dur)
    reachable = _reachable(scenario)
    backends = _backends(scenario, set(reachable))
    if len(backends) > MAX_BACKENDS:
        biggest = max(reachable, key=lambda s: sum(b.service == s for b in backends))
        raise _refuse(
            scenario,
            ("services", biggest),
            f"{len(backends)} replicas; the lab starts one process per replica, at most {MAX_BACKENDS}",
        )
    notes = [
        "network: every hop is loopback; the prediction uses the loopback latency and Traefik overhead "
        "measured by the calibration run instead of the scenario's network and proxy_overhead",
    ]
    if scenario.slos:
        notes.append("slos: not judged by the lab (it compares predicted with measured)")
    routes: dict[str, RoutePlan] = {}
    for s in reachable:
        routes[s], more = _route(scenario, s, backends)
        notes += more
    workloads = []
    for i, w in enumerate(scenario.workload):
        if w.rate is None:
            raise _refuse(
                scenario,
                ("workload", i, "users"),
                "a closed population (users); the lab's load generator sends open arrivals at a rate",
            )
        steps = _steps(scenario, i)
        peak = max(rate for _, rate in steps)
        if peak > MAX_RATE_PER_S:
            raise _refuse(
                scenario,
                ("workload", i, "rate"),
                f"{peak:g}/s; one load generator keeps at most {MAX_RATE_PER_S:g}/s on time",
            )
        c = w.client
        if c.limited or not isinstance(c.backoff, float):
            raise _refuse(
                scenario,
                ("workload", i, "client"),
                "the lab's load generator runs plain client retries only (timeout, retries, backoff: a duration, "
                "jitter); mode, retry_throttling, retry_breaker and backoff blocks are simulated only",
            )
        workloads.append(
            WorkloadPlan(
                name=w.name,
                entry=w.entry,
                poisson=w.arrival == "poisson",
                steps=steps,
                client_timeout_s=c.timeout,
                client_retries=c.retries,
                client_backoff_s=c.backoff,
                client_jitter=c.jitter,
            )
        )
    if sum(max(r for _, r in w.steps) for w in workloads) > MAX_RATE_PER_S:
        raise _refuse(scenario, ("workload",), f"the workloads add up to more than {MAX_RATE_PER_S:g}/s at their peaks")
    faults = _faults(scenario, backends)
    if any(f.kind == "crash" for f in faults):
        notes.append(
            f"discovery: a crashed backend leaves Traefik's configuration after mesh.discovery_delay "
            f"({scenario.mesh.discovery_delay:g} s) and is added back when it answers again"
        )
    return LabPlan(
        scenario=scenario,
        warmup_s=warm,
        duration_s=dur,
        discovery_delay_s=float(scenario.mesh.discovery_delay),
        backends=tuple(backends),
        routes=routes,
        workloads=tuple(workloads),
        faults=tuple(faults),
        notes=tuple(dict.fromkeys(notes)),
    )
