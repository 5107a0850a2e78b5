"""Mesh policies as small pluggable objects, and the presets of each real mesh."""

from .balancers import EndpointStats, LoadBalancer, make_balancer
from .effective import EffectivePolicy, resolve_policy
from .presets import PRESETS, preset

__all__ = ["EffectivePolicy", "resolve_policy", "PRESETS", "preset", "LoadBalancer", "EndpointStats", "make_balancer"]
