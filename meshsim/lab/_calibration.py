"""What one hop costs on this machine, measured before the live runs.

One idle backend (no service time) and a Traefik in front of it. Requests arrive open-loop at
the scenario's peak rate (so the machine is as busy with HTTP as in the live runs), first
straight to the backend, then through Traefik. Half a direct round trip is the one-way
loopback latency, HTTP stacks included; a proxied round trip minus the median direct one is
Traefik's overhead per traversal. The prediction uses both in place of the scenario's
network and ``mesh.proxy_overhead`` (and says so).
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector

from meshsim.lab._processes import Supervisor, free_ports
from meshsim.lab._protocol import BackendConfig, host_of
from meshsim.lab._traefik import LabError, static_args
from meshsim.yamlio import dump_yaml

__all__ = ["Calibration", "calibrate_loopback"]

_READY_S = 30.0
_REQUEST_S = 5.0
_MIN_RATE, _MAX_RATE = 20.0, 1000.0


@dataclass
class Calibration:
    """Loopback round trips measured before the live runs (seconds), at ``rate_per_s``."""

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


def _backend_config(workdir: Path, port: int, web: int) -> Path:
    samples = workdir / "calibration.f64"
    np.zeros(1, dtype=np.float64).tofile(samples)
    cfg = BackendConfig(
        name="calibration",
        port=port,
        traefik_url=f"http://127.0.0.1:{web}",
        samples_file=str(samples),
        seed=0,
        max_lifetime_s=600.0,
        concurrency=64,
    )
    return cfg.write(workdir / "calibration.json")


def _dynamic(port: int) -> dict[str, Any]:
    return {
        "http": {
            "routers": {
                "calibration": {
                    "rule": f"Host(`{host_of('calibration')}`)",
                    "entryPoints": ["web"],
                    "service": "calibration",
                }
            },
            "services": {"calibration": {"loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{port}"}]}}},
        }
    }


async def _until_ok(session: ClientSession, url: str, sup: Supervisor, name: str, deadline: float) -> None:
    headers = {"Host": host_of("calibration")}
    while True:
        if not sup.alive(name):
            raise LabError(f"{name} exited during calibration:\n{sup.log_tail(name)}")
        try:
            async with session.get(url, headers=headers, timeout=ClientTimeout(total=_REQUEST_S)) as resp:
                await resp.read()
                if resp.status == 200:
                    return
        except (ClientError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise LabError(f"{name} did not answer within {_READY_S:g} s during calibration")
        await asyncio.sleep(0.05)


async def _phase(session: ClientSession, url: str, rate: float, count: int) -> list[float]:
    """``count`` requests sent every 1/``rate`` s whatever the answers; their round trips."""
    loop = asyncio.get_running_loop()
    headers = {"Host": host_of("calibration")}
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


async def _calibrate(traefik: str, workdir: Path, samples: int, rate: float) -> Calibration:
    with Supervisor(workdir) as sup:
        web, admin, port = free_ports(3)
        sup.start(
            "calibration", [sys.executable, "-m", "meshsim.lab._backend", str(_backend_config(workdir, port, web))]
        )
        dyn_file = workdir / "calibration-dynamic.yaml"
        dyn_file.write_text(dump_yaml(_dynamic(port)), encoding="utf-8")
        sup.start("traefik", static_args(traefik, web, admin, dyn_file))
        direct, proxied = f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{web}/"
        deadline = time.monotonic() + _READY_S
        async with ClientSession(connector=TCPConnector(limit=0)) as session:
            await _until_ok(session, direct, sup, "calibration", deadline)
            await _until_ok(session, proxied, sup, "traefik", deadline)
            warm = max(20, samples // 5)
            await _phase(session, direct, rate, warm)
            direct_rtt = await _phase(session, direct, rate, samples)
            await _phase(session, proxied, rate, warm)
            proxied_rtt = await _phase(session, proxied, rate, samples)
    return Calibration(direct_rtt, proxied_rtt, rate)


def calibrate_loopback(traefik: str, workdir: Path, samples: int, rate_per_s: float) -> Calibration:
    """Measure ``samples`` direct and proxied round trips to an idle backend, sent at ``rate_per_s``.

    The rate is kept between 20/s and 1000/s; each phase takes about ``samples / rate`` s.
    """
    rate = min(_MAX_RATE, max(_MIN_RATE, rate_per_s))
    cdir = workdir / "calibration"
    cdir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_calibrate(traefik, cdir, samples, rate))
