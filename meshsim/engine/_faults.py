"""Faults on the timeline (docs/scenario.md ``faults``) and the control plane's view of endpoint health.

Each fault is a SimPy process: at ``at`` (absolute simulated time, warm-up included) it sets
state on replicas, service versions or the network, and after ``duration`` it undoes it
(no duration: it lasts to the end). Kinds:

- ``latency``: ``add`` (a distribution) to a service or version's service time, to every
  call into a location's replicas (``target: aws/us-east-1/b``), or to every exchange
  between two locations (``between``); added once per call, so the round trip grows by ``add``.
- ``errors``: extra error ``rate`` (HTTP 500) on a service or version, independent of its own.
- ``degrade``: service time multiplied by ``factor`` on a service or version.
- ``outage``: every replica in a zone, region or cloud (or of a service; with ``location``,
  only the service's replicas there) stops answering: connects wait for the caller's
  connect timeout (``connect_failure``); in-flight work ends in a reset.
- ``crash``: ``instances`` (default 1) replicas of a service, version or location (narrowed
  by ``location``), chosen at random, refuse connections at once; in-flight work ends in a
  reset; they are back after ``restart`` (default 30 s: Kubernetes' first CrashLoopBackOff
  wait of 10 s plus container start and a readiness probe; ``duration`` is a synonym).
- ``partition``: traffic between two locations is black-holed (connects wait for the
  connect timeout); the control plane still sees both sides.
- ``load``: the workloads' arrival rates are multiplied (done in :mod:`.workloads`).

Discovery: a replica that stops answering stays in every caller's endpoint list for
``mesh.discovery_delay`` (until then callers still pick it), then the control plane removes
it; when it answers again it is added back at once (readiness needs one successful probe,
and the restart delay already covers start-up).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from meshsim.distributions import UniformSource
from meshsim.engine._runtime import Replica, VersionRuntime
from meshsim.errors import MeshsimInputError
from meshsim.scenario import Fault
from meshsim.topology import LinkDelay, under

if TYPE_CHECKING:
    from meshsim.engine._core import Simulation

__all__ = ["FaultController", "controller", "install"]

Gen = Generator[Any, Any, Any]


def install(sim: Simulation) -> None:
    """Check the scenario's faults and schedule them."""
    ctl = controller(sim)
    for i, f in enumerate(sim.scenario.faults):
        ctl.check(i, f)
    for i, f in enumerate(sim.scenario.faults):
        sim.env.process(ctl.run(i, f))


def controller(sim: Simulation) -> FaultController:
    """The simulation's fault controller (created on first use; autoscaling shares it)."""
    ctl = getattr(sim, "fault_controller", None)
    if ctl is None:
        ctl = FaultController(sim)
        sim.fault_controller = ctl
    return ctl


def _sum(samplers: list[Callable[[], float]]) -> Callable[[], float] | None:
    if not samplers:
        return None
    if len(samplers) == 1:
        return samplers[0]
    return lambda: sum(s() for s in samplers)


