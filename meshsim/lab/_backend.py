"""A lab backend: one replica of one service version, serving as meshsim's engine does.

Run by the lab as ``python -m meshsim.lab._backend CONFIG.json`` on 127.0.0.1 only. It keeps a
FIFO worker pool of ``concurrency`` (an ``asyncio.Semaphore`` wakes waiters in arrival
order), answers 503 ``overflow`` when ``queue_limit`` requests already wait, takes a service
time drawn in advance by the lab from the scenario's own distribution (so the backend and
the simulator sample one definition), answers errors with their status codes, and makes
its downstream calls through Traefik, in order, parallel groups together. Faults switch
on and off through control requests under ``/__lab/``, which bypass the pool.

It measures what it did in the lab's measurement window: requests received and served,
outcomes, its downstream calls, and the overshoot of its own timer (an ``asyncio.sleep``
asked for ``t`` seconds takes longer on a loaded machine).

It stops by itself when the lab that started it goes away, or after ``max_lifetime_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web

from meshsim.lab._protocol import ADMIN_PREFIX, BACKEND_HEADER, CAUSE_HEADER, classify, host_of

__all__ = ["Backend", "main"]

# A downstream call that hangs longer than this is a lab fault, not a scenario outcome; the
# mesh's own timeouts are far shorter in any scenario the lab runs.
_CALL_GUARD_S = 120.0


@dataclass
class _Counters:
    """What this backend measured in the lab's window (times in seconds)."""

    received: int = 0
    served: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    overshoot_n: int = 0
    overshoot_sum_s: float = 0.0
    overshoot_sq_s2: float = 0.0
    downstream: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "served": self.served,
            "outcomes": dict(self.outcomes),
            "overshoot_n": self.overshoot_n,
            "overshoot_sum_s": self.overshoot_sum_s,
            "overshoot_sq_s2": self.overshoot_sq_s2,
            "downstream": {k: dict(v) for k, v in self.downstream.items()},
        }


