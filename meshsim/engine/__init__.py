"""The SimPy engine: one environment per replication, processes per request."""

from .core import Simulation

__all__ = ["Simulation"]
