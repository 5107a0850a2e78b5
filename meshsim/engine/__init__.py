"""The SimPy engine: one environment per replication, requests as small state machines.

:class:`Simulation` builds and runs one replication. The caller proxy's policies are small
objects behind Protocols (:class:`LoadBalancer`, :class:`RetryPolicy`, :class:`RetryLimit`,
:class:`Breaker`, :class:`HostHealth`, :class:`RateLimiter`); controllers (workloads,
faults, autoscaling, rollouts) act through :class:`Control` and its named hooks. These are
the extension points.
"""

from __future__ import annotations

from meshsim.engine._control import Control
from meshsim.engine._policies import (
    Breaker,
    EndpointStats,
    HostHealth,
    LoadBalancer,
    RateLimiter,
    RetryLimit,
    RetryPolicy,
)
from meshsim.engine._simulation import Simulation

__all__ = [
    "Breaker",
    "Control",
    "EndpointStats",
    "HostHealth",
    "LoadBalancer",
    "RateLimiter",
    "RetryLimit",
    "RetryPolicy",
    "Simulation",
]
