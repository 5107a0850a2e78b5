"""Faults on the timeline (SPEC 2 ``faults``). ``load`` faults act in the arrival process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MeshsimInputError

if TYPE_CHECKING:
    from .core import Simulation

__all__ = ["install"]


def install(sim: "Simulation") -> None:
    """Schedule the scenario's faults."""
    for i, f in enumerate(sim.scenario.faults):
        if f.kind != "load":
            raise MeshsimInputError(
                f"fault kind '{f.kind}' is not simulated yet", file=sim.scenario.source_file,
                field=f"faults.{i}.kind",
            )
