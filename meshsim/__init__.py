"""meshsim: a discrete-event simulator and digital twin of multi-cloud service meshes.

>>> import meshsim
>>> results = meshsim.simulate("models/online-boutique.yaml", replications=5)  # doctest: +SKIP
>>> results.summary()                                                        # doctest: +SKIP

The public names are listed in ``__all__`` (guarded by a test). They load on first use,
so ``import meshsim`` (and ``meshsim --help``) does not pay for scipy, pandas or plotly;
nothing runs at import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from meshsim._version import __version__

if TYPE_CHECKING:
    from meshsim.engine import EndpointStats, LoadBalancer
    from meshsim.errors import InputProblem, MeshsimInputError
    from meshsim.experiments import Comparison, apply_overrides, compare, run_replication, simulate, sweep
    from meshsim.results import ReplicationResult, Results
    from meshsim.scenario import EffectivePolicy, Scenario, json_schema, load_scenario, resolve_policy
    from meshsim.viz import sweep_figure

# public name -> the module that defines it
_LAZY = {
    "Scenario": "meshsim.scenario",
    "load_scenario": "meshsim.scenario",
    "json_schema": "meshsim.scenario",
    "EffectivePolicy": "meshsim.scenario",
    "resolve_policy": "meshsim.scenario",
    "simulate": "meshsim.experiments",
    "run_replication": "meshsim.experiments",
    "compare": "meshsim.experiments",
    "Comparison": "meshsim.experiments",
    "apply_overrides": "meshsim.experiments",
    "sweep": "meshsim.experiments",
    "sweep_figure": "meshsim.viz",
    "Results": "meshsim.results",
    "ReplicationResult": "meshsim.results",
    "LoadBalancer": "meshsim.engine",
    "EndpointStats": "meshsim.engine",
    "MeshsimInputError": "meshsim.errors",
    "InputProblem": "meshsim.errors",
}

__all__ = [
    "Comparison",
    "EffectivePolicy",
    "EndpointStats",
    "InputProblem",
    "LoadBalancer",
    "MeshsimInputError",
    "ReplicationResult",
    "Results",
    "Scenario",
    "__version__",
    "apply_overrides",
    "compare",
    "json_schema",
    "load_scenario",
    "resolve_policy",
    "run_replication",
    "simulate",
    "sweep",
    "sweep_figure",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'meshsim' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
