"""One live run on loopback: backends, Traefik, arrivals, the fault timeline, and what they measured.

:func:`live_replication` starts one backend process per replica and a fresh Traefik, waits
until every router is up, drives the workloads for warm-up plus duration, switches the
faults on the real processes (a crash kills a backend and starts it again at ``restart``;
the lab's control plane removes it from Traefik's file after ``mesh.discovery_delay`` and adds
it back once it answers), reads Traefik's per-try counter at the end of the warm-up and at
the end, collects every backend's counters, and stops every process it started.

Every wait is bounded: start-up, readiness, control requests, the run itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector

from meshsim.lab._calibration import Calibration, measure_round_trips
from meshsim.lab._loadgen import WorkloadTally, drive
from meshsim.lab._plan import BackendSpec, FaultPlan, LabPlan
from meshsim.lab._processes import Supervisor, free_ports
from meshsim.lab._protocol import ADMIN_PREFIX, BackendConfig
from meshsim.lab._traefik import LabError, dynamic_config, static_args, tries_by_service
from meshsim.rng import Streams
from meshsim.yamlio import dump_yaml

__all__ = ["LiveReplication", "live_replication"]

_READY_S = 30.0  # start-up of every process, seconds
_CONTROL_S = 2.0  # one control request, seconds
_LEAD_S = 0.3  # from "all ready" to the first arrival, seconds
_SAMPLES_MIN, _SAMPLES_MAX = 4_096, 200_000  # service times drawn in advance per backend


@dataclass
class LiveReplication:
    """What one live run measured in its window (warm-up dropped)."""

    replication: int
    measured_s: float
    workloads: dict[str, WorkloadTally]
    tries: dict[str, float]
    proxy_rejections: dict[str, int]
    backends: dict[str, dict[str, Any]]
    calibration: Calibration
    tries_requests: int  # end-user requests between the per-try counter's two readings (its denominator)
    events: list[dict[str, Any]] = field(default_factory=list)

    def attempts(self, service: str) -> float:
        """Tries to ``service``: Traefik's per-try counter plus its breaker's refusals (meshsim counts both)."""
        return self.tries.get(service, 0.0) + self.proxy_rejections.get(service, 0)


class _Run:
    """State of one live run: processes, ports, the control plane's view, counters of dead backends."""

    def __init__(self, plan: LabPlan, traefik: str, workdir: Path, streams: Streams, sup: Supervisor) -> None:
        self.plan = plan
        self.traefik = traefik
        self.workdir = workdir
        self.streams = streams
        self.sup = sup
        self.specs = {b.name: b for b in plan.backends}
        ports = free_ports(len(plan.backends) + 3)
        self.web_port, self.admin_port, self.calibration_port = ports[0], ports[1], ports[2]
        self.ports = {b.name: p for b, p in zip(plan.backends, ports[3:])}
        # the idle calibration backend's route and process name, apart from the scenario's names
        taken = set(plan.routes) | set(self.ports)
        self.calibration_route = "lab-calibration"
        while self.calibration_route in taken:
            self.calibration_route += "-lab"
        self.removed: set[str] = set()
        self.dead_stats: dict[str, list[dict[str, Any]]] = {}
        self.active_faults: dict[int, tuple[FaultPlan, dict[str, Any]]] = {}
        self.incarnation: dict[str, int] = {}
        self.events: list[dict[str, Any]] = []
        self.window = (0.0, 0.0)
        self.t0 = 0.0
        self.session: ClientSession | None = None
        self.dynamic_file = workdir / "dynamic.yaml"

    # ----- files -----
    def write_dynamic(self) -> None:
        """Rewrite Traefik's dynamic file whole (an atomic rename, so the watcher never reads half)."""
        config = dynamic_config(
            self.plan, self.ports, frozenset(self.removed), (self.calibration_route, self.calibration_port)
        )
        text = dump_yaml(config)
        tmp = self.workdir / "dynamic.yaml.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.dynamic_file)

    def backend_config(self, b: BackendSpec) -> Path:
        n = self.incarnation.get(b.name, 0)
        self.incarnation[b.name] = n + 1
        rng = self.streams.get(f"lab/backend/{b.name}/{n}")
        count = int(min(_SAMPLES_MAX, max(_SAMPLES_MIN, 2 * self.plan.expected_requests())))
        samples = np.asarray(b.service_time.build().draw(rng, count), dtype=np.float64)
        sample_file = self.workdir / f"{b.name}.{n}.f64"
        samples.tofile(sample_file)
        breakers = [s for s, r in self.plan.routes.items() if r.breaker is not None]
        cfg = BackendConfig(
            name=b.name,
            port=self.ports[b.name],
            traefik_url=f"http://127.0.0.1:{self.web_port}",
            samples_file=str(sample_file),
            seed=int(rng.integers(2**62)),
            max_lifetime_s=self.plan.horizon_s + 600.0,
            concurrency=b.concurrency,
            queue_limit=b.queue_limit,
            holds_worker=b.holds_worker,
            contention_s=b.contention_s,
            error_codes=[[code, p] for code, p in b.error_codes],
            calls=list(b.calls),
            breaker_targets=breakers,
            cancel_on_timeout=b.cancel_on_timeout,
            response_bytes=b.response_bytes,
        )
        return cfg.write(self.workdir / f"{b.name}.{n}.json")

    # ----- processes -----
    def start_calibration_backend(self) -> None:
        """The idle backend of the calibration: no service time, no errors, no calls."""
        samples = self.workdir / "calibration.f64"
        np.zeros(1, dtype=np.float64).tofile(samples)
        cfg = BackendConfig(
            name=self.calibration_route,
            port=self.calibration_port,
            traefik_url=f"http://127.0.0.1:{self.web_port}",
            samples_file=str(samples),
            seed=0,
            max_lifetime_s=self.plan.horizon_s + 600.0,
            concurrency=64,
        )
        path = cfg.write(self.workdir / "calibration.json")
        self.sup.start(self.calibration_route, [sys.executable, "-m", "meshsim.lab._backend", str(path)])

    def start_backend(self, b: BackendSpec) -> None:
        cfg = self.backend_config(b)
        self.sup.start(b.name, [sys.executable, "-m", "meshsim.lab._backend", str(cfg)])

    def start_traefik(self) -> None:
        self.write_dynamic()
        self.sup.start("traefik", static_args(self.traefik, self.web_port, self.admin_port, self.dynamic_file))

    def port_of(self, name: str) -> int:
        return self.calibration_port if name == self.calibration_route else self.ports[name]

    async def control(self, name: str, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One control request to backend ``name`` (bounded); returns its JSON answer."""
        assert self.session is not None
        url = f"http://127.0.0.1:{self.port_of(name)}{ADMIN_PREFIX}{what}"
        timeout = ClientTimeout(total=_CONTROL_S)
        if body is None:
            async with self.session.get(url, timeout=timeout) as resp:
                data: dict[str, Any] = await resp.json()
        else:
            async with self.session.post(url, json=body, timeout=timeout) as resp:
                data = await resp.json()
        return data

    async def must_control(self, name: str, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """:meth:`control`, where no answer stops the run with a :class:`LabError`."""
        try:
            return await self.control(name, what, body)
        except (ClientError, TimeoutError, OSError, ValueError) as exc:
            raise LabError(f"backend {name} did not answer the lab's {what} request: {exc!r}") from None

    async def metrics(self) -> dict[str, float]:
        """Traefik's per-try counters now (a :class:`LabError` when it does not answer)."""
        try:
            text = await self.admin_get("/metrics")
        except (ClientError, TimeoutError, OSError) as exc:
            raise LabError(f"Traefik did not answer the lab's metrics request: {exc!r}") from None
        return tries_by_service(str(text), self.plan)

    async def wait_backend(self, name: str, deadline: float) -> None:
        while True:
            if not self.sup.alive(name):
                raise LabError(f"backend {name} exited at start-up:\n{self.sup.log_tail(name)}")
            try:
                await self.control(name, "ready")
                return
            except (TimeoutError, ClientError, OSError):
                if time.monotonic() > deadline:
                    raise LabError(f"backend {name} did not answer within {_READY_S:g} s") from None
                await asyncio.sleep(0.05)

    async def admin_get(self, path: str) -> Any:
        assert self.session is not None
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        async with self.session.get(url, timeout=ClientTimeout(total=_CONTROL_S)) as resp:
            if path.startswith("/api/"):
                return await resp.json()
            return await resp.text()

    async def wait_traefik(self, deadline: float) -> None:
        """Wait until Traefik answers and serves every router of the plan, enabled and error-free."""
        want = {f"{name}@file" for name in [*self.plan.routes, self.calibration_route]}
        while True:
            if not self.sup.alive("traefik"):
                raise LabError(f"Traefik exited at start-up:\n{self.sup.log_tail('traefik')}")
            try:
                routers = await self.admin_get("/api/http/routers")
                services = await self.admin_get("/api/http/services")
                errors = [
                    f"{item['name']}: {'; '.join(item.get('error') or [])}"
                    for item in list(routers) + list(services)
                    if item.get("error")
                ]
                if errors:
                    raise LabError("Traefik refused the lab's configuration: " + " | ".join(errors))
                have = {r["name"] for r in routers if r.get("status") == "enabled"}
                if want <= have:
                    return
            except (TimeoutError, ClientError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise LabError(f"Traefik did not serve the lab's routers within {_READY_S:g} s")
            await asyncio.sleep(0.05)

    # ----- faults and the control plane -----
    def event(self, kind: str, **data: Any) -> None:
        loop = asyncio.get_running_loop()
        self.events.append({"t_s": round(loop.time() - self.t0, 4), "kind": kind, **data})

    async def at(self, offset_s: float) -> None:
        delay = self.t0 + offset_s - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def crash(self, f: FaultPlan) -> None:
        await self.at(f.at_s)
        up = [n for n in f.backends if self.sup.alive(n)]
        rng = self.streams.get(f"lab/faults/{f.index}")
        k = min(f.instances, len(up))
        picks = sorted(rng.choice(len(up), size=k, replace=False).tolist()) if k else []
        hit = [up[i] for i in picks]
        for name in hit:
            try:
                stats = await self.control(name, "stats")
                self.dead_stats.setdefault(name, []).append(stats)
            except (TimeoutError, ClientError, OSError, ValueError):
                pass
            self.sup.kill(name)
        self.event("crash", fault=f.index, backends=hit)
        restart_at = f.at_s + (f.length_s or 0.0)
        forget = [asyncio.create_task(self.forget_later(name, f.at_s + self.plan.discovery_delay_s)) for name in hit]
        try:
            await self.at(restart_at)
            if restart_at < self.plan.horizon_s:
                await asyncio.gather(*(self.restart(name) for name in hit))
        finally:
            for task in forget:
                task.cancel()
            await asyncio.gather(*forget, return_exceptions=True)

    async def forget_later(self, name: str, offset_s: float) -> None:
        await self.at(offset_s)
        if not self.sup.alive(name) and name not in self.removed:
            self.removed.add(name)
            self.write_dynamic()
            self.event("endpoint_removed", backend=name)

    async def restart(self, name: str) -> None:
        self.start_backend(self.specs[name])
        await self.wait_backend(name, time.monotonic() + _READY_S)
        await self.must_control(name, "window", {"from": self.window[0], "until": self.window[1]})
        for fid, (f, body) in sorted(self.active_faults.items()):
            if name in f.backends:
                await self.must_control(name, "fault", {**body, "id": fid, "on": True})
        self.event("restart", backend=name)
        if name in self.removed:
            self.removed.discard(name)
            self.write_dynamic()
            self.event("endpoint_added", backend=name)

    async def switch(self, f: FaultPlan) -> None:
        """A fault switched inside its backends: errors, latency, degrade."""
        body: dict[str, Any] = {"error_rate": f.error_rate, "factor": f.factor}
        if f.add is not None:
            rng = self.streams.get(f"lab/faults/{f.index}")
            path = self.workdir / f"fault{f.index}.f64"
            np.asarray(f.add.build().draw(rng, _SAMPLES_MIN * 4), dtype=np.float64).tofile(path)
            body["latency_samples_file"] = str(path)
        await self.at(f.at_s)
        self.active_faults[f.index] = (f, body)
        await self._send_fault(f, {**body, "id": f.index, "on": True})
        self.event("fault_start", fault=f.index, fault_kind=f.kind)
        if f.length_s is None or f.at_s + f.length_s >= self.plan.horizon_s:
            return
        await self.at(f.at_s + f.length_s)
        self.active_faults.pop(f.index, None)
        await self._send_fault(f, {"id": f.index, "on": False})
        self.event("fault_end", fault=f.index, fault_kind=f.kind)

    async def _send_fault(self, f: FaultPlan, body: dict[str, Any]) -> None:
        for name in f.backends:
            # one that crashed meanwhile gets the active faults again when it restarts
            if self.sup.alive(name):
                with contextlib.suppress(TimeoutError, ClientError, OSError):
                    await self.control(name, "fault", body)

    async def tries_at(self, offset_s: float, tallies: list[WorkloadTally]) -> tuple[dict[str, float], int]:
        """Traefik's per-try counter at ``offset_s``, and how many requests had been answered when it did.

        Traefik counts a try when it answers, so requests still open at the reading belong to
        the window after it: counting answered (not sent) requests keeps the ratio of tries to
        requests right however long the answers take on a busy machine.
        """
        await self.at(offset_s)
        tries = await self.metrics()
        return tries, sum(t.answered_all for t in tallies)


def _merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"received": 0, "served": 0, "outcomes": {}, "overshoot_n": 0}
    out.update({"overshoot_sum_s": 0.0, "overshoot_sq_s2": 0.0, "downstream": {}})
    for p in parts:
        for key in ("received", "served", "overshoot_n", "overshoot_sum_s", "overshoot_sq_s2"):
            out[key] += p.get(key, 0)
        for k, v in p.get("outcomes", {}).items():
            out["outcomes"][k] = out["outcomes"].get(k, 0) + v
        for to, d in p.get("downstream", {}).items():
            mine = out["downstream"].setdefault(to, {})
            for k, v in d.items():
                mine[k] = mine.get(k, 0) + v
    return out


async def _live(
    plan: LabPlan,
    traefik: str,
    workdir: Path,
    seed: np.random.SeedSequence,
    calibration_samples: int,
) -> LiveReplication:
    streams = Streams(seed)
    with Supervisor(workdir) as sup:
        run = _Run(plan, traefik, workdir, streams, sup)
        connector = TCPConnector(limit=0)
        async with ClientSession(connector=connector) as session:
            run.session = session
            run.start_calibration_backend()
            for b in plan.backends:
                run.start_backend(b)
            run.start_traefik()
            deadline = time.monotonic() + _READY_S
            names = [run.calibration_route, *(b.name for b in plan.backends)]
            await asyncio.gather(*(run.wait_backend(name, deadline) for name in names))
            await run.wait_traefik(deadline)
            calibration = await measure_round_trips(
                session,
                f"http://127.0.0.1:{run.calibration_port}/",
                f"http://127.0.0.1:{run.web_port}/",
                run.calibration_route,
                sum(max(r for _, r in w.steps) for w in plan.workloads),
                calibration_samples,
            )
            loop = asyncio.get_running_loop()
            run.t0 = loop.time() + _LEAD_S
            run.window = (run.t0 + plan.warmup_s, run.t0 + plan.horizon_s)
            await asyncio.gather(
                *(
                    run.must_control(b.name, "window", {"from": run.window[0], "until": run.window[1]})
                    for b in plan.backends
                )
            )
            fault_tasks = [
                asyncio.create_task(run.crash(f) if f.kind == "crash" else run.switch(f)) for f in plan.faults
            ]
            tallies = [WorkloadTally() for _ in plan.workloads]
            first = asyncio.create_task(run.tries_at(plan.warmup_s, tallies))
            breakers = {s for s, r in plan.routes.items() if r.breaker is not None}
            url = f"http://127.0.0.1:{run.web_port}/"
            try:
                await asyncio.gather(
                    *(
                        drive(
                            session,
                            url,
                            w,
                            w.entry in breakers,
                            run.t0,
                            plan.warmup_s,
                            plan.horizon_s,
                            streams.get(f"lab/arrivals/{w.name}"),
                            tally,
                        )
                        for w, tally in zip(plan.workloads, tallies)
                    )
                )
            finally:
                for t in fault_tasks:
                    t.cancel()
                outcomes = await asyncio.gather(*fault_tasks, return_exceptions=True)
            for res in outcomes:
                if isinstance(res, Exception) and not isinstance(res, asyncio.CancelledError):
                    raise res  # a fault the lab could not carry out (a backend that did not restart)
            before, answered_before = await first
            after = await run.metrics()
            # every request sent after the first reading's answered ones: answered since, or open
            # at the end (cancelled, after Traefik counted its try)
            sent = sum(t.sent_all for t in tallies) - answered_before
            stats: dict[str, dict[str, Any]] = {}
            for b in plan.backends:
                parts = list(run.dead_stats.get(b.name, []))
                if sup.alive(b.name):
                    parts.append(await run.must_control(b.name, "stats"))
                stats[b.name] = _merge_stats(parts)
    workloads = {w.name: t for w, t in zip(plan.workloads, tallies)}
    rejections: dict[str, int] = {}
    for w, tally in zip(plan.workloads, tallies):
        rejections[w.entry] = rejections.get(w.entry, 0) + tally.proxy_rejections
    for st in stats.values():
        for to, d in st["downstream"].items():
            rejections[to] = rejections.get(to, 0) + int(d.get("proxy_rejections", 0))
    tries = {s: after.get(s, 0.0) - before.get(s, 0.0) for s in plan.routes}
    return LiveReplication(0, plan.duration_s, workloads, tries, rejections, stats, calibration, sent, run.events)


def live_replication(
    plan: LabPlan,
    traefik: str,
    workdir: Path,
    replication: int,
    seed: np.random.SeedSequence,
    calibration_samples: int = 150,
) -> LiveReplication:
    """Run live replication ``replication`` of ``plan`` (its own processes; all stopped on return).

    Before the scenario's traffic, ``calibration_samples`` direct and proxied round trips go
    to the run's idle calibration backend (:mod:`meshsim.lab._calibration`).
    """
    rdir = workdir / f"rep{replication}"
    rdir.mkdir(parents=True, exist_ok=True)
    rep = asyncio.run(_live(plan, traefik, rdir, seed, calibration_samples))
    rep.replication = replication
    return rep
