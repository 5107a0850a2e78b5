"""Progressive delivery controllers: Flagger's canary analysis and Argo Rollouts' steps.

Both move traffic between ``baseline`` and ``canary`` by setting the service's split
(``Control.set_split``), which the caller's proxy reads on every call, and both judge the canary on its own
attempts (``checks.scope: canary``, as Flagger's Istio queries filter on the canary
workload) over a sliding metrics window. Semantics follow docs/references.md section 14:

Flagger (scheduler.go): at ``at`` the first step's weight is set (the tick that runs the
pre-rollout hooks). Then, every ``interval`` (raised to 10 s when lower, as Flagger does):
1. if failed checks >= ``max_failed_checks`` (Flagger's ``threshold``): roll back, all
   traffic to the baseline;
2. evaluate success rate and p99 over the last ``metrics_window`` (default 1m, Flagger's
   query range); no data is a failed check; a failure increments the counter, which is
   never reset, and holds the weight;
3. all checks pass: go to the next step, or promote (all traffic to the canary) when the
   last step's weight was already reached.
So a canary bad from the first step is rolled back at ``at + (threshold + 1) x interval``
and a good one is promoted at ``at + len(steps) x interval``. Flagger's promotion then
copies the canary spec to the primary over a few more ticks; here the canary simply takes
all traffic at the promotion tick.

Argo Rollouts: steps run in order (``setWeight`` at once, ``pause`` waits; ``pause: {}``
waits for a manual promotion that never comes). A background analysis starts when step
``analysis_starting_step`` (0-based) begins, measures immediately and then every
``analysis_interval``; the run fails when failed measurements > ``failure_limit`` (the
controller's comparison: with failureLimit 3 the 4th failure aborts), or errors (no data)
in a row > ``consecutive_error_limit``. Failing aborts the rollout (canary weight 0);
finishing the steps promotes it (weight 100).

Output (reported as ``"rollout"``, docs/results.md ``rollout``): outcome ``promoted`` |
``rolled_back`` | ``in_progress``, ``at_s`` of the decision, the ``weights`` timeline,
``failed_requests`` (calls routed to the canary that failed after the caller's retries,
counted from the first step until the decision), ``failed_attempts`` (single tries), and
the ``checks`` history.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from meshsim.engine._control import Control
from meshsim.scenario import ArgoStep, Rollout

if TYPE_CHECKING:
    from meshsim.engine._proxy import Cluster
    from meshsim.engine._runtime import Outcome

__all__ = ["install", "RolloutController", "FLAGGER_MIN_INTERVAL_S", "FLAGGER_METRICS_WINDOW_S"]

Gen = Generator[Any, Any, Any]

FLAGGER_MIN_INTERVAL_S = 10.0  # GetAnalysisInterval: anything lower becomes 10 s
FLAGGER_METRICS_WINDOW_S = 60.0  # the builtin metrics' default query range (1m)


def _r(x: float, digits: int = 6) -> float | None:
    if x is None or math.isnan(x):
        return None
    return round(float(x), digits)


class _Window:
    """Attempts to the measured target: (time s, ok, round trip s), pruned to a sliding window."""

    def __init__(self) -> None:
        self.items: deque[tuple[float, bool, float]] = deque()

    def add(self, t_s: float, ok: bool, rtt_s: float) -> None:
        self.items.append((t_s, ok, rtt_s))

    def measure(self, now_s: float, window_s: float) -> tuple[int, float, float]:
        """(attempts, success rate, p99 s) over (now - window, now]; NaN without data."""
        items = self.items
        start = now_s - window_s
        while items and items[0][0] <= start:
            items.popleft()  # checks come in time order with one window: old data never returns
        n = len(items)
        if n == 0:
            return 0, math.nan, math.nan
        ok = sum(1 for _, good, _ in items if good)
        p99 = float(np.quantile(np.fromiter((x[2] for x in items), dtype=float, count=n), 0.99))
        return n, ok / n, p99


class RolloutController:
    """One rollout in one replication: the controller process, the metrics hook, the output."""

    def __init__(self, control: Control, spec: Rollout) -> None:
        """The controller of ``spec``'s rollout."""
        self.control = control
        self.spec = spec
        self.start_s = spec.at if spec.at is not None else control.warmup_s
        self.decided = False
        self.decided_s = math.inf
        self.weight = 0.0
        self._window = _Window()
        self._stop: Any = None
        if spec.style == "flagger":
            self.interval_s = max(spec.interval, FLAGGER_MIN_INTERVAL_S)
            self.window_s = spec.metrics_window or FLAGGER_METRICS_WINDOW_S
        else:
            self.interval_s = spec.analysis_interval or spec.interval
            self.window_s = spec.metrics_window or self.interval_s
        self.out: dict[str, Any] = {
            "style": spec.style,
            "service": spec.service,
            "baseline": spec.baseline,
            "canary": spec.canary,
            "outcome": "in_progress",
            "at_s": None,
            "started_s": _r(self.start_s),
            "interval_s": _r(self.interval_s),
            "metrics_window_s": _r(self.window_s),
            "failed_requests": 0,
            "failed_attempts": 0,
            "canary_requests": 0,
            "failed_checks": 0,
            "weights": [{"t_s": 0.0, "weight": 0.0}],
            "checks": [],
        }

    # ----- wiring -----
    def start(self) -> None:
        """Route everything to the baseline, hook the metrics, start the controller process."""
        control = self.control
        self._apply(0.0)
        control.on_attempt_end(self._on_attempt)
        control.on_call_end(self._on_call)
        self._stop = control.env.event()
        control.process(self._flagger() if self.spec.style == "flagger" else self._argo())

    def _on_call(self, service: str, version: str | None, res: Outcome, started_s: float) -> None:
        """Count logical calls routed to the canary before the decision, and their final outcome."""
        if service != self.spec.service or version != self.spec.canary or started_s >= self.decided_s:
            return
        out = self.out
        out["canary_requests"] += 1
        if res.cause is not None:
            out["failed_requests"] += 1

    def _on_attempt(self, cluster: Cluster, ep: int, res: Outcome, rtt_s: float) -> None:
        if cluster.service != self.spec.service:
            return
        is_canary = cluster.endpoints[ep].version == self.spec.canary
        if is_canary and res.cause is not None and not self.decided:
            self.out["failed_attempts"] += 1
        if is_canary or self.spec.checks.scope == "service":
            self._window.add(self.control.now, res.cause is None, rtt_s)

    # ----- actions -----
    def _apply(self, weight: float) -> None:
        spec = self.spec
        self.weight = weight
        self.control.set_split(spec.service, [spec.baseline, spec.canary], [100.0 - weight, weight])

    def set_weight(self, weight: float) -> None:
        """Send ``weight`` percent of the service's calls to the canary from now on."""
        if weight == self.weight:
            return
        now = self.control.now
        self._apply(weight)
        self.out["weights"].append({"t_s": _r(now), "weight": _r(weight)})
        self.control.record_event("rollout_weight", service=self.spec.service, canary=self.spec.canary, weight=weight)

    def finish(self, outcome: str) -> None:
        """Promote (all traffic to the canary) or roll back (all to the baseline), once."""
        if self.decided:
            return
        self.set_weight(100.0 if outcome == "promoted" else 0.0)
        self.decided = True
        now = self.control.now
        self.decided_s = now
        self.out["outcome"] = outcome
        self.out["at_s"] = _r(now)
        self.control.record_event(f"rollout_{outcome}", service=self.spec.service, canary=self.spec.canary)
        if self._stop is not None and not self._stop.triggered:
            self._stop.succeed()

    def check(self) -> dict[str, Any]:
        """Measure the canary over the last window against the checks (no data fails)."""
        now = self.control.now
        n, rate, p99 = self._window.measure(now, self.window_s)
        checks = self.spec.checks
        passed = n > 0
        if passed and checks.success_rate_min is not None and rate < checks.success_rate_min:
            passed = False
        if passed and checks.latency_p99_max is not None and p99 > checks.latency_p99_max:
            passed = False
        return {
            "t_s": _r(now),
            "weight": _r(self.weight),
            "requests": n,
            "success_rate": _r(rate),
            "latency_p99_ms": _r(p99 * 1e3),
            "passed": passed,
        }

    def _record(self, check: dict[str, Any]) -> None:
        self.out["checks"].append(check)
        self.control.record_event(
            "rollout_check", service=self.spec.service, passed=check["passed"], weight=check["weight"]
        )

    # ----- Flagger -----
    def _flagger(self) -> Gen:
        env = self.control.env
        spec = self.spec
        weights = [float(s) for s in spec.steps if not isinstance(s, ArgoStep)]
        if self.start_s > env.now:
            yield env.timeout(self.start_s - env.now)
        step = 0
        self.set_weight(weights[0])
        failed = 0
        while True:
            yield env.timeout(self.interval_s)
            if failed >= spec.max_failed_checks:
                self.finish("rolled_back")
                return
            result = self.check()
            if not result["passed"]:
                failed += 1  # cumulative: a later pass never resets it
            result["failed_checks"] = failed
            self.out["failed_checks"] = failed
            self._record(result)
            if not result["passed"]:
                continue  # hold the weight
            if step + 1 < len(weights):
                step += 1
                self.set_weight(weights[step])
            else:
                self.finish("promoted")
                return

    # ----- Argo Rollouts -----
    def _argo(self) -> Gen:
        env = self.control.env
        spec = self.spec
        if self.start_s > env.now:
            yield env.timeout(self.start_s - env.now)
        for i, step in enumerate(spec.steps):
            if self.decided:
                return
            if i == spec.analysis_starting_step:
                self.control.process(self._analysis())
            if not isinstance(step, ArgoStep):
                self.set_weight(float(step))
            elif step.set_weight is not None:
                self.set_weight(float(step.set_weight))
            elif step.pause_manual:
                yield self._stop  # a manual promotion never comes: only an abort ends this
            elif step.pause is not None and step.pause > 0:
                yield env.timeout(step.pause) | self._stop
        self.finish("promoted")

    def _analysis(self) -> Gen:
        env = self.control.env
        spec = self.spec
        failed = errors_in_row = 0
        while not self.decided:
            result = self.check()
            if result["requests"] == 0:
                result["phase"] = "Error"
                errors_in_row += 1
            else:
                errors_in_row = 0
                result["phase"] = "Successful" if result["passed"] else "Failed"
                if not result["passed"]:
                    failed += 1
            result["failed_checks"] = failed
            self.out["failed_checks"] = failed
            self._record(result)
            if failed > spec.failure_limit or errors_in_row > spec.consecutive_error_limit:
                self.finish("rolled_back")  # Argo: the analysis run failed, the rollout aborts
                return
            yield env.timeout(self.interval_s) | self._stop


def install(control: Control) -> RolloutController | None:
    """Start the rollout controller when the scenario has a rollout; its output is reported as ``rollout``."""
    spec = control.scenario.rollout
    if spec is None:
        return None
    controller = RolloutController(control, spec)
    control.report("rollout", controller.out)
    controller.start()
    return controller
