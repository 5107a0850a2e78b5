"""Where services run and what lies between them: locations, links, latency, loss and egress prices.

Pure data and distributions, shared by the engine (which samples delays) and the analysis
(which reads their means). Times are seconds; prices are US dollars per GB (10^9 bytes).
"""

from __future__ import annotations

from meshsim.topology._network import MSS_BYTES, TCP_MIN_RTO_S, LinkDelay, NetworkModel, Path, relation, under
from meshsim.topology._regions import (
    EGRESS_USD_PER_GB,
    REGION_METRO,
    REGION_RTT_MS,
    RTT_FIT_INTERCEPT_MS,
    RTT_FIT_MS_PER_KM,
    default_latency,
    distance_km,
    egress_price_per_gb,
    fallback_latency,
    region_rtt_ms,
)

__all__ = [
    "EGRESS_USD_PER_GB",
    "MSS_BYTES",
    "REGION_METRO",
    "REGION_RTT_MS",
    "RTT_FIT_INTERCEPT_MS",
    "RTT_FIT_MS_PER_KM",
    "TCP_MIN_RTO_S",
    "LinkDelay",
    "NetworkModel",
    "Path",
    "default_latency",
    "distance_km",
    "egress_price_per_gb",
    "fallback_latency",
    "region_rtt_ms",
    "relation",
    "under",
]
