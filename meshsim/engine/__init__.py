"""The SimPy engine: one environment per replication, requests as small state machines.

:class:`Simulation` builds and runs one replication. The caller proxy's policies are small
objects behind Protocols (:class:`LoadBalancer`, :class:`RetryPolicy`, :class:`RetryLimit`,
:class:`Breaker`, :class:`HostHealth`, :class:`RateLimiter`); a client's own retries (an end
user's, a caller's SDK) use a :class:`Backoff` and :class:`ClientRetryLimit` objects; controllers (workloads,
faults, autoscaling, rollouts) act through :class:`Control` and its named hooks. These are
the extension points.
"""

from __future__ import annotations

from meshsim.engine._backoff import Backoff
from meshsim.engine._clients import ClientRetryLimit
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
    "Backoff",
    "Breaker",
    "ClientRetryLimit",
    "Control",
    "EndpointStats",
    "HostHealth",
    "LoadBalancer",
    "RateLimiter",
    "RetryLimit",
    "RetryPolicy",
    "Simulation",
]