class FaultController:
    """Applies faults and tracks which replicas are healthy, starting or retired."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self.discovery_s = float(sim.scenario.mesh.discovery_delay)
        self.rng = sim.streams.get("faults")
        self.uniform = UniformSource(self.rng)
        self._outages: dict[int, int] = {}  # replica id -> active outage faults on it
        self._gen: dict[int, int] = {}  # replica id -> health generation (stale timers ignore)
        self.starting: set[int] = set()  # autoscaled replicas not ready yet
        self.retired: set[int] = set()  # scaled down: never added back
        self.down_locations: list[str] = []  # prefixes under an active outage
        self._lat_faults: dict[int, list[Callable[[], float]]] = {}
        self._err_faults: dict[int, list[float]] = {}
        self._deg_faults: dict[int, list[float]] = {}

    # ----- targets -----
    def _where(self, i: int, name: str) -> dict[str, Any]:
        return {"file": self.sim.scenario.source_file, "field": f"faults.{i}.{name}"}

    def specs(self, target: str) -> list[VersionRuntime] | None:
        """The service versions ``target`` names (service or service/version), else None."""
        services = self.sim.scenario.services
        if target in services:
            return [spec for (svc, _), spec in self.sim.versions.items() if svc == target]
        svc, _, ver = target.partition("/")
        if svc in services and (svc, ver) in self.sim.versions:
            return [self.sim.versions[(svc, ver)]]
        return None

    def replicas(self, target: str, location: str | None = None) -> list[Replica]:
        """Replicas ``target`` names now: a service's or a version's, or a location's.

        With ``location``, only the service's (or version's) replicas under it.
        """
        specs = self.specs(target)
        if specs is not None:
            ids = {id(s) for s in specs}
            return [
                r
                for r in self.sim.replicas
                if id(r.spec) in ids and r.rid not in self.retired and (location is None or under(r.zone, location))
            ]
        return [r for r in self.sim.replicas if under(r.zone, target) and r.rid not in self.retired]

    def check(self, i: int, f: Fault) -> None:
        """Reject combinations the engine cannot simulate, naming the field."""
        if f.kind in ("errors", "degrade") and f.target is not None and self.specs(f.target) is None:
            raise MeshsimInputError(
                f"an {f.kind} fault targets a service or service/version, not the location '{f.target}'; "
                "for a location use outage, crash or latency",
                **self._where(i, "target"),
            )
        if f.location is not None:
            if f.target is None or self.specs(f.target) is None:
                raise MeshsimInputError(
                    "location narrows a fault on a service: give the service as the target",
                    **self._where(i, "location"),
                )
            known = {"/".join(z.split("/")[:k]) for z in self.sim.scenario.zones() for k in (1, 2, 3)}
            if f.location not in known:
                raise MeshsimInputError(
                    f"unknown location '{f.location}'; declare it under 'locations:'", **self._where(i, "location")
                )
        if f.kind == "partition" and f.between is None:
            raise MeshsimInputError("a partition needs between: [location, location]", **self._where(i, "between"))
        if f.duration is not None and f.duration <= 0:
            raise MeshsimInputError("a fault's duration must be above zero", **self._where(i, "duration"))

    # ----- the timeline -----
    def run(self, i: int, f: Fault) -> Gen:
        """The process of fault ``i``: wait for ``at``, apply, wait ``duration``, undo."""
        env = self.env
        if f.at > env.now:
            yield env.timeout(f.at - env.now)
        undo, info = self._apply(f)
        self.sim.rec.event(env.now, "fault_start", fault=i, fault_kind=f.kind, target=self._label(f), **info)
        length = f.length_s()
        if length is None:
            return
        yield env.timeout(length)
        undo()
        self.sim.rec.event(env.now, "fault_end", fault=i, fault_kind=f.kind, target=self._label(f))

    @staticmethod
    def _label(f: Fault) -> str:
        if f.between:
            return " <-> ".join(f.between)
        if f.location:
            return f"{f.target}@{f.location}"
        return f.target or "*"

    def _apply(self, f: Fault) -> tuple[Callable[[], None], dict[str, Any]]:
        handler: Callable[[Fault], tuple[Callable[[], None], dict[str, Any]]] = getattr(self, f"_{f.kind}")
        return handler(f)

    # ----- kinds -----
    def _latency(self, f: Fault) -> tuple[Callable[[], None], dict[str, Any]]:
        assert f.add is not None
        sampler = f.add.build().sampler(self.rng)
        net = self.sim.net
        if f.between is not None:
            entry = net.add_delay(LinkDelay(f.between[0], f.between[1], sampler))
            return (lambda: net.remove_delay(entry)), {}
        assert f.target is not None
        specs = self.specs(f.target)
        if specs is None:
            entry = net.add_delay(LinkDelay(f.target, "*", sampler, to_only=True))
            return (lambda: net.remove_delay(entry)), {}
        for spec in specs:
            self._lat_faults.setdefault(id(spec), []).append(sampler)
            spec.extra_latency = _sum(self._lat_faults[id(spec)])

        def undo() -> None:
            for spec in specs:
                self._lat_faults[id(spec)].remove(sampler)
                spec.extra_latency = _sum(self._lat_faults[id(spec)])

        return undo, {}

    def _errors(self, f: Fault) -> tuple[Callable[[], None], dict[str, Any]]:
        assert f.target is not None and f.rate is not None
        specs = self.specs(f.target) or []
        rate = float(f.rate)

        def refresh(spec: VersionRuntime) -> None:
            keep = 1.0 - spec.error_rate
            for r in self._err_faults[id(spec)]:
                keep *= 1.0 - r
            # the fault's failures are independent of the service's own: total = 1 - prod(1 - r)
            spec.extra_error_rate = max(0.0, 1.0 - keep - spec.error_rate)

        for spec in specs:
            self._err_faults.setdefault(id(spec), []).append(rate)
            refresh(spec)

        def undo() -> None:
            for spec in specs:
                self._err_faults[id(spec)].remove(rate)
                refresh(spec)

        return undo, {}

    def _degrade(self, f: Fault) -> tuple[Callable[[], None], dict[str, Any]]:
        assert f.target is not None and f.factor is not None
        specs = self.specs(f.target) or []
        factor = float(f.factor)

        def refresh(spec: VersionRuntime) -> None:
            prod = 1.0
            for x in self._deg_faults[id(spec)]:
                prod *= x
            spec.degrade_factor = prod

        for spec in specs:
            self._deg_faults.setdefault(id(spec), []).append(factor)
            refresh(spec)

        def undo() -> None:
            for spec in specs:
                self._deg_faults[id(spec)].remove(factor)
                refresh(spec)

        return undo, {}

    def _outage(self, f: Fault) -> tuple[Callable[[], None], dict[str, Any]]:
        target = f.target
        assert target is not None
        hit = self.replicas(target, f.location)
        is_location = self.specs(target) is None
        if is_location:
            self.down_locations.append(target)
        for r in hit:
            n = self._outages.get(r.rid, 0)
            self._outages[r.rid] = n + 1
            if n == 0:
                r.blackholed = True
                r.up = False
                r.epoch += 1  # in-flight work is lost with the replica
                self.health_changed(r)

        def undo() -> None:
            if is_location:
                self.down_locations.remove(target)
            for r in hit:
                n = self._outages[r.rid] - 1
                self._outages[r.rid] = n
                if n == 0:
                    r.blackholed = False
                    r.up = not r.refusing
                    self.health_changed(r)

        return undo, {"replicas": len(hit)}

    def _crash(self, f: Fault) -> tuple[Callable[[], None], dict[str, Any]]:
        assert f.target is not None
        cands = [r for r in self.replicas(f.target, f.location) if r.up and r.rid not in self.starting]
        n = min(f.instances or 1, len(cands))
        picks = sorted(self.rng.choice(len(cands), size=n, replace=False).tolist()) if n else []
        hit = [cands[k] for k in picks]
        for r in hit:
            r.refusing = True
            r.up = False
            r.epoch += 1  # in-flight work ends in a reset
            self.health_changed(r)

        def undo() -> None:
            for r in hit:
                r.refusing = False
                r.up = not r.blackholed
                self.health_changed(r)

        return undo, {"replicas": len(hit), "replica_ids": [r.rid for r in hit]}

    def _partition(self, f: Fault) -> tuple[Callable[[], None], dict[str, Any]]:
        assert f.between is not None
        net = self.sim.net
        entry = net.add_partition(f.between[0], f.between[1])
        return (lambda: net.remove_partition(entry)), {}

    def _load(self, f: Fault) -> tuple[Callable[[], None], dict[str, Any]]:
        # the arrival processes read load faults themselves (workloads.rate_changes)
        return (lambda: None), {"factor": f.factor}

    # ----- the control plane -----
    @staticmethod
    def healthy(r: Replica) -> bool:
        """Answering connections (not black-holed, not refusing)."""
        return not (r.blackholed or r.refusing)

    def health_changed(self, r: Replica) -> None:
        """A replica started or stopped answering: update discovery accordingly."""
        gen = self._gen.get(r.rid, 0) + 1
        self._gen[r.rid] = gen
        if not self.healthy(r):
            if r.known:
                self.env.process(self._remove_later(r, gen))
        elif not r.known and r.rid not in self.retired and r.rid not in self.starting:
            self._set_known(r, True)

    def _remove_later(self, r: Replica, gen: int) -> Gen:
        yield self.env.timeout(self.discovery_s)
        if self._gen.get(r.rid) == gen and r.known and not self.healthy(r):
            self._set_known(r, False)

    def _set_known(self, r: Replica, known: bool) -> None:
        r.known = known
        self.sim.rec.event(
            self.env.now,
            "endpoint_added" if known else "endpoint_removed",
            service=r.service,
            version=r.version,
            replica=r.rid,
            zone=r.zone,
        )

    def mark_starting(self, r: Replica) -> None:
        """A new replica (autoscaling) is not in any endpoint list until it is ready."""
        self.starting.add(r.rid)
        r.known = False

    def mark_ready(self, r: Replica) -> None:
        """A starting replica passed its readiness probe: add it if it answers."""
        self.starting.discard(r.rid)
        if self.healthy(r) and r.rid not in self.retired:
            self._set_known(r, True)

    def retire(self, r: Replica) -> None:
        """Scale-down: drop the replica from discovery for good; in-flight work finishes."""
        self.retired.add(r.rid)
        self.starting.discard(r.rid)
        r.stopped_s = self.env.now
        if r.known:
            self._set_known(r, False)

    def location_down(self, zone: str) -> bool:
        """True while an outage covers ``zone`` (the scheduler avoids it)."""
        return any(under(zone, loc) for loc in self.down_locations)
