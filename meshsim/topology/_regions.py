"""Default latencies and egress prices for real cloud regions (dated configuration data).

Round trips come from docs/references.md section 15 (sources and dates there,
and in docs/multicloud.md); a one-way delay is half the round trip. Pairs the table does
not hold are estimated from the great-circle distance between the regions' metros with a
line fitted to the published pairs. Prices are USD per GB of 10^9 bytes. An explicit
``network.links`` entry, or a ``network.cross_region``/``cross_cloud`` value, overrides both.
"""

from __future__ import annotations

import math

from meshsim.distributions import Distribution, lognormal_from_quantiles

__all__ = [
    "DEFAULT_PRICES",
    "EGRESS_USD_PER_GB",
    "FALLBACK_RTT_MS",
    "REGION_METRO",
    "REGION_RTT_MS",
    "RTT_FIT_INTERCEPT_MS",
    "RTT_FIT_MS_PER_KM",
    "TAIL_RATIO",
    "default_latency",
    "distance_km",
    "egress_price_per_gb",
    "fallback_latency",
    "region_rtt_ms",
]

# Published round trips between regions, ms (references §15).
REGION_RTT_MS: dict[frozenset[str], float] = {
    # AWS, ICMP over VPC peering, R. Imaoka aws-ping blog (2019-06)
    frozenset({"aws/us-east-1", "aws/eu-west-1"}): 76.0,
    frozenset({"aws/us-east-1", "aws/us-east-2"}): 12.3,
    frozenset({"aws/us-east-1", "aws/us-west-2"}): 72.1,
    frozenset({"aws/eu-west-1", "aws/eu-central-1"}): 24.9,
    frozenset({"aws/eu-central-1", "aws/us-east-1"}): 88.0,
    frozenset({"aws/us-east-1", "aws/ap-northeast-1"}): 152.7,
    # Azure UK South <-> UK West, TCP echo (simonpainter.com)
    frozenset({"azure/uksouth", "azure/ukwest"}): 5.39,
}

# Approximate metro of each region (latitude, longitude in degrees), from the providers'
# published region locations; used only to estimate pairs the table above lacks.
REGION_METRO: dict[str, tuple[float, float]] = {
    "aws/us-east-1": (39.04, -77.49),
    "aws/us-east-2": (39.96, -83.00),
    "aws/us-west-1": (37.34, -121.89),
    "aws/us-west-2": (45.84, -119.70),
    "aws/ca-central-1": (45.50, -73.57),
    "aws/sa-east-1": (-23.55, -46.63),
    "aws/eu-west-1": (53.35, -6.26),
    "aws/eu-west-2": (51.51, -0.13),
    "aws/eu-west-3": (48.86, 2.35),
    "aws/eu-central-1": (50.11, 8.68),
    "aws/eu-north-1": (59.33, 18.07),
    "aws/ap-northeast-1": (35.68, 139.69),
    "aws/ap-southeast-1": (1.35, 103.82),
    "aws/ap-southeast-2": (-33.87, 151.21),
    "aws/ap-south-1": (19.08, 72.88),
    "gcp/us-central1": (41.26, -95.86),
    "gcp/us-east1": (33.20, -80.01),
    "gcp/us-east4": (39.04, -77.49),
    "gcp/us-west1": (45.59, -121.18),
    "gcp/us-west2": (34.05, -118.24),
    "gcp/northamerica-northeast1": (45.50, -73.57),
    "gcp/southamerica-east1": (-23.55, -46.63),
    "gcp/europe-west1": (50.45, 3.82),
    "gcp/europe-west2": (51.51, -0.13),
    "gcp/europe-west3": (50.11, 8.68),
    "gcp/europe-west4": (53.44, 6.83),
    "gcp/europe-north1": (60.57, 27.19),
    "gcp/asia-northeast1": (35.68, 139.69),
    "gcp/asia-southeast1": (1.35, 103.82),
    "gcp/australia-southeast1": (-33.87, 151.21),
    "gcp/asia-south1": (19.08, 72.88),
    "azure/eastus": (36.67, -78.39),
    "azure/eastus2": (36.67, -78.39),
    "azure/centralus": (41.59, -93.62),
    "azure/westus2": (47.23, -119.85),
    "azure/westus": (37.78, -122.42),
    "azure/canadacentral": (43.65, -79.38),
    "azure/brazilsouth": (-23.55, -46.63),
    "azure/northeurope": (53.35, -6.26),
    "azure/westeurope": (52.37, 4.90),
    "azure/uksouth": (51.51, -0.13),
    "azure/ukwest": (51.48, -3.18),
    "azure/germanywestcentral": (50.11, 8.68),
    "azure/francecentral": (48.86, 2.35),
    "azure/swedencentral": (60.67, 17.14),
    "azure/japaneast": (35.68, 139.69),
    "azure/southeastasia": (1.35, 103.82),
    "azure/australiaeast": (-33.87, 151.21),
    "azure/centralindia": (18.52, 73.86),
}

