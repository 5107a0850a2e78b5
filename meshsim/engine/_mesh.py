"""The mesh at run time: service versions, replicas, endpoint lists, effective policies, splits."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import simpy

from meshsim.distributions import Sampler, constant, uniform_sampler
from meshsim.engine._limits import StepTokenBucket, TokenBucket
from meshsim.engine._priority import PriorityWorkers
from meshsim.engine._proxy import Proxy
from meshsim.engine._runtime import DEFAULT_ZONE, Membership, Replica, VersionRuntime
from meshsim.engine._server import PlannedWorkers, QueuedWorkers
from meshsim.engine._sharing import SharedCores
from meshsim.meshes import preset
from meshsim.metrics import Recorder
from meshsim.rng import Streams
from meshsim.scenario import EffectivePolicy, Scenario, Service, ServiceVersion, error_codes, resolve_policy
from meshsim.topology import under

if TYPE_CHECKING:
    from meshsim.engine._path import RequestPath

__all__ = ["Mesh", "Routing"]

# What a service field means when neither the version nor the service sets it (docs/scenario.md).
_DEFAULTS: dict[str, Any] = {
    "concurrency": 16,
    "queue_limit": None,
    "holds_worker_during_calls": True,
    "error_rate": 0.0,
    "request_size": 1000,
    "response_size": 1000,
    "calls": [],
    "cancel_on_timeout": False,
    "contention": 0.0,
    "discipline": "fifo",
    "cores": 1.0,
}


def _field(svc: Service, ver: ServiceVersion | None, name: str) -> Any:
    if ver is not None and getattr(ver, name) is not None:
        return getattr(ver, name)
    val = getattr(svc, name)
    return val if val is not None else _DEFAULTS.get(name)


class Mesh:
    """Every replica of every service version, and the endpoint lists callers balance over.

    ``endpoints[(service, version)]`` lists one version's replicas; ``endpoints[(service,
    None)]`` all of the service's. The lists only grow (autoscaling adds replicas); the
    control plane's view is each replica's ``known`` flag.
    """

    def __init__(
        self, scenario: Scenario, env: simpy.Environment, streams: Streams, recorder: Recorder, horizon_s: float
    ) -> None:
        """Build every service's versions and replicas, each with its own random streams.

        ``horizon_s``: the end of the measured window (warm-up plus duration).
        """
        self.scenario = scenario
        self.env = env
        self.warmup_s = recorder.warmup_s
        self.horizon_s = horizon_s
        self._path: RequestPath | None = None
        # versions whose work a fault may change while requests wait (they keep the event-driven queue)
        self._faulted = {f.target for f in scenario.faults if f.kind in ("latency", "errors", "degrade") and f.target}
        self._streams = streams
        self._recorder = recorder
        self.versions: dict[tuple[str, str | None], VersionRuntime] = {}
        self.endpoints: dict[tuple[str, str | None], list[Replica]] = {}
        self.replicas: list[Replica] = []
        self._memberships: dict[str, Membership] = {}
        self._policies: dict[tuple[str, str | None], EffectivePolicy] = {}
        for name, svc in scenario.services.items():
            self._build_service(name, svc)

    def _build_service(self, name: str, svc: Service) -> None:
        versions: list[tuple[str | None, ServiceVersion | None]] = (
            [(v, ver) for v, ver in svc.versions.items()] if svc.versions else [(None, None)]
        )
        all_eps: list[Replica] = []
        zones = self.scenario.zones()
        for vname, ver in versions:
            spec = self._version(name, svc, vname, ver)
            placement = _field(svc, ver, "placement")
            if placement is None:
                n = _field(svc, ver, "replicas")
                zone = zones[0] if zones else DEFAULT_ZONE
                placement = {zone: 1 if n is None else n}
            eps: list[Replica] = []
            self.endpoints[(name, vname)] = eps
            for zone, count in placement.items():
                for _ in range(count):
                    eps.append(self._new_replica(spec, zone))
            all_eps.extend(eps)
        if svc.versions:
            self.endpoints[(name, None)] = all_eps

    def _version(self, name: str, svc: Service, vname: str | None, ver: ServiceVersion | None) -> VersionRuntime:
        st = _field(svc, ver, "service_time")
        service_time = st.build() if st is not None else constant(0.0)
        stream = f"service/{name}/{vname or ''}"
        calls = [
            ("par", list(step.calls)) if step.parallel else ("seq", step.calls[0])
            for step in self.scenario.call_steps(name, vname)
        ]
        spec = VersionRuntime(
            service=name,
            version=vname,
            concurrency=_field(svc, ver, "concurrency"),
            queue_limit=_field(svc, ver, "queue_limit"),
            holds_worker=_field(svc, ver, "holds_worker_during_calls"),
            service_time=service_time,
            error_rate=0.0,  # set_errors below
            request_bytes=_field(svc, ver, "request_size"),
            response_bytes=_field(svc, ver, "response_size"),
            calls=calls,
            cancel_on_timeout=_field(svc, ver, "cancel_on_timeout"),
            contention_s=_field(svc, ver, "contention"),
            cores=_field(svc, ver, "cores") if _field(svc, ver, "discipline") == "processor_sharing" else None,
            prioritized=_field(svc, ver, "discipline") == "priority",
            sampler=service_time.sampler(self._streams.get(stream + "/time")),
            uniform=uniform_sampler(self._streams.get(stream + "/errors")),
            meter=self._recorder.service(name),
        )
        spec.set_errors(error_codes(_field(svc, ver, "error_rate")))
        spec.set_refuse_rate(_field(svc, ver, "refuse_rate") or 0.0)
        spec.refusals = uniform_sampler(self._streams.get(stream + "/refusals"))
        # a request's work is known on arrival when the service makes no calls and nothing
        # changes the work while it waits: its replicas can plan their queue (_server.PlannedWorkers)
        spec.planned = (
            not calls
            and spec.cores is None
            and not spec.prioritized
            and not spec.cancel_on_timeout
            and not spec.contention_s
            and name not in self._faulted
            and f"{name}/{vname}" not in self._faulted
        )
        self.versions[(name, vname)] = spec
        return spec

    def _new_replica(self, spec: VersionRuntime, zone: str) -> Replica:
        membership = self.membership(spec.service)
        membership.version += 1  # a new endpoint
        r = Replica(self.env, len(self.replicas), spec, zone, membership, self.warmup_s, self.horizon_s)
        r.sidecar = Proxy(spec.service, zone, False, r)
        if self._path is not None:
            self._discipline(r, self._path)
        pol = self.scenario.policies.get(spec.service)
        rl = pol.rate_limit if pol is not None else None
        if rl is not None:
            if rl.fill_interval is not None:
                r.limiter = StepTokenBucket(rl.rate, rl.burst, rl.fill_interval, self.env.now)
            else:
                r.limiter = TokenBucket(rl.rate, rl.burst)
        self.replicas.append(r)
        return r

    def attach(self, path: RequestPath) -> None:
        """Give every replica (and every later one) its service discipline on ``path``."""
        self._path = path
        for r in self.replicas:
            self._discipline(r, path)

    @staticmethod
    def _discipline(r: Replica, path: RequestPath) -> None:
        if r.spec.cores is not None:
            r.workers = SharedCores(r, path)
        elif r.spec.prioritized:
            r.workers = PriorityWorkers(r, path)
        else:
            r.workers = PlannedWorkers(r, path) if r.spec.planned else QueuedWorkers(r, path)

    def add_replica(self, spec: VersionRuntime, zone: str) -> Replica:
        """Start a replica of ``spec`` in ``zone``; it joins its endpoint lists (autoscaling)."""
        r = self._new_replica(spec, zone)
        self.endpoints[(spec.service, spec.version)].append(r)
        if spec.version is not None:
            self.endpoints[(spec.service, None)].append(r)
        return r

    def membership(self, service: str) -> Membership:
        """The counter of ``service``'s endpoint-list changes."""
        m = self._memberships.get(service)
        if m is None:
            m = self._memberships[service] = Membership()
        return m

    def policy(self, service: str, version: str | None) -> EffectivePolicy:
        """The effective policy of calls to ``service`` (``version``), resolved once."""
        key = (service, version)
        p = self._policies.get(key)
        if p is None:
            p = self._policies[key] = resolve_policy(self.scenario, service, version)
        return p

    # ----- what faults and autoscalers target -----
    def specs(self, target: str) -> list[VersionRuntime] | None:
        """The service versions ``target`` names (service or service/version), else None."""
        services = self.scenario.services
        if target in services:
            return [spec for (svc, _), spec in self.versions.items() if svc == target]
        svc, _, ver = target.partition("/")
        if svc in services and (svc, ver) in self.versions:
            return [self.versions[(svc, ver)]]
        return None

    def replicas_of(self, target: str, location: str | None = None) -> list[Replica]:
        """Replicas ``target`` names: a service's or a version's (under ``location`` if given), or a location's."""
        specs = self.specs(target)
        if specs is not None:
            ids = {id(s) for s in specs}
            return [r for r in self.replicas if id(r.spec) in ids and (location is None or under(r.zone, location))]
        return [r for r in self.replicas if under(r.zone, target)]


