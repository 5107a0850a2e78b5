"""The narrow interface between the engine and its controllers.

Controllers (workloads, faults, autoscalers, rollouts) change the mesh while it runs. They
get a :class:`Control`, never the simulation: named hooks to observe the request path
(``on_attempt_end``, ``on_call_end``) and named actions (set a split, set an endpoint's
membership, add or retire a replica, record an event). :class:`Discovery` is the control
plane's endpoint lists, shared by faults and autoscalers.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from meshsim.engine._mesh import Mesh, Routing
from meshsim.engine._path import RequestPath
from meshsim.engine._proxy import Cluster, Proxy
from meshsim.engine._runtime import Context, Outcome, Replica, VersionRuntime, Waiter
from meshsim.metrics import Recorder
from meshsim.rng import Streams
from meshsim.scenario import Scenario
from meshsim.topology import NetworkModel, under

if TYPE_CHECKING:
    from meshsim.engine._path import Tracing
    from meshsim.engine._timers import Timers

__all__ = ["AttemptHook", "CallHook", "Control", "Discovery", "Hooks"]

#: Called when an attempt ends in a caller's proxy: (cluster, endpoint index, outcome, round trip s).
AttemptHook = Callable[[Cluster, int, Outcome, float], None]
#: Called when a logical call ends: (service, version routed to or None, outcome, start time s).
CallHook = Callable[[str, "str | None", Outcome, float], None]

Gen = Generator[Any, Any, Any]


class Hooks:
    """The controllers' observers of the request path (empty lists cost nothing)."""

    def __init__(self) -> None:
        """No observers yet."""
        self.attempt_end: list[AttemptHook] = []
        self.call_end: list[CallHook] = []


class Control:
    """What a controller may see and do in one replication."""

    def __init__(
        self,
        scenario: Scenario,
        env: simpy.Environment,
        streams: Streams,
        mesh: Mesh,
        routing: Routing,
        network: NetworkModel,
        recorder: Recorder,
        hooks: Hooks,
        path: RequestPath,
        end_s: float,
        extras: dict[str, Any],
    ) -> None:
        """The controllers' view of one replication's parts."""
        self.scenario = scenario
        self.env = env
        self.mesh = mesh
        self.network = network
        self.recorder = recorder
        self.warmup_s = recorder.warmup_s
        self.end_s = end_s
        self._streams = streams
        self._routing = routing
        self._hooks = hooks
        self._path = path
        self._extras = extras
        self.discovery = Discovery(self)

    # ----- time and randomness -----
    @property
    def now(self) -> float:
        """Simulated time, seconds."""
        return float(self.env.now)

    def process(self, generator: Gen) -> simpy.Process:
        """Run a controller's own SimPy process (its timeline: waits, checks)."""
        return self.env.process(generator)

    def stream(self, name: str) -> np.random.Generator:
        """The named random stream (e.g. ``"faults"``), the same whatever else the scenario has."""
        return self._streams.get(name)

    # ----- hooks -----
    def on_attempt_end(self, hook: AttemptHook) -> None:
        """Call ``hook`` at the end of every attempt in every caller's proxy."""
        self._hooks.attempt_end.append(hook)

    def on_call_end(self, hook: CallHook) -> None:
        """Call ``hook`` at the end of every logical call (after the proxy's retries)."""
        self._hooks.call_end.append(hook)

    # ----- actions -----
    def set_split(self, service: str, versions: list[str], weights: list[float]) -> None:
        """Route calls to ``service`` over ``versions`` by ``weights`` from now on."""
        self._routing.set_split(service, versions, weights)

    def set_membership(self, replica: Replica, known: bool) -> None:
        """List or unlist ``replica`` in every caller's endpoints (the control plane's update)."""
        replica.known = known

    def add_replica(self, spec: VersionRuntime, zone: str) -> Replica:
        """Start a replica of ``spec`` in ``zone`` (listed at once; see :class:`Discovery`)."""
        return self.mesh.add_replica(spec, zone)

    def retire_replica(self, replica: Replica) -> None:
        """Stop counting ``replica``'s capacity from now (it finishes what it has)."""
        replica.stopped_s = self.now

    def record_event(self, kind: str, **data: Any) -> None:
        """A timeline event in the results (docs/results.md ``events``)."""
        self.recorder.event(self.now, kind, **data)

    def report(self, name: str, value: Any) -> None:
        """Results beyond the recorder's, e.g. ``"rollout"`` (docs/results.md)."""
        self._extras[name] = value

    # ----- traffic -----
    def send(self, ingress: Proxy, service: str, ctx: Context, owner: Waiter) -> None:
        """Start an end user's call from ``ingress`` to ``service``; ``owner.resume`` gets the outcome."""
        self._path.call(ingress, service, ctx, owner)

    @property
    def timers(self) -> Timers:
        """Timers that fire unless cancelled (an end user's timeout)."""
        return self._path.timers

    @property
    def tracing(self) -> Tracing:
        """Sampled requests' spans."""
        return self._path.tracing

    @property
    def needs_keys(self) -> bool:
        """Whether any policy balances by request key (ring hash), so requests need one."""
        return any(
            (pol.load_balancer is not None and pol.load_balancer.kind == "ring_hash")
            or any(v.load_balancer is not None and v.load_balancer.kind == "ring_hash" for v in pol.versions.values())
            for pol in self.scenario.policies.values()
        )


