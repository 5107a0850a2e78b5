"""The ``rollout`` block (docs/scenario.md ``rollout``): Flagger's and Argo Rollouts' progressive delivery."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from meshsim.scenario._types import Duration, Ratio, Strict

__all__ = ["ArgoStep", "Rollout", "RolloutChecks", "RolloutStep", "flagger_weights"]


class RolloutChecks(Strict):
    """What the controller checks each interval, on the canary's own attempts by default.

    ``scope: service`` measures every attempt to the service instead, as Argo's documented
    example query does (at 20% weight, 10% canary errors then show as 98% success and pass).
    """

    success_rate_min: Ratio | None = 0.99
    latency_p99_max: Duration | None = 0.5
    scope: Literal["canary", "service"] = "canary"


class ArgoStep(Strict):
    """One Argo Rollouts step: ``setWeight: 20`` or ``pause: 10m``.

    ``pause: {}`` (Argo's form without a duration) waits for a manual promotion that never
    comes in a simulation, so the rollout stays ``in_progress``; ``pause: {duration: 10m}``
    is accepted too.
    """

    set_weight: float | None = Field(default=None, ge=0, le=100, alias="setWeight")
    pause: Duration | None = None
    pause_manual: bool = Field(default=False, description="a pause with no duration (set by pause: {})")

    model_config = Strict.model_config | {"populate_by_name": True}

    @model_validator(mode="before")
    @classmethod
    def _argo_pause(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("pause"), dict):
            inner = dict(data["pause"])
            data = dict(data)
            if "duration" in inner:
                data["pause"] = inner.pop("duration")
            else:
                data["pause"] = None
                data["pause_manual"] = True
            if inner:
                raise ValueError(f"pause takes only a duration, not {', '.join(map(str, inner))}")
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> ArgoStep:
        kinds = (self.set_weight is not None) + (self.pause is not None or self.pause_manual)
        if kinds != 1:
            raise ValueError("a step is either setWeight: N or pause: DURATION")
        return self


def _step_kind(value: Any) -> str:
    return "ArgoStep" if isinstance(value, (dict, ArgoStep)) else "float"


RolloutStep = Annotated[
    Annotated[float, Tag("float")] | Annotated[ArgoStep, Tag("ArgoStep")],
    Discriminator(_step_kind),
]


def flagger_weights(max_weight: int | None, step_weight: int | None, step_weights: list[int] | None) -> list[int]:
    """The canary weights Flagger sets, one per passing interval, before it promotes.

    Flagger's scheduler (``maxWeight``, ``nextStepWeight`` and ``runCanary`` in
    ``pkg/controller/scheduler.go``, docs/references.md [F1]): from weight 0, each passing
    check adds the next step while the weight is below the max weight (capped at 100);
    at or above it the canary is promoted. ``stepWeight`` (when above 0) wins over
    ``stepWeights``; the max weight is the last of ``stepWeights`` (at most 100), else
    ``maxWeight``, else 100. With ``stepWeights`` a weight not in the list jumps to 100.
    """
    total = 100
    sws = list(step_weights or [])
    if sws:
        top = min(total, sws[-1])
    elif max_weight:
        top = max_weight
    else:
        top = total

    def next_step(weight: int) -> int:
        if step_weight or not sws:
            return step_weight or 0
        room = total - weight
        if room == 0:
            return 1
        if weight == 0:
            return min(room, sws[0])
        for a, b in zip(sws, sws[1:]):
            if a == weight:
                return min(room, b - weight)
        return room

    weights: list[int] = []
    weight = 0
    while weight < top:
        step = next_step(weight)
        if step <= 0:
            raise ValueError("the weights never reach maxWeight: give stepWeight above 0 or stepWeights")
        weight = min(total, weight + step)
        weights.append(weight)
    return weights


def _default_steps() -> list[RolloutStep]:
    # canary weights in percent, one per interval
    return [5, 10, 25, 50, 100]


class Rollout(Strict):
    """Progressive delivery of ``canary`` next to ``baseline``, as Flagger or Argo Rollouts run it.

    Flagger (``style: flagger``): ``steps`` are canary weights in percent, one per
    ``interval`` (Flagger raises an interval under 10 s to 10 s), or are computed from
    Flagger's ``maxWeight``/``stepWeight``/``stepWeights`` (:func:`flagger_weights`); ``max_failed_checks`` is
    Flagger's ``threshold``; ``metrics_window`` defaults to Flagger's 1m query range.
    Argo (``style: argo``): ``steps`` are ``setWeight``/``pause`` (a bare number is a
    setWeight); a background analysis runs every ``analysis_interval`` (default
    ``interval``) from step index ``analysis_starting_step`` and fails the rollout when
    failed measurements > ``failure_limit``; ``metrics_window`` defaults to the analysis
    interval. ``at`` defaults to the end of warm-up. Times are seconds once loaded.
    """

    service: str
    style: Literal["flagger", "argo"] = "flagger"
    at: Duration | None = None
    baseline: str
    canary: str
    steps: list[RolloutStep] = Field(default_factory=_default_steps, min_length=1)
    interval: Duration = 60.0
    max_failed_checks: int = Field(default=1, ge=1)
    metrics_window: Duration | None = None
    checks: RolloutChecks = Field(default_factory=RolloutChecks)
    failure_limit: int = Field(default=0, ge=0)
    consecutive_error_limit: int = Field(default=4, ge=0)
    analysis_interval: Duration | None = None
    analysis_starting_step: int = Field(default=0, ge=0)
    max_weight: int | None = Field(default=None, ge=1, le=100, alias="maxWeight")
    step_weight: int | None = Field(default=None, ge=1, le=100, alias="stepWeight")
    step_weights: list[int] | None = Field(default=None, min_length=1, alias="stepWeights")

    model_config = Strict.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _flagger_weights(self) -> Rollout:
        given = [
            a
            for a, v in (
                ("maxWeight", self.max_weight),
                ("stepWeight", self.step_weight),
                ("stepWeights", self.step_weights),
            )
            if v is not None
        ]
        if not given:
            return self
        if self.style != "flagger":
            raise ValueError(f"{', '.join(given)}: Flagger's weights need style: flagger (Argo lists setWeight steps)")
        if "steps" in self.model_fields_set:
            raise ValueError(f"give the weights either as steps or as {' and '.join(given)}, not both")
        for w in self.step_weights or []:
            if not 0 < w <= 100:
                raise ValueError(f"stepWeights are percentages from 1 to 100, not {w}")
        if self.step_weight is None and self.step_weights is None:
            raise ValueError("maxWeight needs stepWeight (or stepWeights) to get there")
        weights = flagger_weights(self.max_weight, self.step_weight, self.step_weights)
        object.__setattr__(self, "steps", [float(w) for w in weights])
        return self

    @model_validator(mode="after")
    def _steps_fit_style(self) -> Rollout:
        for i, step in enumerate(self.steps):
            if isinstance(step, ArgoStep):
                if self.style != "argo":
                    raise ValueError(
                        f"steps.{i}: setWeight/pause steps need style: argo; "
                        "Flagger steps are weights, e.g. [5, 10, 25, 50]"
                    )
            elif not 0 <= step <= 100:
                raise ValueError(f"steps.{i}: a weight is a percentage between 0 and 100, not {step}")
        if self.interval <= 0 or (self.analysis_interval is not None and self.analysis_interval <= 0):
            raise ValueError("intervals must be above zero")
        if self.metrics_window is not None and self.metrics_window <= 0:
            raise ValueError("metrics_window must be above zero")
        if self.baseline == self.canary:
            raise ValueError("baseline and canary must be different versions")
        if self.style == "argo" and self.analysis_starting_step >= len(self.steps):
            raise ValueError(
                f"analysis_starting_step {self.analysis_starting_step} is past the last step "
                f"(steps are numbered from 0 to {len(self.steps) - 1})"
            )
        return self
