"""The run-size guard: refuse, before anything is built, a run too large to finish.

Three numbers are estimated from the validated scenario (every value finite and bounded
by the scenario models, so no NaN or overflow can slip past a comparison):

- end-user requests over warm-up plus duration, load faults included (at their factor);
- replicas the engine builds up front, plus those autoscaling may add (up to ``max_replicas``);
- attempts one end-user request can cause at worst: every call made (``count``, parallel
  fan-out), every retry and hedge used, at every hop (4^3 = 64 for three layers of three
  retries, the retry-storm model).

Each has a limit; ``force`` (``--force``) accepts a run over them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from meshsim.errors import MeshsimInputError
from meshsim.scenario import Scenario, ServiceVersion, resolve_policy

__all__ = [
    "MAX_ATTEMPTS_PER_REQUEST",
    "MAX_REPLICAS",
    "MAX_REQUESTS",
    "RunSize",
    "check_size",
    "check_sizes",
    "estimate_size",
]

#: End-user requests one run may simulate without ``--force`` (over all replications).
MAX_REQUESTS = 50_000_000
#: Replicas one replication may build (each is a SimPy resource and a proxy, a few kB).
MAX_REPLICAS = 100_000
#: Attempts one end-user request may cause when every call, retry and hedge is made.
MAX_ATTEMPTS_PER_REQUEST = 1_000_000


@dataclass(frozen=True)
class RunSize:
    """What one replication of a scenario would take."""

    requests: float  # end-user requests, load faults included
    replicas: int  # built up front plus autoscaling's ceiling
    worst_attempts_per_request: float  # every call, retry and hedge at every hop


def _load_factor(scenario: Scenario) -> float:
    """Extra end-user requests from load faults, as a factor over the plain workload (>= 1)."""
    horizon = scenario.warmup + scenario.duration
    extra = 0.0
    for fault in scenario.faults:
        if fault.kind == "load" and fault.factor is not None and fault.at < horizon:
            length = fault.duration if fault.duration is not None else horizon - fault.at
            share = min(1.0, max(0.0, min(length, horizon - fault.at)) / horizon)
            extra += max(0.0, fault.factor - 1.0) * share
    return 1.0 + extra


def _replicas(scenario: Scenario) -> int:
    total = 0
    for svc in scenario.services.values():
        variants: list[ServiceVersion | None] = list(svc.versions.values()) or [None]
        built = 0
        for ver in variants:
            placement = ver.placement if ver is not None and ver.placement is not None else svc.placement
            replicas = ver.replicas if ver is not None and ver.replicas is not None else svc.replicas
            built += sum(placement.values()) if placement is not None else (1 if replicas is None else replicas)
        if svc.autoscaling is not None:
            built = max(built, svc.autoscaling.max_replicas * len(variants))
        total += built
    return total


def _worst_attempts(scenario: Scenario) -> float:
    """Attempts one end-user request causes at worst, the largest over the workloads' entries."""

    @cache
    def tries(service: str, version: str | None) -> float:
        policy = resolve_policy(scenario, service, version)
        per_try = 1 + policy.retry_attempts
        if policy.hedging is not None:
            per_try *= policy.hedging.max_attempts
        return float(per_try)

    @cache
    def work(service: str) -> float:
        versions: list[str | None] = list(scenario.services[service].versions) or [None]
        most = 0.0
        for version in versions:
            total = 1.0
            for step in scenario.call_steps(service, version):
                for call in step.calls:
                    total += call.count * tries(call.to, None) * work(call.to)
            most = max(most, total)
        return min(most, math.inf)

    worst = 0.0
    for w in scenario.workload:
        client = 1 + w.client.retries
        worst = max(worst, client * work(w.entry))
    return worst


def estimate_size(scenario: Scenario) -> RunSize:
    """The size of one replication of ``scenario`` (see the module's docstring)."""
    return RunSize(
        requests=scenario.expected_requests() * _load_factor(scenario),
        replicas=_replicas(scenario),
        worst_attempts_per_request=_worst_attempts(scenario),
    )


def check_size(scenario: Scenario, replications: int = 1, force: bool = False) -> RunSize:
    """Refuse a run over the limits (unless forced), naming the line that sets its size.

    Returns the estimate. Raises :class:`MeshsimInputError` with the number that would be
    simulated or built.
    """
    return check_sizes([scenario], replications, force)[0]


def check_sizes(
    scenarios: Sequence[Scenario], replications: int = 1, force: bool = False, what: str = "run"
) -> list[RunSize]:
    """:func:`check_size` for several scenarios run together (a sweep's points, a comparison's two).

    Requests add up over the scenarios; replicas and attempts are limits of each one.
    """
    from meshsim.scenario import line_of

    sizes = [estimate_size(s) for s in scenarios]
    if force or not scenarios:
        return sizes
    file = scenarios[0].source_file
    requests = sum(size.requests for size in sizes) * replications
    if not requests <= MAX_REQUESTS:  # also catches an infinite estimate
        raise MeshsimInputError(
            f"this {what} would simulate about {requests:,.0f} requests (over {MAX_REQUESTS:,}); "
            "shorten duration, lower the rate or replications, or pass --force",
            file=file,
            line=line_of(file, ("duration",)),
            field="duration",
        )
    for scenario, size in zip(scenarios, sizes):
        file = scenario.source_file
        if size.replicas > MAX_REPLICAS:
            raise MeshsimInputError(
                f"this scenario would build {size.replicas:,} replicas (over {MAX_REPLICAS:,}; every replica is "
                "simulated, and autoscaling counts at its max_replicas); lower replicas or pass --force",
                file=file,
                line=line_of(file, ("services",)),
                field="services",
            )
        if not size.worst_attempts_per_request <= MAX_ATTEMPTS_PER_REQUEST:
            raise MeshsimInputError(
                f"one request could cause up to {size.worst_attempts_per_request:,.0f} attempts when every call, "
                f"retry and hedge is made (over {MAX_ATTEMPTS_PER_REQUEST:,}); lower the calls' count or "
                "retries, or pass --force",
                file=file,
                line=line_of(file, ("services",)),
                field="services",
            )
    return sizes
