"""Open-loop arrivals through Traefik, and what each end-user request saw.

Arrival times come from the workload's rate steps (Poisson or constant, from one numpy
Generator per workload); a request is sent at its time whether or not earlier ones have
answered (no coordinated omission: the generator never waits for an answer). Its latency
runs from the moment it is sent; how late the generator's own timer sent it is reported
apart (asyncio rounds sleeps up to the millisecond, more on a loaded machine). As in meshsim's engine, a
request counts when it arrives after the warm-up, and one that has not completed by the end
of the run is ``in_flight``. Latencies go into meshsim's own log-bucketed histogram, so
memory does not grow with the number of requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from aiohttp import ClientError, ClientSession, ClientTimeout

from meshsim.lab._plan import WorkloadPlan
from meshsim.lab._protocol import BACKEND_HEADER, CAUSE_HEADER, classify, host_of
from meshsim.lab._traefik import LabError
from meshsim.metrics import LogHistogram

__all__ = ["MAX_IN_FLIGHT", "LabOverloadError", "WorkloadTally", "drive"]

#: Requests one generator keeps open at once; past it the run stops (the system is not keeping up).
MAX_IN_FLIGHT = 20_000
# Without a client timeout, a request that takes longer than this is a lab fault.
_GUARD_S = 120.0


class LabOverloadError(LabError):
    """More requests open at once than the lab can hold: the run is stopped."""


@dataclass
class WorkloadTally:
    """One workload's requests in the measurement window (times in seconds)."""

    requests: int = 0
    ok: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    latency: LogHistogram = field(default_factory=LogHistogram)
    proxy_rejections: int = 0
    late_max_s: float = 0.0
    late_sum_s: float = 0.0
    sent: int = 0  # counted requests sent (after the warm-up)
    sent_all: int = 0  # every request sent, warm-up included
    answered_all: int = 0  # every request whose last try was answered (or timed out), warm-up included

    @property
    def completed(self) -> int:
        """Requests that ended (ok or failed) before the end of the run."""
        return self.ok + sum(self.failed.values())


def arrival_offsets(w: WorkloadPlan, horizon_s: float, rng: np.random.Generator) -> Iterator[float]:
    """Arrival times of ``w`` in seconds from the start, up to ``horizon_s``, one at a time."""
    t = 0.0
    i = 0
    steps = w.steps
    while t < horizon_s:
        while i + 1 < len(steps) and steps[i + 1][0] <= t:
            i += 1
        rate = steps[i][1]
        nxt = steps[i + 1][0] if i + 1 < len(steps) else None
        if rate <= 0:
            if nxt is None:
                break
            t = nxt
            continue
        gap = float(rng.exponential(1.0 / rate)) if w.poisson else 1.0 / rate
        if nxt is not None and t + gap > nxt:
            t = nxt  # memoryless: draw again at the new rate, as meshsim's engine does
            continue
        t += gap
        if t < horizon_s:
            yield t


async def _try(session: ClientSession, url: str, w: WorkloadPlan, breaker: bool) -> tuple[str | None, bool]:
    """One try of the end user; returns (cause, answered by Traefik itself)."""
    timeout = ClientTimeout(total=w.client_timeout_s or _GUARD_S)
    try:
        async with session.get(url, headers={"Host": host_of(w.entry)}, timeout=timeout) as resp:
            body = await resp.read()
            cause = classify(resp.status, resp.headers.get(CAUSE_HEADER), breaker, body)
            return cause, BACKEND_HEADER not in resp.headers
    except TimeoutError:
        return "timeout", False
    except ClientError:
        return "connect_failure", False


async def _request(
    session: ClientSession,
    url: str,
    w: WorkloadPlan,
    breaker: bool,
    counted: bool,
    end: float,
    tally: WorkloadTally,
    rng: np.random.Generator,
) -> None:
    loop = asyncio.get_running_loop()
    sent = loop.time()
    cause: str | None = "timeout"
    for i in range(1 + w.client_retries):
        cause, local = await _try(session, url, w, breaker)
        if counted and local and cause == "overflow" and loop.time() < end:
            tally.proxy_rejections += 1
        if cause is None:
            break
        if w.client_backoff_s > 0 and i < w.client_retries:
            wait = w.client_backoff_s * 2**i * float(rng.random()) if w.client_jitter else w.client_backoff_s
            await asyncio.sleep(wait)
    tally.answered_all += 1
    now = loop.time()
    if counted and now < end:
        tally.latency.add(now - sent)
        if cause is None:
            tally.ok += 1
        else:
            tally.failed[cause] = tally.failed.get(cause, 0) + 1


async def drive(
    session: ClientSession,
    url: str,
    w: WorkloadPlan,
    breaker: bool,
    t0: float,
    warmup_s: float,
    horizon_s: float,
    rng: np.random.Generator,
    tally: WorkloadTally,
) -> WorkloadTally:
    """Send ``w``'s arrivals from monotonic time ``t0`` to ``t0 + horizon_s`` into ``tally``; returns it.

    The tally is the caller's, so it can read how many requests were sent at any moment.
    Requests still open at the end are cancelled (they are counted in flight).
    """
    loop = asyncio.get_running_loop()
    end = t0 + horizon_s
    open_tasks: set[asyncio.Task[None]] = set()
    try:
        for offset in arrival_offsets(w, horizon_s, rng):
            scheduled = t0 + offset
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = loop.time() - scheduled
            counted = offset >= warmup_s
            tally.sent_all += 1
            if counted:
                tally.requests += 1
                tally.sent += 1
                tally.late_sum_s += late
                tally.late_max_s = max(tally.late_max_s, late)
            if len(open_tasks) >= MAX_IN_FLIGHT:
                raise LabOverloadError(
                    f"workload {w.name}: {MAX_IN_FLIGHT} requests open at once; the system does not keep up"
                )
            task = asyncio.create_task(_request(session, url, w, breaker, counted, end, tally, rng))
            open_tasks.add(task)
            task.add_done_callback(open_tasks.discard)
        rest = end - loop.time()
        if rest > 0:
            await asyncio.sleep(rest)
    finally:
        for task in list(open_tasks):
            task.cancel()
        if open_tasks:
            await asyncio.gather(*open_tasks, return_exceptions=True)
    return tally
