"""Synthetic traces from a scenario's services and workload, for testing calibration.

This is not the simulator: there is no queueing, no network model beyond a fixed
one-way delay, and no policy. Each request's self time is drawn from its
``service_time`` and split in half around its calls, so the traces carry known
self times, call structure, probabilities and error rates to recover.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from meshsim.calibrate._traces import spans_frame
from meshsim.scenario import DistSpec

__all__ = ["synthetic_spans"]


class _Gen:
    def __init__(self, services: dict[str, Any], rng: np.random.Generator, network_s: float) -> None:
        self.rng = rng
        self.net = network_s
        self.services = services
        self.dists = {n: DistSpec.model_validate(s["service_time"]).build() for n, s in services.items()}
        self.rows: list[dict[str, Any]] = []

    def new_id(self) -> str:
        return self.rng.bytes(8).hex()

    def span(
        self,
        trace: str,
        sid: str,
        parent: str | None,
        svc: str,
        name: str,
        kind: str,
        t0: float,
        t1: float,
        error: bool,
    ) -> None:
        self.rows.append(
            {
                "trace_id": trace,
                "span_id": sid,
                "parent_id": parent,
                "service": svc,
                "name": name,
                "start_s": t0,
                "duration_s": t1 - t0,
                "kind": kind,
                "error": error,
                "status_code": 500.0 if error else 200.0,
            }
        )

    def request(self, svc: str, t0: float, trace: str, parent: str | None) -> tuple[float, bool]:
        spec = self.services[svc]
        sid = self.new_id()
        self_t = float(self.dists[svc].draw(self.rng, 1)[0])
        t = t0 + self_t / 2
        failed = False
        for step in spec.get("calls", []):
            members = step["parallel"] if isinstance(step, dict) and "parallel" in step else [step]
            ends = [t]
            for call in members:
                call = {"to": call} if isinstance(call, str) else call
                tm = t
                for _ in range(int(call.get("count", 1))):
                    if self.rng.random() >= float(call.get("probability", 1.0)):
                        continue
                    cid = self.new_id()
                    end, err = self.request(call["to"], tm + self.net, trace, cid)
                    self.span(trace, cid, sid, svc, f"call {call['to']}", "client", tm, end + self.net, err)
                    tm = end + self.net
                    failed |= err and not call.get("optional", False)
                ends.append(tm)
            t = max(ends)
        end = t + self_t / 2
        error = failed or bool(self.rng.random() < float(spec.get("error_rate", 0.0)))
        self.span(trace, sid, parent, svc, f"serve {svc}", "server", t0, end, error)
        return end, error


def _arrivals(workload: dict[str, Any], duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson arrivals at ``rate`` (per second) with optional ``profile`` steps ``[(at_s, rate)]``."""
    steps = [(0.0, float(workload["rate"]))] + [(float(a), float(r)) for a, r in workload.get("profile", [])]
    out = []
    for (a, r), nxt in zip(steps, steps[1:] + [(duration_s, 0.0)], strict=True):
        length = max(0.0, min(nxt[0], duration_s) - a)
        n = rng.poisson(r * length)
        out.append(a + np.sort(rng.uniform(0, length, n)))
    return np.concatenate(out) if out else np.array([])


def synthetic_spans(
    services: dict[str, Any],
    workload: list[dict[str, Any]],
    duration_s: float,
    rng: np.random.Generator,
    network_s: float = 0.0005,
) -> pd.DataFrame:
    """Generate a normalised span table (see :data:`~meshsim.calibrate.traces.SPAN_COLUMNS`).

    Args:
        services: ``{name: {service_time: <scenario distribution>, error_rate: float,
            calls: <scenario calls list>}}``.
        workload: ``[{entry: name, rate: per second, profile: [(at_s, rate), ...]}]``.
        duration_s: seconds of arrivals.
        rng: the only source of randomness.
        network_s: one-way delay added around every call (seconds).
    """
    gen = _Gen(services, rng, network_s)
    for w in workload:
        for t in _arrivals(w, duration_s, rng):
            gen.request(w["entry"], float(t), rng.bytes(16).hex(), None)
    return spans_frame(gen.rows)
