"""Faults on the timeline (docs/scenario.md ``faults``): one small class per kind.

Each fault waits for ``at`` (absolute simulated time, warm-up included), applies itself
through the :class:`~meshsim.engine._control.Control` and gets back the function that undoes
it, which runs after ``duration`` (no duration: it lasts to the end). Kinds:

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
- ``load``: the workloads' arrival rates are multiplied (read by :mod:`._workloads`).

Endpoint lists follow health through :class:`~meshsim.engine._control.Discovery`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, ClassVar

from meshsim.engine._control import Control
from meshsim.engine._runtime import Replica
from meshsim.errors import MeshsimInputError
from meshsim.scenario import Fault, error_codes
from meshsim.topology import LinkDelay

__all__ = [
    "CrashFault",
    "DegradeFault",
    "EngineFault",
    "ErrorsFault",
    "LatencyFault",
    "LoadFault",
    "OutageFault",
    "PartitionFault",
    "RefuseFault",
    "engine_fault",
    "install",
]

Undo = Callable[[], None]
Gen = Generator[Any, Any, Any]


def _nothing() -> None:
    """Undo of a fault that changes nothing in the engine."""


class _Fault:
    """What every kind shares: the scenario's entry, its index, its checks and its label."""

    kind: ClassVar[str]

    def __init__(self, index: int, spec: Fault) -> None:
        """Fault number ``index`` of the scenario, described by ``spec``."""
        self.index = index
        self.spec = spec

    def _where(self, control: Control, name: str) -> dict[str, Any]:
        return {"file": control.scenario.source_file, "field": f"faults.{self.index}.{name}"}

    def check(self, control: Control) -> None:
        """Reject combinations the engine cannot simulate, naming the field."""
        f = self.spec
        mesh = control.mesh
        if f.location is not None:
            if f.target is None or mesh.specs(f.target) is None:
                raise MeshsimInputError(
                    "location narrows a fault on a service: give the service as the target",
                    **self._where(control, "location"),
                )
            known = {"/".join(z.split("/")[:k]) for z in control.scenario.zones() for k in (1, 2, 3)}
            if f.location not in known:
                raise MeshsimInputError(
                    f"unknown location '{f.location}'; declare it under 'locations:'",
                    **self._where(control, "location"),
                )
        if f.duration is not None and f.duration <= 0:
            raise MeshsimInputError("a fault's duration must be above zero", **self._where(control, "duration"))

    def label(self) -> str:
        """What the fault hits, for the timeline."""
        f = self.spec
        if f.between:
            return " <-> ".join(f.between)
        if f.location:
            return f"{f.target}@{f.location}"
        return f.target or "*"

    def _started(self, control: Control, **info: Any) -> None:
        control.record_event("fault_start", fault=self.index, fault_kind=self.kind, target=self.label(), **info)

    def _replicas(self, control: Control) -> list[Replica]:
        """The replicas the target names now (retired ones left out)."""
        assert self.spec.target is not None
        return control.discovery.live(control.mesh.replicas_of(self.spec.target, self.spec.location))


class _ServiceFault(_Fault):
    """A fault on a service or a version (not a location)."""

    def check(self, control: Control) -> None:
        """The target must name a service or service/version."""
        f = self.spec
        if f.target is not None and control.mesh.specs(f.target) is None:
            raise MeshsimInputError(
                f"an {f.kind} fault targets a service or service/version, not the location '{f.target}'; "
                "for a location use outage, crash or latency",
                **self._where(control, "target"),
            )
        super().check(control)


class LatencyFault(_Fault):
    """Extra latency on a service's work, into a location, or between two locations."""

    kind = "latency"

    def apply(self, control: Control) -> Undo:
        """Add the delay where the target says; the undo takes it away."""
        f = self.spec
        assert f.add is not None
        sampler = f.add.build().sampler(control.stream("faults"))
        net = control.network
        self._started(control)
        if f.between is not None:
            entry = net.add_delay(LinkDelay(f.between[0], f.between[1], sampler))
            return lambda: net.remove_delay(entry)
        assert f.target is not None
        specs = control.mesh.specs(f.target)
        if specs is None:
            entry = net.add_delay(LinkDelay(f.target, "*", sampler, to_only=True))
            return lambda: net.remove_delay(entry)
        for spec in specs:
            spec.add_latency(sampler)

        def undo() -> None:
            for spec in specs:
                spec.remove_latency(sampler)

        return undo


class ErrorsFault(_ServiceFault):
    """Extra errors at ``rate`` on a service or version: HTTP 500s, or ratios per status code."""

    kind = "errors"

    def apply(self, control: Control) -> Undo:
        """Raise the error rate; the undo lowers it again."""
        f = self.spec
        assert f.target is not None and f.rate is not None
        specs = control.mesh.specs(f.target) or []
        rate: float | tuple[tuple[int, float], ...] = error_codes(f.rate) if isinstance(f.rate, dict) else float(f.rate)
        for spec in specs:
            spec.add_error_rate(rate)
        self._started(control)

        def undo() -> None:
            for spec in specs:
                spec.remove_error_rate(rate)

        return undo