class _Cycle:
    """Values drawn in advance, handed out in order and reused from the start when used up."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values.astype(float).tolist() or [0.0]
        self.i = 0

    def __call__(self) -> float:
        v = self.values[self.i]
        self.i = (self.i + 1) % len(self.values)
        return float(v)


class Backend:
    """One backend's state: its pool, its fault switches, its counters."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        """Build from the lab's config (the fields of ``meshsim.lab._protocol.BackendConfig``)."""
        self.cfg = cfg
        self.name: str = cfg["name"]
        self.service_time = _Cycle(np.fromfile(cfg["samples_file"], dtype=np.float64))
        self.rng = np.random.default_rng(int(cfg["seed"]))
        self.pool = asyncio.Semaphore(int(cfg["concurrency"]))
        self.concurrency = int(cfg["concurrency"])
        self.queue_limit: int | None = cfg["queue_limit"]
        self.holds_worker = bool(cfg["holds_worker"])
        self.contention_s = float(cfg["contention_s"])
        self.error_codes: list[tuple[int, float]] = [(int(c), float(p)) for c, p in cfg["error_codes"]]
        self.calls: list[dict[str, Any]] = cfg["calls"]
        self.breakers = set(cfg["breaker_targets"])
        self.traefik_url: str = cfg["traefik_url"]
        self.body = b"x" * int(cfg["response_bytes"])
        self.busy = 0
        self.waiting = 0
        self.window = (math.inf, math.inf)
        self.counters = _Counters()
        self.extra_error: dict[str, float] = {}
        self.extra_latency: dict[str, _Cycle] = {}
        self.degrade: dict[str, float] = {}
        self.session: ClientSession | None = None

    # ----- serving -----
    def _counted(self, arrive: float) -> bool:
        return self.window[0] <= arrive < self.window[1]

    def _answer(self, counted: bool, cause: str | None, status: int) -> web.Response:
        if counted:
            key = cause or "ok"
            self.counters.outcomes[key] = self.counters.outcomes.get(key, 0) + 1
        headers = {BACKEND_HEADER: self.name}
        if cause is not None:
            headers[CAUSE_HEADER] = cause
        return web.Response(status=status, body=self.body if cause is None else b"", headers=headers)

    def _error_status(self) -> int | None:
        """The status of an error answer, or None (the scenario's codes, then active error faults)."""
        u = float(self.rng.random())
        acc = 0.0
        for code, p in self.error_codes:
            acc += p
            if u < acc:
                return code
        keep = 1.0 - acc
        for r in self.extra_error.values():
            keep *= 1.0 - r
        # the faults' failures are independent of the service's own, as in meshsim's engine
        return 500 if u < 1.0 - keep else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one try: queue, worker, service time, error draw, downstream calls."""
        if request.path.startswith(ADMIN_PREFIX):
            return await self.admin(request)
        loop = asyncio.get_running_loop()
        arrive = loop.time()
        counted = self._counted(arrive)
        if counted:
            self.counters.received += 1
        full = self.busy >= self.concurrency
        if self.queue_limit is not None and full and self.waiting >= self.queue_limit:
            return self._answer(counted, "overflow", 503)
        self.waiting += 1
        try:
            await self.pool.acquire()
        finally:
            self.waiting -= 1
        held = True
        self.busy += 1
        try:
            if counted:
                self.counters.served += 1
            work = self.service_time()
            for factor in self.degrade.values():
                work *= factor
            work += self.contention_s * (self.busy - 1)
            for add in self.extra_latency.values():
                work += add()
            if work > 0:
                t0 = loop.time()
                await asyncio.sleep(work)
                if counted:
                    over = loop.time() - t0 - work
                    self.counters.overshoot_n += 1
                    self.counters.overshoot_sum_s += over
                    self.counters.overshoot_sq_s2 += over * over
            status = self._error_status()
            if status is not None:
                return self._answer(counted, "error", status)
            if self.calls:
                if not self.holds_worker:
                    held = False
                    self.busy -= 1
                    self.pool.release()
                cause = await self.downstream(counted)
                if cause is not None:
                    return self._answer(counted, cause, 500)  # the caller fails with its dependency's cause
            return self._answer(counted, None, 200)
        finally:
            if held:
                self.busy -= 1
                self.pool.release()

    async def downstream(self, counted: bool) -> str | None:
        """Make the calls in order; returns the cause of the first failed required call."""
        for step in self.calls:
            if step["parallel"]:
                picked = [
                    c for c in step["calls"] if float(c["probability"]) >= 1.0 or self.rng.random() < c["probability"]
                ]
                if not picked:
                    continue
                causes = await asyncio.gather(*(self._repeat(c, counted) for c in picked))
                for c, cause in zip(picked, causes):
                    if cause is not None and not c["optional"]:
                        return cause
            else:
                c = step["calls"][0]
                if float(c["probability"]) < 1.0 and self.rng.random() >= c["probability"]:
                    continue
                for _ in range(int(c["count"])):
                    cause = await self.call(c["to"], counted)
                    if cause is not None and not c["optional"]:
                        return cause
        return None

    async def _repeat(self, c: dict[str, Any], counted: bool) -> str | None:
        cause: str | None = None
        for _ in range(int(c["count"])):
            cause = await self.call(c["to"], counted)
            if cause is not None:
                return cause
        return cause

    async def call(self, to: str, counted: bool) -> str | None:
        """One call to service ``to`` through Traefik; returns meshsim's cause (None: ok)."""
        assert self.session is not None
        origin = ""
        try:
            async with self.session.get(self.traefik_url + "/", headers={"Host": host_of(to)}) as resp:
                body = await resp.read()
                origin = resp.headers.get(BACKEND_HEADER, "")
                cause = classify(resp.status, resp.headers.get(CAUSE_HEADER), to in self.breakers, body)
        except (TimeoutError, ClientError):
            cause = "error"
        if counted:
            d = self.counters.downstream.setdefault(to, {})
            key = cause or "ok"
            d[key] = d.get(key, 0) + 1
            if cause == "overflow" and not origin:
                d["proxy_rejections"] = d.get("proxy_rejections", 0) + 1
        return cause

    # ----- control -----
    async def admin(self, request: web.Request) -> web.Response:
        """The lab's control requests: ready, window, fault on/off, stats."""
        what = request.path[len(ADMIN_PREFIX) :]
        if what == "ready":
            return web.json_response({"name": self.name})
        if what == "stats":
            return web.json_response(self.counters.as_dict())
        body = await request.json()
        if what == "window":
            self.window = (float(body["from"]), float(body["until"]))
            return web.json_response({"ok": True})
        if what == "fault":
            self.switch_fault(body)
            return web.json_response({"ok": True})
        return web.json_response({"error": f"unknown control request {what}"}, status=404)

    def switch_fault(self, body: dict[str, Any]) -> None:
        """Turn fault ``body['id']`` on (with its parameters) or off."""
        fid = str(body["id"])
        if not body["on"]:
            self.extra_error.pop(fid, None)
            self.extra_latency.pop(fid, None)
            self.degrade.pop(fid, None)
            return
        if body.get("error_rate") is not None:
            self.extra_error[fid] = float(body["error_rate"])
        if body.get("latency_samples_file"):
            self.extra_latency[fid] = _Cycle(np.fromfile(body["latency_samples_file"], dtype=np.float64))
        if body.get("factor") is not None:
            self.degrade[fid] = float(body["factor"])


async def _watch_parent(parent: int, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    while os.getppid() == parent and loop.time() < deadline:
        await asyncio.sleep(0.25)


async def serve(cfg: dict[str, Any]) -> None:
    """Serve until the lab goes away or the lifetime ends (the lab normally stops it first)."""
    backend = Backend(cfg)
    parent = os.getppid()
    app = web.Application(handler_args={"max_field_size": 8190})
    app.router.add_route("*", "/{tail:.*}", backend.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=bool(cfg["cancel_on_timeout"]))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", int(cfg["port"]), reuse_address=True, backlog=1024)
    backend.session = ClientSession(
        connector=TCPConnector(limit=0, force_close=False), timeout=ClientTimeout(total=_CALL_GUARD_S)
    )
    try:
        await site.start()
        loop = asyncio.get_running_loop()
        await _watch_parent(parent, loop.time() + float(cfg["max_lifetime_s"]))
    finally:
        await backend.session.close()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m meshsim.lab._backend CONFIG.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m meshsim.lab._backend CONFIG.json", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as fh:
        cfg = json.load(fh)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
