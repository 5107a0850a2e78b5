"""meshsim: a discrete-event simulator and digital twin of multi-cloud service meshes.

Nothing runs at import; the public names are listed in ``__all__`` (guarded by a test).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import InputProblem, MeshsimInputError
from .policies.balancers import EndpointStats, LoadBalancer
from .policies.effective import EffectivePolicy, resolve_policy
from .results import ReplicationResult, Results
from .runners import run_replication, simulate
from .scenario import Scenario, json_schema, load_scenario
from .sweep import sweep, sweep_figure
from .whatif import Comparison, apply_overrides, compare

try:
    __version__ = version("meshsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = [
    "__version__",
    "Scenario",
    "load_scenario",
    "json_schema",
    "simulate",
    "run_replication",
    "compare",
    "Comparison",
    "apply_overrides",
    "sweep",
    "sweep_figure",
    "Results",
    "ReplicationResult",
    "EffectivePolicy",
    "resolve_policy",
    "LoadBalancer",
    "EndpointStats",
    "MeshsimInputError",
    "InputProblem",
]
