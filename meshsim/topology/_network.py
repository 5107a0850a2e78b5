"""The network between locations: one-way latency, bandwidth, loss and egress prices.

Locations are paths ``cloud/region/zone`` (a workload origin may stop at the region or
cloud). The latency of a pair comes from, in order: an explicit ``network.links`` entry
(the most specific match wins), the user's relation default (``same_zone``, ``cross_zone``,
``cross_region``, ``cross_cloud``), the built-in region table (:mod:`.regions`), then a
continental fallback. Faults add latency to links or locations and cut paths (partitions).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from meshsim.distributions import Distribution, constant, uniform_sampler
from meshsim.scenario import Link, Scenario
from meshsim.topology._regions import default_latency, egress_price_per_gb, fallback_latency

__all__ = ["MSS_BYTES", "TCP_MIN_RTO_S", "LinkDelay", "NetworkModel", "Path", "relation", "under"]

TCP_MIN_RTO_S = 0.2  # Linux's minimum retransmission timeout (RFC 6298 says 1 s; Linux uses 200 ms)
MSS_BYTES = 1448  # TCP payload per segment on a 1500-byte MTU with timestamps
_MAX_BACKOFFS = 15  # Linux tcp_retries2: a connection gives up after ~15 retransmissions


def relation(a: str | None, b: str | None) -> str:
    """``same_zone``, ``cross_zone``, ``cross_region`` or ``cross_cloud`` for two location paths."""
    if a is None or b is None:
        return "same_zone"
    pa, pb = a.split("/"), b.split("/")
    if pa[0] != pb[0]:
        return "cross_cloud"
    if len(pa) < 2 or len(pb) < 2:
        return "cross_zone"
    if pa[1] != pb[1]:
        return "cross_region"
    if len(pa) < 3 or len(pb) < 3 or pa[2] != pb[2]:
        return "cross_zone"
    return "same_zone"


def under(loc: str, prefix: str) -> bool:
    """True when location ``loc`` is ``prefix`` or inside it (``*`` matches everything)."""
    return prefix == "*" or loc == prefix or loc.startswith(prefix + "/")


_under = under


def _between(a: str, b: str, x: str, y: str) -> bool:
    return (under(a, x) and under(b, y)) or (under(a, y) and under(b, x))


@dataclass
class Path:
    """Everything about one direction between two locations (seconds, bytes/s, USD/GB)."""

    relation: str
    latency: Callable[[], float]
    zero: bool
    bytes_per_s: float | None
    loss: float
    price_per_gb: float  # bytes sent from the first location to the second
    link: Link | None
    back_price_per_gb: float = 0.0  # bytes coming back (the other side's provider prices them)


@dataclass
class LinkDelay:
    """Latency a fault adds: between two prefixes (both ways), or into one location (``to_only``)."""

    a: str
    b: str
    sampler: Callable[[], float]
    to_only: bool = False

    def applies(self, src: str, dst: str) -> bool:
        if self.to_only:
            return under(dst, self.a)
        return _between(src, dst, self.a, self.b)


class NetworkModel:
    """Samples one-way delays; caches one :class:`Path` per pair of locations."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator) -> None:
        self.scenario = scenario
        self._rng = rng
        self._uniform = uniform_sampler(rng)
        net = scenario.network
        self._dists: dict[str, Distribution | None] = {
            "same_zone": net.same_zone.build(),
            "cross_zone": net.cross_zone.build(),
            "cross_region": net.cross_region.build() if net.cross_region else None,
            "cross_cloud": net.cross_cloud.build() if net.cross_cloud else None,
        }
        self._table = getattr(net, "use_region_table", True)
        self._paths: dict[tuple[str | None, str | None], Path] = {}
        # fault state: location-prefix pairs that are cut, and added latency
        self.partitions: list[tuple[str, str]] = []
        self.extra: list[LinkDelay] = []
        # same-zone traffic takes no time and crosses no link that could add bandwidth or loss:
        # lets the engine skip the network entirely
        self.quiet = bool(self._dists["same_zone"] is not None and self._dists["same_zone"].is_zero) and not any(
            under(link.between[0], link.between[1]) or under(link.between[1], link.between[0]) for link in net.links
        )

    def _link(self, a: str, b: str) -> Link | None:
        best, best_len = None, -1
        for link in self.scenario.network.links:
            x, y = link.between
            if _between(a, b, x, y):
                specificity = len(x) + len(y)
                if specificity > best_len:
                    best, best_len = link, specificity
        return best

    def path(self, a: str | None, b: str | None) -> Path:
        """The path from ``a`` to ``b`` (None = right next to the other end)."""
        key = (a, b)
        p = self._paths.get(key)
        if p is None:
            p = self._paths[key] = self._build(a, b)
        return p

    def latency_distribution(self, a: str | None, b: str | None) -> Distribution:
        """The one-way latency distribution between two locations (before faults)."""
        rel = relation(a, b)
        link = self._link(a, b) if a and b else None
        if link is not None and link.latency is not None:
            return link.latency.build()
        dist = self._dists.get(rel)  # cross_region/cross_cloud are None unless the file sets them
        if dist is None and a and b:
            dist = default_latency(a, b, rel) if self._table else fallback_latency(rel)
        return dist if dist is not None else constant(0.0)

    def price(self, a: str | None, b: str | None) -> float:
        """USD per GB for bytes sent from ``a`` to ``b`` (a link's price applies both ways)."""
        rel = relation(a, b)
        if not a or not b or rel == "same_zone":
            return 0.0
        if rel == "cross_zone" and (a.count("/") < 2 or b.count("/") < 2):
            return 0.0  # an origin given as a region has no zone: no zone boundary is known to be crossed
        link = self._link(a, b)
        if link is not None and link.egress_cost_per_gb is not None:
            return link.egress_cost_per_gb
        return egress_price_per_gb(a, b, rel)

    def _build(self, a: str | None, b: str | None) -> Path:
        rel = relation(a, b)
        link = self._link(a, b) if a and b else None
        dist = self.latency_distribution(a, b)
        return Path(
            relation=rel,
            latency=dist.sampler(self._rng),
            zero=dist.is_zero,
            bytes_per_s=link.bandwidth if link is not None else None,
            loss=link.loss if link is not None else 0.0,
            price_per_gb=self.price(a, b),
            link=link,
            back_price_per_gb=self.price(b, a),
        )

    def delay(self, path: Path, size_bytes: int) -> float:
        """One-way delay in seconds for a message of ``size_bytes`` on ``path``.

        Latency, plus size / bandwidth (no queueing on the link), plus retransmissions: each
        of the message's ceil(size / 1448) segments is lost with probability ``loss``; a loss
        costs one RTO (200 ms + the round trip, as Linux computes it for a quiet path) and
        each further loss of the retransmission doubles it. Loss adds delay, not failure.
        """
        lat = 0.0 if path.zero else path.latency()
        d = lat
        if path.bytes_per_s:
            d += size_bytes / path.bytes_per_s
        loss = path.loss
        if loss > 0.0:
            segments = max(1, math.ceil(size_bytes / MSS_BYTES))
            p_any = 1.0 - (1.0 - loss) ** segments
            if self._uniform() < p_any:
                rto = TCP_MIN_RTO_S + 2 * lat
                d += rto
                for _ in range(_MAX_BACKOFFS):
                    if self._uniform() >= loss:
                        break
                    rto *= 2
                    d += rto
        return d

    def extra_delay(self, a: str | None, b: str | None) -> float:
        """Latency added by active latency faults to a message from ``a`` to ``b``."""
        if not self.extra or a is None or b is None:
            return 0.0
        total = 0.0
        for entry in self.extra:
            if entry.applies(a, b):
                total += entry.sampler()
        return total

    def cut(self, a: str | None, b: str | None) -> bool:
        """True when an active partition black-holes traffic between ``a`` and ``b``."""
        if not self.partitions or a is None or b is None:
            return False
        return any(_between(a, b, x, y) for x, y in self.partitions)

    # ----- fault hooks (used by meshsim.engine._faults) -----
    def add_partition(self, x: str, y: str) -> tuple[str, str]:
        """Black-hole traffic between prefixes ``x`` and ``y``; returns the handle to remove."""
        entry = (x, y)
        self.partitions.append(entry)
        return entry

    def remove_partition(self, entry: tuple[str, str]) -> None:
        self.partitions.remove(entry)

    def add_delay(self, entry: LinkDelay) -> LinkDelay:
        self.extra.append(entry)
        return entry

    def remove_delay(self, entry: LinkDelay) -> None:
        self.extra.remove(entry)