class Routing:
    """Traffic splits between a service's versions (weights by version), read on every call."""

    def __init__(self, scenario: Scenario, uniform: Sampler) -> None:
        """The scenario's ``split`` policies; ``uniform`` draws the routing decisions.

        With a mesh whose split is ``smooth`` (Traefik) the versions follow a deterministic
        weighted round robin instead of a draw: Traefik's earliest-deadline-first schedule,
        where each pick takes the version with the earliest deadline and moves it on by
        1/weight (pkg/server/service/loadbalancer/wrr/wrr.go, docs/references.md §6 [T3]).
        One schedule per service, as one Traefik in front of it keeps.
        """
        self.splits: dict[str, tuple[list[str], list[float]]] = {}
        self._u = uniform
        self.smooth = preset(scenario.mesh.defaults, scenario.mesh.version).split_kind == "smooth"
        self._deadlines: dict[str, list[float]] = {}  # per service, per version (smooth splits)
        for name, pol in scenario.policies.items():
            if pol.split:
                versions = list(pol.split)
                self.splits[name] = (versions, [pol.split[v] for v in versions])

    def set_split(self, service: str, versions: list[str], weights: list[float]) -> None:
        """Send calls to ``service`` to ``versions`` in proportion to ``weights`` from now on."""
        self.splits[service] = (list(versions), list(weights))
        self._deadlines.pop(service, None)  # a new configuration: Traefik builds a new balancer

    def _smooth_pick(self, service: str, versions: list[str], weights: list[float]) -> str | None:
        deadlines = self._deadlines.get(service)
        if deadlines is None:
            deadlines = self._deadlines[service] = [1.0 / w if w > 0 else math.inf for w in weights]
        best = min(range(len(versions)), key=deadlines.__getitem__)  # ties: the first listed
        if deadlines[best] == math.inf:
            return None
        deadlines[best] += 1.0 / weights[best]
        return versions[best]

    def choose(self, service: str) -> str | None:
        """The version a call to ``service`` goes to (None: any replica of the service)."""
        split = self.splits.get(service)
        if split is None:
            return None
        versions, weights = split
        if self.smooth:
            return self._smooth_pick(service, versions, weights)
        total = sum(weights)
        if total <= 0:
            return None
        u = self._u() * total
        acc = 0.0
        for v, w in zip(versions, weights):
            acc += w
            if u < acc:
                return v
        return versions[-1]
