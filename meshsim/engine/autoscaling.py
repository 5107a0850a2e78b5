"""Horizontal pod autoscaling (Kubernetes HPA semantics)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MeshsimInputError

if TYPE_CHECKING:
    from .core import Simulation

__all__ = ["install"]


def install(sim: "Simulation") -> None:
    """Start an autoscaler per service that asks for one."""
    for name, svc in sim.scenario.services.items():
        if svc.autoscaling is not None:
            raise MeshsimInputError("autoscaling is not simulated yet", file=sim.scenario.source_file,
                                    field=f"services.{name}.autoscaling")
