"""``run_lab``: calibrate, run the scenario live on Traefik, predict it, and compare.

The order is fixed: plan (refuses what cannot be realised, before any process starts), the
live runs one after another (each with fresh processes, each starting with a short
calibration on an idle backend behind the same Traefik), then the simulator on the same
scenario with the pooled loopback figures.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshsim.lab._plan import LabPlan, plan_lab
from meshsim.lab._traefik import LabError, find_traefik
from meshsim.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from meshsim.lab._calibration import Calibration
    from meshsim.lab._live import LiveReplication

__all__ = ["LabOptions", "LabReport", "run_lab", "traefik_version"]

# Predicted shares come from sampled spans; about this many sampled requests over all replications.
_SPAN_BUDGET = 20_000
# Seconds of each calibration phase at the scenario's rate, per live run (at least 100 requests).
_CALIBRATION_S = 1.0


@dataclass(frozen=True)
class LabOptions:
    """How to run the lab (seconds; None keeps the scenario's value)."""

    duration_s: float | None = None
    warmup_s: float | None = None
    replications: int = 3
    sim_replications: int = 10
    traefik: str | None = None
    feed_overshoot: bool = True
    calibration_samples: int = 300  # most direct (and proxied) calibration requests per live run


@dataclass
class LabReport:
    """A finished lab run: the plan, what was measured, what meshsim predicted, and the comparison."""

    plan: LabPlan
    options: LabOptions
    traefik_version: str
    calibration: Calibration
    live: list[LiveReplication]
    overshoot_s: dict[tuple[str, str | None], float]
    measured: dict[str, Any]
    predicted: dict[str, Any]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def within(self) -> bool:
        """True when every compared metric is within its tolerance."""
        return all(r["within"] for r in self.rows)

    def calibration_dict(self) -> dict[str, Any]:
        """The calibration figures, the timer overshoot, and whether the prediction used them."""
        return {
            **self.calibration.summary(),
            "traefik_version": self.traefik_version,
            "used_for": "network (one-way = direct round trip / 2) and mesh.proxy_overhead (per traversal)",
            "timer_overshoot_ms": {
                (svc if ver is None else f"{svc}/{ver}"): round(v * 1e3, 4)
                for (svc, ver), v in self.overshoot_s.items()
            },
            "overshoot_fed_to_prediction": self.options.feed_overshoot,
        }

    def to_dict(self) -> dict[str, Any]:
        """``{"measured", "predicted", "comparison", "calibration", "lab"}`` (the ``--json`` file)."""
        return {
            "measured": self.measured,
            "predicted": self.predicted,
            "comparison": self.rows,
            "calibration": self.calibration_dict(),
            "lab": {
                "runs": len(self.live),
                "sim_replications": self.options.sim_replications,
                "warmup_s": self.plan.warmup_s,
                "duration_s": self.plan.duration_s,
                "within": self.within,
                "notes": self.notes,
            },
        }


def traefik_version(binary: str) -> str:
    """The version Traefik reports (``traefik version``), or ``unknown``."""
    try:
        out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"Version:\s*(\S+)", out)
    return m.group(1) if m else "unknown"


def run_lab(
    scenario: Scenario | str | Path,
    options: LabOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> LabReport:
    """Run ``scenario`` live on Traefik and in the simulator; return the comparison.

    Raises:
        MeshsimInputError: the scenario is bad, or names a field the lab cannot realise.
        LabError: the lab extra is missing or a process would not start.
    """
    opts = options or LabOptions()
    say = progress or (lambda _msg: None)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(str(scenario))
    plan = plan_lab(sc, duration_s=opts.duration_s, warmup_s=opts.warmup_s)
    if opts.replications < 1 or opts.sim_replications < 1:
        raise LabError("--replications and --sim-replications must be at least 1")
    try:
        from meshsim.lab._calibration import pooled
        from meshsim.lab._live import live_replication
    except ImportError as exc:  # aiohttp missing
        raise LabError(f"meshsim lab needs the lab extra (pip install 'meshsim[lab]'): {exc}") from None
    from meshsim._version import __version__
    from meshsim.experiments import simulate
    from meshsim.lab._compare import (
        comparison_rows,
        measured_results,
        overshoot_by_group,
        predicted_scenario,
        predicted_shares,
    )
    from meshsim.rng import replication_seeds

    binary = find_traefik(opts.traefik)
    version = traefik_version(binary)
    notes = list(plan.notes)
    if not version.startswith("3."):
        notes.append(f"Traefik {version}: the lab renders Traefik 3.x configuration")
    workdir = Path(tempfile.mkdtemp(prefix="meshsim-lab-"))
    try:
        rate = sum(max(r for _, r in w.steps) for w in plan.workloads)
        samples = min(opts.calibration_samples, max(100, int(rate * _CALIBRATION_S)))
        seeds = replication_seeds(sc.seed, opts.replications)
        live = []
        for r in range(opts.replications):
            say(
                f"live run {r + 1}/{opts.replications}: calibration ({samples} direct and {samples} proxied "
                f"requests at {rate:g}/s), then {plan.horizon_s:g} s of the scenario on Traefik {version}"
            )
            live.append(live_replication(plan, binary, workdir, r, seeds[r], samples))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    calibration = pooled([rep.calibration for rep in live])
    overshoot = overshoot_by_group(plan, live)
    pscen = predicted_scenario(plan, calibration, overshoot if opts.feed_overshoot else None)
    say(f"prediction: {opts.sim_replications} simulated replications")
    sample = min(1.0, _SPAN_BUDGET / max(1.0, plan.expected_requests() * opts.sim_replications))
    results = simulate(pscen, opts.sim_replications, executor="serial", trace_sample=sample)
    shares = predicted_shares(plan, results)
    rows = comparison_rows(plan, live, results, shares)
    if opts.feed_overshoot:
        notes.append("each backend's measured timer overshoot is added to its service time in the prediction")
    return LabReport(
        plan=plan,
        options=opts,
        traefik_version=version,
        calibration=calibration,
        live=live,
        overshoot_s=overshoot,
        measured=measured_results(plan, live, __version__),
        predicted=results.to_dict(),
        rows=rows,
        notes=notes,
    )
