"""A caller proxy's view of one destination cluster (service, or one version of it).

Each caller replica (and each workload's ingress) owns one :class:`Cluster` per
destination, as every sidecar does: its own balancer, connection pool, retry
limit or budget, outlier detector and breaker, with no coordination between proxies.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any

import simpy

from meshsim.distributions import Sampler
from meshsim.engine._balancers import PeakEwma, make_balancer
from meshsim.engine._limits import FailureAccrual, OutlierDetector
from meshsim.engine._policies import Breaker, HostHealth, LoadBalancer, RetryLimit, RetryPolicy
from meshsim.engine._retrying import EnvoyRetries, make_retry_limit
from meshsim.engine._runtime import Membership, Replica
from meshsim.engine._traefik_breaker import TraefikBreaker
from meshsim.engine._traefik_health import TraefikPassiveHealth
from meshsim.engine._traefik_retry import TraefikRetries
from meshsim.scenario import EffectivePolicy

if TYPE_CHECKING:
    from meshsim.metrics import EdgeMeter
    from meshsim.topology import NetworkModel, Path

__all__ = ["Cluster", "Proxy", "shared_policy"]

#: What :meth:`Cluster.acquire` answers.
GRANTED, PENDING, POOL_FULL = 0, 1, 2


class Cluster:
    """One caller proxy's state for calls to one destination (and version)."""

    OVERPROVISIONING = 1.4  # Envoy's default overprovisioning factor [E8]
    __slots__ = (
        "_known",
        "_known_key",
        "_levels_cache",
        "_levels_key",
        "_n",
        "_u",
        "accrual",
        "active",
        "balancer",
        "breaker",
        "direct",
        "endpoints",
        "env",
        "ewma",
        "filtering",
        "health",
        "locality",
        "max_active",
        "max_pending",
        "membership",
        "meter",
        "observed",
        "outlier",
        "pending",
        "per_try_timeout_s",
        "policy",
        "proxy",
        "retries",
        "retry_limit",
        "routes",
        "rtt_estimate_s",
        "rtt_stamp_s",
        "service",
        "total_active",
        "version",
    )

    def __init__(
        self,
        env: simpy.Environment,
        proxy: Proxy,
        service: str,
        version: str | None,
        endpoints: list[Replica],
        policy: EffectivePolicy,
        uniform: Sampler,
        membership: Membership | None = None,
        meter: EdgeMeter | None = None,
        shared: tuple[RetryPolicy, LoadBalancer | None] | None = None,
    ) -> None:
        """``proxy``'s cluster for ``service`` (``version``) over ``endpoints``, enforcing ``policy``.

        ``shared``: the retry policy and, when it keeps no state of its own, the balancer,
        made once for every proxy calling the destination (see :func:`shared_policy`).
        """
        self.membership = membership or Membership()
        self._known_key = -1
        self._known: list[int] = []
        self.env = env
        self.proxy = proxy
        self.service = service
        self.version = version
        self.endpoints = endpoints  # shared with the service: grows with autoscaling
        self.policy = policy
        self.meter = meter  # the metrics of attempts on this edge (None: not recorded)
        self._u = uniform
        n = len(endpoints)
        retries, balancer = shared if shared is not None else shared_policy(policy, uniform)
        self.balancer: LoadBalancer = balancer or make_balancer(policy.load_balancer, uniform)
        self.ewma = self.balancer if isinstance(self.balancer, PeakEwma) else None
        self.active = [0] * n
        # round trips per endpoint: only peak EWMA reads them
        self.rtt_estimate_s = [-1.0] * n if self.ewma else []
        self.rtt_stamp_s = [0.0] * n if self.ewma else []
        self.routes: list[tuple[Path, Path] | None] = [None] * n  # network paths there and back, by endpoint
        self._n = n
        self.retries: RetryPolicy = retries
        self.retry_limit: RetryLimit | None = make_retry_limit(policy)
        self.total_active = 0
        limit = [x for x in (policy.max_connections, policy.max_requests) if x is not None]
        self.max_active = min(limit) if limit else None
        # calls waiting for a connection slot, oldest first (a pool without limits never has any)
        self.pending: deque[Any] | tuple[()] = deque() if self.max_active is not None else ()
        self.max_pending = policy.max_pending
        self.outlier = OutlierDetector(policy.outlier, n, uniform) if policy.outlier else None
        fa = policy.failure_accrual
        self.accrual = (
            FailureAccrual(fa.max_failures, fa.min_penalty, fa.max_penalty, fa.jitter, n, uniform) if fa else None
        )
        phc = policy.passive_health_check
        passive = TraefikPassiveHealth(phc.max_failed_attempts, phc.failure_window, n) if phc else None
        # every detector that can take an endpoint out, in the order they see a response
        self.health: tuple[HostHealth, ...] = tuple(h for h in (self.outlier, self.accrual, passive) if h is not None)
        cb = policy.circuit_breaker
        self.breaker: Breaker | None = (
            TraefikBreaker(cb.expression, cb.check_period, cb.fallback_duration, cb.recovery_duration) if cb else None
        )
        # Istio builds locality priorities only when the cluster has outlier detection
        # (without it Envoy never marks a host unhealthy, so it could never fail over) [S5]
        self.locality = None if (policy.locality_needs_outlier and self.outlier is None) else policy.locality
        self._levels_key: tuple[int, ...] | None = None
        self._levels_cache: list[list[int]] = []
        self.filtering = bool(self.health or self.locality)
        # the per-try limit when the route has no deadline (None: no timer per attempt)
        self.per_try_timeout_s = policy.per_try_timeout_s
        # detectors and feedback that read every attempt's outcome
        self.observed = bool(self.health or self.ewma is not None or self.breaker is not None)
        # nothing in the way of a call but the pick and the retry policy: no timers, pool
        # limits, hedges, breaker, injected faults or mirroring (the engine's shorter path)
        self.direct = (
            policy.timeout_s is None
            and policy.per_try_timeout_s is None
            and policy.hedging is None
            and self.max_active is None
            and self.breaker is None
            and policy.fault is None
            and policy.mirror is None
        )

    def _grow(self) -> None:
        n = len(self.endpoints)
        extra = n - self._n
        self.active += [0] * extra
        if self.ewma:
            self.rtt_estimate_s += [-1.0] * extra
            self.rtt_stamp_s += [0.0] * extra
        self.routes += [None] * extra
        for detector in self.health:
            detector.grow(n)
        self._n = n

    def known(self) -> list[int]:
        """Indices of the endpoints the control plane lists, cached until membership changes."""
        if len(self.endpoints) != self._n:
            self._grow()
        key = self.membership.version
        if key != self._known_key:
            eps = self.endpoints
            self._known = [i for i in range(self._n) if eps[i].known]
            self._known_key = key
        return self._known

    def route(self, ep: int, net: NetworkModel) -> tuple[Path, Path]:
        """The network paths to endpoint ``ep`` and back (looked up once)."""
        r = self.routes[ep]
        if r is None:
            zone = self.proxy.zone
            there = self.endpoints[ep].zone
            r = self.routes[ep] = (net.path(zone, there), net.path(there, zone))
        return r

    def pick(self, exclude: tuple[int, ...], key: int) -> int | None:
        """Choose an endpoint index, or None when there is none (no_endpoint)."""
        if self._known_key == self.membership.version and len(self.endpoints) == self._n:
            known = self._known
        else:
            known = self.known()
        now = self.env._now
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
        for detector in self.health:
            healthy = [i for i in healthy if detector.available(i, now)]
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
        for detector in self.health:
            detector.on_pick(choice, now)
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
    def acquire(self, waiter: Any) -> int:
        """Take a connection slot: GRANTED, PENDING (``waiter.granted()`` comes later) or POOL_FULL [E2]."""
        if self.max_active is None or self.total_active < self.max_active:
            self.total_active += 1
            return GRANTED
        pending = self.pending
        assert isinstance(pending, deque)  # a pool with a limit has its queue
        if self.max_pending is not None and len(pending) >= self.max_pending:
            return POOL_FULL
        pending.append(waiter)
        return PENDING

    def release(self) -> None:
        """A request finished: hand its slot to the oldest pending one."""
        pending = self.pending
        if pending:
            assert isinstance(pending, deque)
            pending.popleft().granted()
            return
        self.total_active -= 1

    def abandon_pending(self, waiter: Any) -> None:
        """A pending request gave up (route timeout) before it got a slot."""
        if isinstance(self.pending, deque):
            with contextlib.suppress(ValueError):
                self.pending.remove(waiter)


def shared_policy(policy: EffectivePolicy, uniform: Sampler) -> tuple[RetryPolicy, LoadBalancer | None]:
    """The parts of a destination's policy that every proxy may share.

    That is the retry policy, and the balancer unless it keeps state per proxy (round
    robin's position does: each proxy makes its own).
    """
    per_proxy = policy.load_balancer.kind == "round_robin"
    retries: RetryPolicy = (
        TraefikRetries(policy, uniform) if policy.retry_kind == "traefik" else EnvoyRetries(policy, uniform)
    )
    return retries, (None if per_proxy else make_balancer(policy.load_balancer, uniform))


class Proxy:
    """A caller's outbound proxy (a replica's sidecar, or a workload's ingress)."""

    __slots__ = ("name", "zone", "clusters", "unsplit", "is_ingress", "replica")

    def __init__(self, name: str, zone: str | None, is_ingress: bool, replica: Replica | None = None) -> None:
        self.name = name
        self.zone = zone
        self.is_ingress = is_ingress
        self.replica = replica
        self.clusters: dict[tuple[str, str | None], Cluster] = {}  # by (service, version)
        self.unsplit: dict[str, Cluster] = {}  # the same for version None, by service
