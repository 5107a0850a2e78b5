"""Load balancers: one-method objects that pick an endpoint among healthy candidates.

Each caller proxy has its own balancer per destination, as every Envoy or
linkerd2-proxy does; ``stats`` is that proxy's per-endpoint view.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Callable, Sequence

from meshsim.engine._policies import EndpointStats, LoadBalancer
from meshsim.scenario import LoadBalancerSpec

__all__ = ["LeastRequest", "PeakEwma", "RandomPick", "RingHash", "RoundRobin", "make_balancer"]

Uniform = Callable[[], float]


class RoundRobin:
    """Envoy ROUND_ROBIN (equal weights)."""

    __slots__ = ("_next",)

    def __init__(self, uniform: Uniform) -> None:
        self._next = int(uniform() * 1_000_003)  # Envoy starts each proxy at a random offset

    def choose(self, candidates: Sequence[int], stats: EndpointStats, now_s: float, key: int) -> int:
        i = self._next
        self._next = i + 1
        return candidates[i % len(candidates)]


class RandomPick:
    """Envoy RANDOM."""

    __slots__ = ("_u",)

    def __init__(self, uniform: Uniform) -> None:
        self._u = uniform

    def choose(self, candidates: Sequence[int], stats: EndpointStats, now_s: float, key: int) -> int:
        return candidates[int(self._u() * len(candidates))]


class LeastRequest:
    """Envoy LEAST_REQUEST with equal weights: best of ``choice_count`` random picks (P2C)."""

    __slots__ = ("_u", "_k")

    def __init__(self, uniform: Uniform, choice_count: int = 2) -> None:
        self._u = uniform
        self._k = choice_count

    def choose(self, candidates: Sequence[int], stats: EndpointStats, now_s: float, key: int) -> int:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        active = stats.active
        best = candidates[int(self._u() * n)]
        for _ in range(self._k - 1):
            other = candidates[int(self._u() * n)]
            if active[other] < active[best]:
                best = other
        return best


class PeakEwma:
    """Linkerd's P2C over peak-EWMA cost: rtt_estimate x (pending + 1), tower semantics [L8, L9]."""

    __slots__ = ("_u", "default_rtt_s", "decay_s")

    def __init__(self, uniform: Uniform, default_rtt_s: float, decay_s: float) -> None:
        self._u = uniform
        self.default_rtt_s = default_rtt_s
        self.decay_s = decay_s

    def cost(self, i: int, stats: EndpointStats, now_s: float) -> float:
        est = stats.rtt_estimate_s[i]
        if est < 0:
            est = self.default_rtt_s
        else:
            # reading the load decays the estimate toward zero (tower's decay())
            est *= math.exp(-(now_s - stats.rtt_stamp_s[i]) / self.decay_s)
        return est * (stats.active[i] + 1)

    def choose(self, candidates: Sequence[int], stats: EndpointStats, now_s: float, key: int) -> int:
        n = len(candidates)
        if n == 1:
            return candidates[0]
        a = int(self._u() * n)
        b = int(self._u() * (n - 1))
        if b >= a:
            b += 1  # two distinct endpoints
        ia, ib = candidates[a], candidates[b]
        return ia if self.cost(ia, stats, now_s) <= self.cost(ib, stats, now_s) else ib

    def observe(self, i: int, rtt_s: float, stats: EndpointStats, now_s: float) -> None:
        """Fold one response time into endpoint ``i``'s estimate (peak: jump up, decay down)."""
        est = stats.rtt_estimate_s[i]
        if est < 0 or rtt_s > est:
            stats.rtt_estimate_s[i] = rtt_s
        else:
            decay = math.exp(-(now_s - stats.rtt_stamp_s[i]) / self.decay_s)
            stats.rtt_estimate_s[i] = est * decay + rtt_s * (1 - decay)
        stats.rtt_stamp_s[i] = now_s


class RingHash:
    """Envoy RING_HASH: consistent hashing of the request key over the candidates.

    The ring has at least 1,024 entries, Envoy's default minimum_ring_size, shared by the hosts.
    """

    MIN_RING_SIZE = 1024

    def __init__(self) -> None:
        self._rings: dict[tuple[int, ...], tuple[list[int], list[int]]] = {}

    def _ring(self, candidates: Sequence[int]) -> tuple[list[int], list[int]]:
        sig = tuple(candidates)
        ring = self._rings.get(sig)
        if ring is None:
            per_host = -(-self.MIN_RING_SIZE // len(candidates))
            points = sorted((zlib.crc32(f"{c}-{v}".encode()), c) for c in candidates for v in range(per_host))
            ring = ([p for p, _ in points], [c for _, c in points])
            if len(self._rings) > 256:
                self._rings.clear()
            self._rings[sig] = ring
        return ring

    def choose(self, candidates: Sequence[int], stats: EndpointStats, now_s: float, key: int) -> int:
        hashes, owners = self._ring(candidates)
        h = zlib.crc32(key.to_bytes(8, "little"))
        i = bisect.bisect_left(hashes, h)
        return owners[i % len(owners)]


def make_balancer(spec: LoadBalancerSpec, uniform: Uniform) -> LoadBalancer:
    """Build the balancer a policy names."""
    if spec.kind == "round_robin":
        return RoundRobin(uniform)
    if spec.kind == "random":
        return RandomPick(uniform)
    if spec.kind == "least_request":
        return LeastRequest(uniform, spec.choice_count)
    if spec.kind == "ewma":
        return PeakEwma(uniform, spec.default_rtt, spec.decay)
    if spec.kind == "ring_hash":
        return RingHash()
    raise ValueError(spec.kind)