# RTT ~ intercept + slope x great-circle km, least squares over the published pairs above
# plus IBM's Washington-London 75 ms and Frankfurt-London 13 ms (references §15).
# Residuals: -19 ms (us-east-1 <-> us-west-2, fibre follows the continent) to +9 ms.
# tests/unit/test_network_regions.py refits the line and checks these two numbers.
RTT_FIT_INTERCEPT_MS = 7.3
RTT_FIT_MS_PER_KM = 0.01307

# Unknown regions (on-premises, private clouds): conservative continental round trips.
FALLBACK_RTT_MS = {"cross_region": 70.0, "cross_cloud": 40.0}

# One-way delay shape for table entries: lognormal, median = RTT/2, p99 = TAIL_RATIO x median
# (an assumption: the sources publish medians or bests, not tails).
TAIL_RATIO = 1.5

_GIB = 1.073741824  # GB per GiB
# Egress prices, USD per GB (references §15, secondary summaries of the pricing pages, 2025-26).
# cross_zone: a byte crossing zones of one region; cross_region: between regions of the
# provider; internet: leaving the provider (cross-cloud), first pricing tier.
EGRESS_USD_PER_GB: dict[str, dict[str, float]] = {
    # inter-AZ is $0.01/GB charged on each side, so a byte that crosses costs $0.02
    "aws": {"cross_zone": 0.02, "cross_region": 0.02, "internet": 0.09},
    # inter-zone $0.01/GiB; Premium tier internet to North America $0.12/GiB; inter-region is
    # not in the reference: AWS's $0.02 is assumed
    "gcp": {"cross_zone": 0.01 / _GIB, "cross_region": 0.02, "internet": 0.12 / _GIB},
    # inter-AZ free since 2023; inter-region North America-Europe $0.02; internet ~$0.087
    "azure": {"cross_zone": 0.0, "cross_region": 0.02, "internet": 0.087},
}
# Providers meshsim does not know (onprem, ...) are priced like AWS; give such links an
# egress_cost_per_gb (0 for a data centre paying for its ports rather than per GB).
DEFAULT_PRICES = {"cross_zone": 0.02, "cross_region": 0.02, "internet": 0.09}


def _region(path: str) -> str:
    return "/".join(path.split("/")[:2])


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points in degrees, km (haversine)."""
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def region_rtt_ms(a: str, b: str) -> tuple[float, str] | None:
    """Round trip in ms between the regions of two locations, and where it comes from.

    The source is ``published`` or ``estimated``; None when either region is unknown.
    """
    ra, rb = _region(a), _region(b)
    rtt = REGION_RTT_MS.get(frozenset({ra, rb}))
    if rtt is not None:
        return rtt, "published"
    ma, mb = REGION_METRO.get(ra), REGION_METRO.get(rb)
    if ma is None or mb is None:
        return None
    return RTT_FIT_INTERCEPT_MS + RTT_FIT_MS_PER_KM * distance_km(ma, mb), "estimated"


def _one_way(rtt_ms: float) -> Distribution:
    median = rtt_ms / 2 / 1000.0
    mu, sigma = lognormal_from_quantiles(median, median * TAIL_RATIO)
    return Distribution("lognormal", (("mu", mu), ("sigma", sigma)))


def default_latency(a: str, b: str, rel: str, fallback: bool = True) -> Distribution | None:
    """One-way latency (s) between two locations in different regions or clouds.

    From the table (or the distance estimate); otherwise the continental fallback, or None
    when ``fallback`` is off. Same-zone and cross-zone relations return None:
    ``network.same_zone``/``cross_zone`` apply.
    """
    if rel not in ("cross_region", "cross_cloud"):
        return None
    found = region_rtt_ms(a, b)
    if found is not None:
        return _one_way(found[0])
    if not fallback:
        return None
    return _one_way(FALLBACK_RTT_MS[rel])


def fallback_latency(rel: str) -> Distribution | None:
    """The continental fallback for a cross-region or cross-cloud pair (None otherwise)."""
    rtt = FALLBACK_RTT_MS.get(rel)
    return _one_way(rtt) if rtt is not None else None


def egress_price_per_gb(a: str, b: str, rel: str) -> float:
    """USD per GB for bytes sent from ``a`` to ``b``: the sending provider's price."""
    if rel == "same_zone":
        return 0.0
    prices = EGRESS_USD_PER_GB.get(a.split("/")[0], DEFAULT_PRICES)
    if rel == "cross_cloud":
        return prices["internet"]
    return prices.get(rel, 0.0)
