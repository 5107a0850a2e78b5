"""What one hop costs on this machine, measured at the start of every live run.

Each live run starts one extra, idle backend (no service time, no errors) with its own
Traefik route. Before the scenario's traffic starts, requests arrive open-loop at the
scenario's peak rate (so the machine is as busy with HTTP as in the run itself), first
straight to that backend, then through Traefik. Half a direct round trip is the one-way
loopback latency, HTTP stacks included; a proxied round trip minus the median direct one is
Traefik's overhead per traversal. The samples of every run are pooled, and the prediction
uses them in place of the scenario's network and ``mesh.proxy_overhead`` (and says so).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import ClientSession, ClientTimeout

from meshsim.lab._protocol import host_of

__all__ = ["CALIBRATION_RATE_PER_S", "Calibration", "measure_round_trips", "pooled"]

#: Calibration requests are sent at the scenario's peak rate, kept within these bounds (per second).
CALIBRATION_RATE_PER_S = (20.0, 1000.0)
_REQUEST_S = 5.0


@dataclass
class Calibration:
    """Loopback round trips (seconds) measured at ``rate_per_s``."""

    direct_rtt_s: list[float]
    proxied_rtt_s: list[float]
    rate_per_s: float

    @property
    def one_way_s(self) -> list[float]:
        """One-way loopback latency samples: half of each direct round trip (HTTP stacks included)."""
        return [x / 2.0 for x in self.direct_rtt_s]

    @property
    def overhead_s(self) -> list[float]:
        """Traefik's cost per traversal: each proxied round trip minus the median direct one (floored at 0)."""
        med = float(np.median(self.direct_rtt_s))
        return [max(0.0, x - med) for x in self.proxied_rtt_s]

    def summary(self) -> dict[str, Any]:
        """Medians and 99th percentiles in milliseconds, the sample count and the rate."""

        def q(xs: list[float], p: float) -> float:
            return round(float(np.quantile(xs, p)) * 1e3, 4)

        return {
            "samples": len(self.direct_rtt_s),
            "rate_per_s": self.rate_per_s,
            "direct_rtt_ms": {"p50": q(self.direct_rtt_s, 0.5), "p99": q(self.direct_rtt_s, 0.99)},
            "proxied_rtt_ms": {"p50": q(self.proxied_rtt_s, 0.5), "p99": q(self.proxied_rtt_s, 0.99)},
            "one_way_ms": {"p50": q(self.one_way_s, 0.5), "p99": q(self.one_way_s, 0.99)},
            "proxy_overhead_ms": {"p50": q(self.overhead_s, 0.5), "p99": q(self.overhead_s, 0.99)},
        }


def pooled(parts: Sequence[Calibration]) -> Calibration:
    """The samples of several calibrations together."""
    return Calibration(
        [x for c in parts for x in c.direct_rtt_s],
        [x for c in parts for x in c.proxied_rtt_s],
        parts[0].rate_per_s if parts else 0.0,
    )


async def _phase(session: ClientSession, url: str, host: str, rate: float, count: int) -> list[float]:
    """``count`` requests sent every 1/``rate`` s whatever the answers; their round trips."""
    loop = asyncio.get_running_loop()
    headers = {"Host": host}
    out: list[float] = []

    async def one() -> None:
        t = loop.time()
        async with session.get(url, headers=headers, timeout=ClientTimeout(total=_REQUEST_S)) as resp:
            await resp.read()
        out.append(loop.time() - t)

    start = loop.time()
    tasks = []
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return out


async def measure_round_trips(
    session: ClientSession, direct_url: str, proxied_url: str, route: str, rate_per_s: float, samples: int
) -> Calibration:
    """``samples`` round trips straight to the idle backend, then as many through Traefik's ``route``.

    Each phase starts with a fifth as many unrecorded requests (at least 20) to warm the connections.
    """
    low, high = CALIBRATION_RATE_PER_S
    rate = min(high, max(low, rate_per_s))
    host = host_of(route)
    warm = max(20, samples // 5)
    await _phase(session, direct_url, host, rate, warm)
    direct = await _phase(session, direct_url, host, rate, samples)
    await _phase(session, proxied_url, host, rate, warm)
    proxied = await _phase(session, proxied_url, host, rate, samples)
    return Calibration(direct, proxied, rate)
