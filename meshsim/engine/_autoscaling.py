"""Horizontal pod autoscaling with Kubernetes HPA (autoscaling/v2) semantics.

One autoscaler per service version that asks for it (each version is its own Deployment).
Utilization is busy workers / concurrency, the analogue of CPU usage / request: it is
sampled 60 times per sync period on every ready replica and averaged, as metrics-server
averages usage over its window. Every ``sync_period`` (15 s):

    desired = ceil(sum of ready replicas' utilization / target)

which is the HPA's ceil(current x utilization / target). Nothing changes while
|utilization / target - 1| <= tolerance (0.1). Replicas still starting count as idle when a
scale-up is checked, so the ones on their way are not ordered twice; replicas without
metrics never turn a scale-up into a scale-down or back. Scale-up is limited to
max(2 x current, current + 4) per period (the HPA's default policies); scale-down uses the
highest recommendation of the last ``scale_down_stabilization`` (300 s). New replicas join
the least-populated zone of the service's placement (skipping zones under an outage) and
take traffic after ``startup_delay``; scale-down retires starting replicas, then the newest.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any

from meshsim.engine._control import Control
from meshsim.engine._runtime import DEFAULT_ZONE, Replica, VersionRuntime
from meshsim.scenario import Autoscaling

__all__ = ["SAMPLES_PER_PERIOD", "Autoscaler", "hpa_recommendation", "install"]

SAMPLES_PER_PERIOD = 60
Gen = Generator[Any, Any, Any]


def install(control: Control) -> list[Autoscaler]:
    """Start an autoscaler per service version that asks for one; returns them."""
    scalers: list[Autoscaler] = []
    for name, svc in control.scenario.services.items():
        if svc.autoscaling is None:
            continue
        for (service, _version), spec in control.mesh.versions.items():
            if service == name:
                scaler = Autoscaler(control, spec, svc.autoscaling)
                scalers.append(scaler)
                control.process(scaler.run())
    return scalers


def hpa_recommendation(current: int, usage: float, ready: int, starting: int, target: float, tolerance: float) -> int:
    """The HPA's replica recommendation before min/max, rate limits and stabilization.

    ``usage`` is the sum of the ready replicas' utilization (each in [0, 1]), ``ready`` how
    many there are, ``starting`` how many are not ready yet, ``current`` the replicas the
    Deployment asks for now.
    """
    if ready == 0:
        return current  # no metrics: the HPA leaves the scale alone
    ratio = usage / (ready * target)
    if abs(ratio - 1.0) <= tolerance:
        return current
    if ratio > 1.0 and starting:
        # unready pods count as 0% for a scale-up; if that brings the ratio back within
        # tolerance (or below 1), the HPA does nothing [kubernetes HPA algorithm details]
        ratio_all = usage / ((ready + starting) * target)
        if ratio_all <= 1.0 + tolerance:
            return current
    desired = max(1, math.ceil(usage / target - 1e-9))
    if (ratio > 1.0 and desired < current) or (ratio < 1.0 and desired > current):
        # replicas without metrics (dead, starting) would reverse the direction: the HPA
        # keeps the current scale (replica_calculator: "change in scale direction")
        return current
    return desired


class Autoscaler:
    """The HPA of one service version."""

    def __init__(self, control: Control, spec: VersionRuntime, cfg: Autoscaling) -> None:
        """The HPA of ``spec``'s Deployment, configured by ``cfg``."""
        self.control = control
        self.spec = spec
        self.cfg = cfg
        self.ctl = control.discovery
        self.history: deque[tuple[float, int]] = deque()  # (time, recommendation)
        self.zones = self._zones()
        self.samples: dict[int, list[float]] = {}  # replica id -> [sum, count] this period
        self.counts: list[tuple[float, int, int]] = []  # (time s, replicas asked for, ready)

    def _zones(self) -> list[str]:
        """The zones new replicas may go to: the placement's (in file order), then any other."""
        sc = self.control.scenario
        svc = sc.services[self.spec.service]
        ver = svc.versions.get(self.spec.version) if self.spec.version else None
        placement = (ver.placement if ver is not None and ver.placement is not None else svc.placement) or {}
        zones = list(placement)
        for r in self.members():
            if r.zone not in zones:
                zones.append(r.zone)
        if not zones:
            zones = sc.zones()[:1] or [DEFAULT_ZONE]
        return zones

    def members(self) -> list[Replica]:
        """Replicas of this version that are not retired (ready or starting)."""
        spec = self.spec
        return [r for r in self.control.mesh.replicas if r.spec is spec and r.rid not in self.ctl.retired]

    def _ready(self, r: Replica) -> bool:
        return r.rid not in self.ctl.starting and r.up

    # ----- the control loop -----
    def run(self) -> Gen:
        """The control loop: sample utilization, and scale every sync period."""
        env = self.control.env
        cfg = self.cfg
        step = cfg.sync_period / SAMPLES_PER_PERIOD
        current = len(self.members())
        target = min(max(current, cfg.min_replicas), cfg.max_replicas)
        if target != current:
            self.control.record_event(
                "scale",
                service=self.spec.service,
                version=self.spec.version,
                replicas_from=current,
                replicas_to=target,
                utilization=None,
            )
            self._scale_to(target, ready_now=True)  # min/max hold from the start (steady state)
        while True:
            for _ in range(SAMPLES_PER_PERIOD):
                yield env.timeout(step)
                self._sample()
            self._sync()

    def _sample(self) -> None:
        now = self.control.now
        for r in self.members():
            if self._ready(r):
                acc = self.samples.get(r.rid)
                if acc is None:
                    acc = self.samples[r.rid] = [0.0, 0]
                acc[0] += r.workers.busy(now) / r.spec.busy_units
                acc[1] += 1

    def _sync(self) -> None:
        cfg = self.cfg
        now = self.control.now
        members = self.members()
        current = len(members)
        ready = [r for r in members if self._ready(r) and r.rid in self.samples]
        usage = sum(min(1.0, self.samples[r.rid][0] / self.samples[r.rid][1]) for r in ready)
        starting = sum(1 for r in members if r.rid in self.ctl.starting)
        self.samples = {}
        rec = hpa_recommendation(current, usage, len(ready), starting, cfg.target_utilization, cfg.tolerance)
        rec = min(max(rec, cfg.min_replicas), cfg.max_replicas)
        self.history.append((now, rec))
        while self.history and self.history[0][0] < now - cfg.scale_down_stabilization:
            self.history.popleft()
        desired = rec
        if rec < current:
            # scale-down stabilization: the highest recommendation in the window
            desired = min(current, max(r for _, r in self.history))
        elif rec > current:
            desired = min(rec, max(2 * current, current + 4))
        self.counts.append((now, desired, len(ready)))
        if desired != current:
            util = usage / len(ready) if ready else float("nan")
            self.control.record_event(
                "scale",
                service=self.spec.service,
                version=self.spec.version,
                replicas_from=current,
                replicas_to=desired,
                utilization=round(util, 4) if ready else None,
            )
            self._scale_to(desired)

    # ----- acting -----
    def _scale_to(self, desired: int, ready_now: bool = False) -> None:
        members = self.members()
        if desired > len(members):
            for _ in range(desired - len(members)):
                zone = self._pick_zone()
                if zone is None:
                    self.control.record_event(
                        "scale_blocked",
                        service=self.spec.service,
                        reason="every zone of the placement is under an outage",
                    )
                    return
                self._add(zone, ready_now)
        elif desired < len(members):
            # Kubernetes deletes not-ready pods first, then the newest
            order = sorted(members, key=lambda r: (r.rid not in self.ctl.starting, -r.rid))
            for r in order[: len(members) - desired]:
                self.ctl.retire(r)

    def _pick_zone(self) -> str | None:
        counts = {z: 0 for z in self.zones}
        for r in self.members():
            if r.zone in counts:
                counts[r.zone] += 1
        live = [z for z in self.zones if not self.ctl.location_down(z)]
        if not live:
            return None
        return min(live, key=lambda z: (counts[z], self.zones.index(z)))

    def _add(self, zone: str, ready_now: bool = False) -> None:
        control = self.control
        r = control.add_replica(self.spec, zone)
        if ready_now:
            return
        self.ctl.mark_starting(r)
        # capacity counts from readiness (utilization and HPA metrics alike)
        r.started_s = control.now + self.cfg.startup_delay
        control.process(self._ready_later(r))

    def _ready_later(self, r: Replica) -> Gen:
        yield self.control.env.timeout(self.cfg.startup_delay)
        if r.rid not in self.ctl.retired:
            self.ctl.mark_ready(r)
            self.control.record_event("replica_ready", service=r.service, version=r.version, replica=r.rid, zone=r.zone)
