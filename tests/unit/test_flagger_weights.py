"""Flagger's ``maxWeight``/``stepWeight``/``stepWeights``, computed as Flagger's scheduler does."""

from __future__ import annotations

import pytest

import meshsim
from meshsim.errors import MeshsimInputError
from meshsim.scenario._rollout import flagger_weights

from .test_rollout import WARMUP, run, scenario


@pytest.mark.parametrize(
    ("max_weight", "step", "steps", "weights"),
    [
        (50, 20, None, [20, 40, 60]),  # Flagger's docs: "increasing by 20 until weight goes above 50"
        (None, 10, None, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),  # maxWeight defaults to 100
        (None, 30, None, [30, 60, 90, 100]),  # capped at the total weight
        (None, None, [1, 2, 10, 80], [1, 2, 10, 80]),  # the docs' non-linear example
        (30, None, [5, 10], [5, 10]),  # with stepWeights the max is their last
        (None, 25, [1, 2], [25]),  # stepWeight wins for the step, the max is still the last of stepWeights
    ],
)
def test_weights_follow_flaggers_scheduler(max_weight, step, steps, weights) -> None:
    assert flagger_weights(max_weight, step, steps) == weights


def test_a_good_canary_walks_the_weights_then_is_promoted() -> None:
    """maxWeight 50, stepWeight 20 at 10 s intervals: 20, 40, 60 %, promoted at the 4th tick."""
    ro = run(scenario({"maxWeight": 50, "stepWeight": 20}))
    assert [w["weight"] for w in ro["weights"]] == [0.0, 20.0, 40.0, 60.0, 100.0]
    assert ro["outcome"] == "promoted" and ro["at_s"] == pytest.approx(WARMUP + 30)


def test_weights_listed_by_hand_keep_working() -> None:
    ro = run(scenario({"steps": [20, 40, 60]}))
    assert [w["weight"] for w in ro["weights"]] == [0.0, 20.0, 40.0, 60.0, 100.0]


@pytest.mark.parametrize(
    ("rollout", "says"),
    [
        ({"steps": [10, 20], "stepWeight": 10}, "not both"),
        ({"maxWeight": 50}, "needs stepWeight"),
        ({"style": "argo", "stepWeight": 10, "steps": [{"setWeight": 10}]}, "style: flagger"),
        ({"stepWeights": [10, 120]}, "1 to 100"),
        ({"stepWeight": 0}, "stepWeight"),
    ],
)
def test_bad_weights_are_one_clear_error(rollout, says) -> None:
    with pytest.raises(MeshsimInputError) as err:
        meshsim.load_scenario(scenario(rollout))
    assert says in str(err.value) and "rollout" in str(err.value)
