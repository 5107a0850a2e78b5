"""The SimPy engine: one environment per replication, a process per request.

:class:`Simulation` runs one replication; the policy objects a caller's proxy uses
(balancers, retry limits, breakers, outlier detection) are small classes behind
:class:`LoadBalancer`-style interfaces, which are the extension points.
"""

from __future__ import annotations

from meshsim.engine._balancers import EndpointStats, LoadBalancer
from meshsim.engine._core import Simulation

__all__ = ["EndpointStats", "LoadBalancer", "Simulation"]
