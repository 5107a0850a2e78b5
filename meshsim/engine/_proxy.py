"""A caller proxy's view of one destination cluster (service, or one version of it).

Each caller replica (and each workload's ingress) owns one :class:`Cluster` per
destination, as every sidecar does: its own balancer, connection pool, retry
limit or budget, outlier detector and breaker, with no coordination between proxies.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any

import simpy

from meshsim.distributions import UniformSource
from meshsim.engine._balancers import PeakEwma, make_balancer
from meshsim.engine._limits import EnvoyRetryLimit, FailureAccrual, TowerBudget, TraefikBreaker
from meshsim.engine._runtime import Membership, Replica
from meshsim.scenario import EffectivePolicy

__all__ = ["Cluster", "Proxy"]


class Cluster:
    """One caller proxy's state for calls to one destination (and version)."""

    OVERPROVISIONING = 1.4  # Envoy's default overprovisioning factor [E8]

    def __init__(
        self,
        env: simpy.Environment,
        proxy: Proxy,
        service: str,
        version: str | None,
        endpoints: list[Replica],
        policy: EffectivePolicy,
        uniform: UniformSource,
        membership: Membership | None = None,
    ) -> None:
        self.membership = membership or Membership()
        self._known_key = -1
        self._known: list[int] = []
        self.env = env
        self.proxy = proxy
        self.service = service
        self.version = version
        self.endpoints = endpoints  # shared with the service: grows with autoscaling
        self.policy = policy
        self._u = uniform
        n = len(endpoints)
        self.active = [0] * n
        self.rtt_estimate_s = [-1.0] * n
        self.rtt_stamp_s = [0.0] * n
        self._n = n
        self.balancer = make_balancer(policy.load_balancer, uniform)
        self.ewma = self.balancer if isinstance(self.balancer, PeakEwma) else None
        self.total_active = 0
        self.pending: deque[simpy.Event] = deque()
        limit = [x for x in (policy.max_connections, policy.max_requests) if x is not None]
        self.max_active = min(limit) if limit else None
        self.max_pending = policy.max_pending
        self.retry_limit: Any
        if policy.budget_kind == "linkerd":
            self.retry_limit = TowerBudget(policy.budget_ratio, policy.budget_min_per_second, policy.budget_ttl_s)
        elif policy.budget_kind == "envoy":
            self.retry_limit = EnvoyRetryLimit(None, policy.budget_percent, policy.budget_min_concurrency)
        elif policy.max_retries is not None:
            self.retry_limit = EnvoyRetryLimit(policy.max_retries, None, 0)
        else:
            self.retry_limit = None
        from meshsim.engine._limits import OutlierDetector

        self.outlier = OutlierDetector(policy.outlier, n, uniform) if policy.outlier else None
        fa = policy.failure_accrual
        self.accrual = (
            FailureAccrual(fa.max_failures, fa.min_penalty, fa.max_penalty, fa.jitter, n, uniform) if fa else None
        )
        cb = policy.circuit_breaker
        self.breaker = (
            TraefikBreaker(cb.expression, cb.check_period, cb.fallback_duration, cb.recovery_duration, uniform)
            if cb
            else None
        )
        # Istio builds locality priorities only when the cluster has outlier detection
        # (without it Envoy never marks a host unhealthy, so it could never fail over) [S5]
        self.locality = None if (policy.locality_needs_outlier and self.outlier is None) else policy.locality
        self._levels_key: tuple[int, ...] | None = None
        self._levels_cache: list[list[int]] = []
        self.filtering = bool(self.outlier or self.accrual or self.locality)
        self._all = list(range(n))
        # nothing to do but pick and send: the engine takes a shorter path (no timers, no limits)
        self.trivial = (
            policy.timeout_s is None
            and policy.retry_attempts == 0
            and policy.per_try_timeout_s is None
            and policy.hedging is None
            and self.max_active is None
            and self.breaker is None
            and policy.fault is None
            and not self.filtering
            and self.ewma is None
            and policy.mirror is None
        )

    def _grow(self) -> None:
        n = len(self.endpoints)
        extra = n - self._n
        self.active += [0] * extra
        self.rtt_estimate_s += [-1.0] * extra
        self.rtt_stamp_s += [0.0] * extra
        if self.outlier:
            self.outlier.grow(n)
        if self.accrual:
            self.accrual.grow(n)
        self._all = list(range(n))
        self._n = n

    def known(self) -> list[int]:
        """Indices of the endpoints the control plane lists, cached until membership changes."""
        if len(self.endpoints) != self._n:
            self._grow()
        key = self.membership.version
        if key != self._known_key:
            eps = self.endpoints
            self._known = [i for i in self._all if eps[i].known]
            self._known_key = key
        return self._known

    def pick(self, exclude: tuple[int, ...], key: int) -> int | None:
        """Choose an endpoint index, or None when there is none (no_endpoint)."""
        known = self.known()
        now = self.env.now
        if not self.filtering:
            cands = known
            if exclude and len(cands) > 1:
                narrowed = [i for i in cands if i not in exclude]
                cands = narrowed or cands
            if not cands:
                return None
            return self.balancer.choose(cands, self, now, key)
        if not known:
            return None
        healthy = known
        if self.outlier is not None:
            healthy = [i for i in healthy if not self.outlier.is_ejected(i, now)]
        if self.accrual is not None:
            healthy = [i for i in healthy if self.accrual.available(i, now)]
        if self.locality is not None:
            healthy = self._by_priority(known, healthy)
        elif self.outlier is not None and 100.0 * len(healthy) / len(known) < self.policy.panic_percent:
            healthy = known  # panic: balance over every host, healthy or not [E7]
        if not healthy:
            return None
        if exclude and len(healthy) > 1:
            narrowed = [i for i in healthy if i not in exclude]
            healthy = narrowed or healthy
        choice = self.balancer.choose(healthy, self, now, key)
        if self.accrual is not None:
            self.accrual.on_pick(choice, now)
        return choice

    def _by_priority(self, known: list[int], healthy: list[int]) -> list[int]:
        """Envoy priorities for locality-aware routing [E7, E8]: the hosts to balance over.

        Priorities: the caller's zone, the rest of its region (``prefer: region`` merges the
        two), each ``failover`` location in order, then everything else unless
        ``cross_zone`` is false (Kuma's default: a Kuma zone is one cluster, i.e. a meshsim
        region). Each priority's health is min(100, 1.4 x 100 x healthy / hosts); load goes
        to priorities in order, each taking health x 100 / normalised total health of what
        is left. While the normalised total is under 100, a priority with fewer healthy hosts
        than the panic threshold balances over all its hosts; if every priority panics, load
        follows host counts. Panic threshold 0 (Istio) turns panic off.
        """
        assert self.locality is not None
        levels = self._levels(known)
        if not levels:
            return []
        healthy_set = set(healthy) if len(healthy) != len(known) else None
        if healthy_set is None:
            return levels[0]  # everyone healthy: priority 0 takes all the load
        panic = self.policy.panic_percent
        counts = [sum(1 for i in lvl if i in healthy_set) for lvl in levels]
        health = [min(100.0, self.OVERPROVISIONING * 100.0 * h / len(lvl)) for h, lvl in zip(counts, levels)]
        total = min(100.0, sum(health))
        if total <= 0.0 and panic <= 0.0:
            return []  # nothing healthy and panic off: no healthy upstream (503)
        in_panic = [total < 100.0 and 100.0 * h / len(lvl) < panic for h, lvl in zip(counts, levels)]
        if all(in_panic):
            # total panic: load by host counts, every host of the chosen priority [E7]
            loads = [float(len(lvl)) for lvl in levels]
        else:
            loads, left = [], 100.0
            for hp in health:
                share = min(left, hp * 100.0 / total)
                loads.append(share)
                left -= share
        u = self._u() * sum(loads)
        acc = 0.0
        chosen = len(levels) - 1
        for k, load in enumerate(loads):
            acc += load
            if load > 0.0 and u < acc:
                chosen = k
                break
        lvl = levels[chosen]
        if in_panic[chosen]:
            return lvl
        return [i for i in lvl if i in healthy_set]

    def _levels(self, known: list[int]) -> list[list[int]]:
        """The priority levels of the known endpoints, cached until the endpoint list changes."""
        key = tuple(known)
        if self._levels_key == key:
            return self._levels_cache
        loc = self.locality
        assert loc is not None
        zone = self.proxy.zone
        eps = self.endpoints
        if zone is None or loc.prefer == "none":
            levels = [list(known)]
        else:
            region = "/".join(zone.split("/")[:2])
            same_zone = [i for i in known if eps[i].zone == zone]
            same_region = [i for i in known if eps[i].zone != zone and eps[i].zone.startswith(region + "/")]
            levels = [same_zone, same_region] if loc.prefer == "zone" else [same_zone + same_region]
            placed = set(same_zone) | set(same_region)
            remaining = [i for i in known if i not in placed]
            for target in loc.failover:
                lvl = [i for i in remaining if eps[i].zone == target or eps[i].zone.startswith(target + "/")]
                if lvl:
                    levels.append(lvl)
                    taken = set(lvl)
                    remaining = [i for i in remaining if i not in taken]
            if loc.cross_zone and remaining:
                levels.append(remaining)
        levels = [lvl for lvl in levels if lvl]
        self._levels_key, self._levels_cache = key, levels
        return levels

    # ----- connection pool -----
    def acquire(self) -> simpy.Event | bool:
        """True when a request may go now; an event to wait on when pending; False on overflow."""
        if self.max_active is None or self.total_active < self.max_active:
            self.total_active += 1
            return True
        if self.max_pending is not None and len(self.pending) >= self.max_pending:
            return False
        ev = self.env.event()
        self.pending.append(ev)
        return ev

    def release(self) -> None:
        """A request finished: hand its slot to the oldest pending one."""
        while self.pending:
            ev = self.pending.popleft()
            if not ev.triggered:
                ev.succeed()
                return
        self.total_active -= 1

    def abandon_pending(self, ev: simpy.Event) -> None:
        """A pending request gave up (route timeout) before it got a slot."""
        with contextlib.suppress(ValueError):
            self.pending.remove(ev)


class Proxy:
    """A caller's outbound proxy (a replica's sidecar, or a workload's ingress)."""

    __slots__ = ("name", "zone", "clusters", "is_ingress", "replica")

    def __init__(self, name: str, zone: str | None, is_ingress: bool, replica: Replica | None = None) -> None:
        self.name = name
        self.zone = zone
        self.is_ingress = is_ingress
        self.replica = replica
        self.clusters: dict[tuple[str, str | None], Cluster] = {}