class RefuseFault(_ServiceFault):
    """A service's or version's replicas refuse ``rate`` of connection attempts (partial connection failure)."""

    kind = "refuse"

    def apply(self, control: Control) -> Undo:
        """Start refusing; the undo stops it."""
        f = self.spec
        assert f.target is not None and isinstance(f.rate, float | int)
        specs = control.mesh.specs(f.target) or []
        rate = float(f.rate)
        for spec in specs:
            spec.add_refuse_rate(rate)
        self._started(control)

        def undo() -> None:
            for spec in specs:
                spec.remove_refuse_rate(rate)

        return undo


class DegradeFault(_ServiceFault):
    """Service time multiplied by ``factor`` on a service or version."""

    kind = "degrade"

    def apply(self, control: Control) -> Undo:
        """Slow the work down; the undo restores it."""
        f = self.spec
        assert f.target is not None and f.factor is not None
        specs = control.mesh.specs(f.target) or []
        factor = float(f.factor)
        for spec in specs:
            spec.add_degrade(factor)
        self._started(control)

        def undo() -> None:
            for spec in specs:
                spec.remove_degrade(factor)

        return undo


class OutageFault(_Fault):
    """Replicas that stop answering (black hole) until the outage ends."""

    kind = "outage"

    def apply(self, control: Control) -> Undo:
        """Black-hole every replica the target names; in-flight work is lost with them."""
        target = self.spec.target
        assert target is not None
        discovery = control.discovery
        hit = self._replicas(control)
        is_location = control.mesh.specs(target) is None
        if is_location:
            discovery.down_locations.append(target)
        for r in hit:
            r.outages += 1
            if r.outages == 1:
                r.blackholed = True
                r.up = False
                r.lose_in_flight(control.now)
                discovery.health_changed(r)
        self._started(control, replicas=len(hit))

        def undo() -> None:
            if is_location:
                discovery.down_locations.remove(target)
            for r in hit:
                r.outages -= 1
                if r.outages == 0:
                    r.blackholed = False
                    r.up = not r.refusing
                    discovery.health_changed(r)

        return undo


class CrashFault(_Fault):
    """Replicas, picked at random, that refuse connections until they restart."""

    kind = "crash"

    def apply(self, control: Control) -> Undo:
        """Crash ``instances`` of the answering replicas; the undo restarts them."""
        discovery = control.discovery
        cands = [r for r in self._replicas(control) if r.up and r.rid not in discovery.starting]
        n = min(self.spec.instances or 1, len(cands))
        rng = control.stream("faults")
        picks = sorted(rng.choice(len(cands), size=n, replace=False).tolist()) if n else []
        hit = [cands[k] for k in picks]
        for r in hit:
            r.refusing = True
            r.up = False
            r.lose_in_flight(control.now)
            discovery.health_changed(r)
        self._started(control, replicas=len(hit), replica_ids=[r.rid for r in hit])

        def undo() -> None:
            for r in hit:
                r.refusing = False
                r.up = not r.blackholed
                discovery.health_changed(r)

        return undo


class PartitionFault(_Fault):
    """Traffic between two locations black-holed."""

    kind = "partition"

    def check(self, control: Control) -> None:
        """A partition needs the two sides."""
        if self.spec.between is None:
            raise MeshsimInputError(
                "a partition needs between: [location, location]", **self._where(control, "between")
            )
        super().check(control)

    def apply(self, control: Control) -> Undo:
        """Cut the path; the undo heals it."""
        f = self.spec
        assert f.between is not None
        net = control.network
        entry = net.add_partition(f.between[0], f.between[1])
        self._started(control)
        return lambda: net.remove_partition(entry)


class LoadFault(_Fault):
    """Arrival rates multiplied: the workloads read it from the scenario (rate_changes)."""

    kind = "load"

    def apply(self, control: Control) -> Undo:
        """Nothing to change in the engine; the event marks it on the timeline."""
        self._started(control, factor=self.spec.factor)
        return _nothing


#: Every fault kind the engine runs.
EngineFault = (
    LatencyFault | ErrorsFault | RefuseFault | DegradeFault | OutageFault | CrashFault | PartitionFault | LoadFault
)
_KINDS: dict[str, type[EngineFault]] = {
    cls.kind: cls
    for cls in (
        LatencyFault,
        ErrorsFault,
        RefuseFault,
        DegradeFault,
        OutageFault,
        CrashFault,
        PartitionFault,
        LoadFault,
    )
}


def engine_fault(index: int, spec: Fault) -> EngineFault:
    """The engine's object for fault number ``index`` of the scenario."""
    return _KINDS[spec.kind](index, spec)


def install(control: Control) -> None:
    """Check the scenario's faults, then put each on the timeline."""
    faults = [engine_fault(i, f) for i, f in enumerate(control.scenario.faults)]
    for fault in faults:
        fault.check(control)
    for fault in faults:
        control.process(_timeline(control, fault))


def _timeline(control: Control, fault: EngineFault) -> Gen:
    """Wait for ``at``, apply, wait the fault's length, undo."""
    env = control.env
    spec = fault.spec
    if spec.at > env.now:
        yield env.timeout(spec.at - env.now)
    undo = fault.apply(control)
    length = spec.length_s()
    if length is None:
        return
    yield env.timeout(length)
    undo()
    control.record_event("fault_end", fault=fault.index, fault_kind=fault.kind, target=fault.label())
