"""Progressive delivery controllers (Flagger, Argo Rollouts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MeshsimInputError

if TYPE_CHECKING:
    from .core import Simulation

__all__ = ["install"]


def install(sim: "Simulation") -> None:
    """Start the rollout controller when the scenario has a rollout."""
    if sim.scenario.rollout is not None:
        raise MeshsimInputError("rollouts are not simulated yet", file=sim.scenario.source_file, field="rollout")
