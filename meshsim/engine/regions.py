"""Default latencies and egress prices for real cloud regions (dated configuration data).

Round-trip figures come from ../shared/reference/dynamics.md section 5 (sources and
dates there); a one-way delay is half the round trip. Prices are USD per GB of
10^9 bytes. Override either with an explicit ``network.links`` entry.
"""

from __future__ import annotations

from ..distributions import Distribution, lognormal_from_quantiles

__all__ = ["default_latency", "egress_price_per_gb", "REGION_RTT_MS", "EGRESS_USD_PER_GB"]

# Published round trips between regions, ms (dynamics.md §5).
REGION_RTT_MS: dict[frozenset[str], float] = {
    # AWS, R. Imaoka aws-ping over VPC peering (2019-06)
    frozenset({"aws/us-east-1", "aws/eu-west-1"}): 76.0,
    frozenset({"aws/us-east-1", "aws/us-east-2"}): 12.3,
    frozenset({"aws/us-east-1", "aws/us-west-2"}): 72.1,
    frozenset({"aws/eu-west-1", "aws/eu-central-1"}): 24.9,
    frozenset({"aws/eu-central-1", "aws/us-east-1"}): 88.0,
    frozenset({"aws/us-east-1", "aws/ap-northeast-1"}): 152.7,
    # Azure UK South <-> UK West, TCP echo (simonpainter.com)
    frozenset({"azure/uksouth", "azure/ukwest"}): 5.39,
}

# Same-zone and cross-zone round trips by provider, ms (dynamics.md §5).
ZONE_RTT_MS = {
    "aws": (0.2, 1.0),  # inter-AZ 0.25-3.37 ms best-of-50 (xkyle.com); "usually < 1 ms" (Hamilton)
    "gcp": (0.2, 0.5),  # intra-region < 1 ms p95 (GCP docs)
    "azure": (0.91, 1.55),  # same-AZ / cross-AZ TCP echo (simonpainter.com)
}

# Egress prices, USD per GB (dynamics.md §5, secondary summaries of the pricing pages, 2025-26).
EGRESS_USD_PER_GB = {
    "aws": {"cross_zone": 0.01 * 2, "cross_region": 0.02, "internet": 0.09},  # inter-AZ is charged each direction
    "gcp": {"cross_zone": 0.01, "cross_region": 0.02, "internet": 0.12 / 1.073741824},  # $0.12/GiB
    "azure": {"cross_zone": 0.0, "cross_region": 0.02, "internet": 0.087},
}
DEFAULT_PRICES = {"cross_zone": 0.01, "cross_region": 0.02, "internet": 0.09}


def _region(path: str) -> str:
    return "/".join(path.split("/")[:2])


def _rtt_ms(a: str, b: str, rel: str) -> float | None:
    cloud_a = a.split("/")[0]
    if rel == "cross_zone":
        return ZONE_RTT_MS.get(cloud_a, (0.2, 1.0))[1]
    if rel == "same_zone":
        return ZONE_RTT_MS.get(cloud_a, (0.2, 1.0))[0]
    return REGION_RTT_MS.get(frozenset({_region(a), _region(b)}))


def default_latency(a: str, b: str, rel: str) -> Distribution | None:
    """A one-way latency for two real locations: a lognormal with median RTT/2 and p99 1.5x that."""
    rtt = _rtt_ms(a, b, rel)
    if rtt is None:
        # unknown pair: a conservative continental default (documented in docs/scenario.md)
        rtt = {"cross_region": 70.0, "cross_cloud": 40.0}.get(rel, 1.0)
    median = rtt / 2 / 1000.0
    mu, sigma = lognormal_from_quantiles(median, median * 1.5)
    return Distribution("lognormal", (("mu", mu), ("sigma", sigma)))


def egress_price_per_gb(a: str, b: str, rel: str) -> float:
    """USD per GB charged for bytes sent from ``a`` to ``b`` (the sender's provider prices it)."""
    cloud = a.split("/")[0]
    prices = EGRESS_USD_PER_GB.get(cloud, DEFAULT_PRICES)
    if rel == "cross_cloud":
        return prices["internet"]
    return prices.get(rel, 0.0)
