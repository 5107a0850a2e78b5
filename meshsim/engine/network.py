"""The network between locations: one-way latency, bandwidth, loss and egress prices.

Locations are paths ``cloud/region/zone`` (a workload origin may stop at the
region or cloud). The relation of two locations picks a latency distribution
(same zone, cross zone, cross region, cross cloud); an explicit link between
two location prefixes overrides it, and faults can add latency or cut a path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..distributions import Distribution, Sampler, UniformSource, constant
from ..scenario.models import Link, Scenario
from .regions import default_latency, egress_price_per_gb

__all__ = ["NetworkModel", "Path", "relation"]

TCP_MIN_RTO_S = 0.2  # Linux's minimum retransmission timeout (RFC 6298 allows 1 s; Linux uses 200 ms)


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


def _under(loc: str, prefix: str) -> bool:
    return loc == prefix or loc.startswith(prefix + "/")


@dataclass
class Path:
    """Everything about one direction between two locations."""

    relation: str
    latency: Callable[[], float]
    zero: bool
    bytes_per_s: float | None
    loss: float
    price_per_gb: float
    link: Link | None


class NetworkModel:
    """Samples one-way delays; caches one :class:`Path` per pair of locations."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator) -> None:
        self.scenario = scenario
        self._rng = rng
        self._uniform = UniformSource(rng)
        net = scenario.network
        self._dists: dict[str, Distribution | None] = {
            "same_zone": net.same_zone.build(),
            "cross_zone": net.cross_zone.build(),
            "cross_region": net.cross_region.build() if net.cross_region else None,
            "cross_cloud": net.cross_cloud.build() if net.cross_cloud else None,
        }
        self._paths: dict[tuple[str | None, str | None], Path] = {}
        # fault state: location-prefix pairs that are cut, and added latency
        self.partitions: list[tuple[str, str]] = []
        self.extra: list[tuple[str, str, Sampler]] = []
        # same-zone traffic costs nothing and takes no time: lets the engine skip the network
        self.quiet = self._dists["same_zone"].is_zero if self._dists["same_zone"] else False

    def _link(self, a: str, b: str) -> Link | None:
        best, best_len = None, -1
        for link in self.scenario.network.links:
            x, y = link.between
            if (_under(a, x) and _under(b, y)) or (_under(a, y) and _under(b, x)):
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

    def _build(self, a: str | None, b: str | None) -> Path:
        rel = relation(a, b)
        link = self._link(a, b) if a and b else None
        dist: Distribution | None = None
        if link is not None and link.latency is not None:
            dist = link.latency.build()
        if dist is None:
            dist = self._dists.get(rel)
        if dist is None and a and b:
            dist = default_latency(a, b, rel)
        if dist is None:
            dist = constant(0.0)
        sampler = dist.sampler(self._rng)
        price = 0.0
        if a and b and rel != "same_zone":
            price = egress_price_per_gb(a, b, rel)
            if link is not None and link.egress_cost_per_gb is not None:
                price = link.egress_cost_per_gb
        return Path(
            relation=rel,
            latency=sampler,
            zero=dist.is_zero,
            bytes_per_s=link.bandwidth if link is not None else None,
            loss=link.loss if link is not None else 0.0,
            price_per_gb=price,
            link=link,
        )

    def delay(self, path: Path, size_bytes: int) -> float:
        """One-way delay in seconds for a message of ``size_bytes`` on ``path``."""
        d = 0.0 if path.zero else path.latency()
        if path.bytes_per_s:
            d += size_bytes / path.bytes_per_s
        if path.loss > 0.0:
            # a lost packet is retransmitted after the RTO, which doubles on
            # each repeated loss: loss adds delay, not failure
            rto = TCP_MIN_RTO_S
            while self._uniform() < path.loss:
                d += rto
                rto *= 2
        return d

    def extra_delay(self, a: str | None, b: str | None) -> float:
        """Latency added by active link faults between ``a`` and ``b``."""
        if not self.extra or a is None or b is None:
            return 0.0
        total = 0.0
        for x, y, sampler in self.extra:
            if (_under(a, x) and _under(b, y)) or (_under(a, y) and _under(b, x)):
                total += sampler()
        return total

    def cut(self, a: str | None, b: str | None) -> bool:
        """True when an active partition black-holes traffic between ``a`` and ``b``."""
        if not self.partitions or a is None or b is None:
            return False
        for x, y in self.partitions:
            if (_under(a, x) and _under(b, y)) or (_under(a, y) and _under(b, x)):
                return True
        return False


_ = math