class Discovery:
    """The control plane's view of which replicas answer, start or are gone.

    A replica that stops answering stays in every caller's endpoint list for
    ``mesh.discovery_delay`` (until then callers still pick it), then the control plane
    removes it; when it answers again it is added back at once (readiness needs one
    successful probe, and a restart delay already covers start-up). Starting replicas
    (autoscaling) are listed when ready; retired ones never again.
    """

    def __init__(self, control: Control) -> None:
        """Discovery over ``control``'s mesh."""
        self.control = control
        self.discovery_s = float(control.scenario.mesh.discovery_delay)
        self._gen: dict[int, int] = {}  # replica id -> health generation (stale timers ignore)
        self.starting: set[int] = set()  # autoscaled replicas not ready yet
        self.retired: set[int] = set()  # scaled down: never added back
        self.down_locations: list[str] = []  # prefixes under an active outage

    @staticmethod
    def healthy(r: Replica) -> bool:
        """Answering connections (not black-holed, not refusing)."""
        return not (r.blackholed or r.refusing)

    def live(self, replicas: list[Replica]) -> list[Replica]:
        """``replicas`` without the retired ones."""
        return [r for r in replicas if r.rid not in self.retired]

    def health_changed(self, r: Replica) -> None:
        """A replica started or stopped answering: update discovery accordingly."""
        gen = self._gen.get(r.rid, 0) + 1
        self._gen[r.rid] = gen
        if not self.healthy(r):
            if r.known:
                self.control.process(self._remove_later(r, gen))
        elif not r.known and r.rid not in self.retired and r.rid not in self.starting:
            self._set_known(r, True)

    def _remove_later(self, r: Replica, gen: int) -> Gen:
        yield self.control.env.timeout(self.discovery_s)
        if self._gen.get(r.rid) == gen and r.known and not self.healthy(r):
            self._set_known(r, False)

    def _set_known(self, r: Replica, known: bool) -> None:
        self.control.set_membership(r, known)
        self.control.record_event(
            "endpoint_added" if known else "endpoint_removed",
            service=r.service,
            version=r.version,
            replica=r.rid,
            zone=r.zone,
        )

    def mark_starting(self, r: Replica) -> None:
        """A new replica (autoscaling) is not in any endpoint list until it is ready."""
        self.starting.add(r.rid)
        self.control.set_membership(r, False)

    def mark_ready(self, r: Replica) -> None:
        """A starting replica passed its readiness probe: add it if it answers."""
        self.starting.discard(r.rid)
        if self.healthy(r) and r.rid not in self.retired:
            self._set_known(r, True)

    def retire(self, r: Replica) -> None:
        """Scale-down: drop the replica from discovery for good; in-flight work finishes."""
        self.retired.add(r.rid)
        self.starting.discard(r.rid)
        self.control.retire_replica(r)
        if r.known:
            self._set_known(r, False)

    def location_down(self, zone: str) -> bool:
        """True while an outage covers ``zone`` (the scheduler avoids it)."""
        return any(under(zone, loc) for loc in self.down_locations)
