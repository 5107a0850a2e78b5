"""Processes that change the mesh while it runs: faults, autoscalers, rollout controllers.

Each lives in its own module with an ``install(sim)`` function; this module only
calls them, so the engine core stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshsim.engine import _autoscaling as autoscaling
from meshsim.engine import _faults as faults
from meshsim.engine import _rollout as rollout

if TYPE_CHECKING:
    from meshsim.engine._core import Simulation

__all__ = ["install"]


def install(sim: Simulation) -> None:
    """Start every controller the scenario asks for."""
    faults.install(sim)
    autoscaling.install(sim)
    rollout.install(sim)
