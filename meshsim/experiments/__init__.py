"""Experiments on a scenario: replications on any executor, what-if comparisons, parameter sweeps.

Seeds come from the scenario, never from the worker, so one process, a local process pool
and a Dask cluster give byte-identical results; a what-if reuses the baseline's random
streams (common random numbers) so differences are the change's, not the dice's.

The names load on first use, so a command that only checks a file (``meshsim validate``)
does not pay for pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshsim.experiments._executors import ClusterError, map_jobs
    from meshsim.experiments._knob import Knob, parse_profile, profile_text
    from meshsim.experiments._knobs import BALANCERS, FAULT_KINDS, describe_override, knob_overrides, whatif_knobs
    from meshsim.experiments._simulate import (
        map_replications,
        replication_job,
        run_replication,
        simulate,
    )
    from meshsim.experiments._size import (
        MAX_ATTEMPTS_PER_REQUEST,
        MAX_REPLICAS,
        MAX_REQUESTS,
        RunSize,
        check_size,
        estimate_size,
    )
    from meshsim.experiments._sweep import SweepPlan, metric_column, parse_param, plan_sweep, sweep, write_table
    from meshsim.experiments._whatif import (
        METRIC_UNITS,
        MIN_EFFECT,
        Comparison,
        apply_overrides,
        compare,
        metric_unit,
        overridden_mapping,
        paired_table,
        parse_override,
        parse_value,
    )

# public name -> the module that defines it
_LAZY = {
    "ClusterError": "_executors",
    "map_jobs": "_executors",
    "BALANCERS": "_knobs",
    "FAULT_KINDS": "_knobs",
    "Knob": "_knob",
    "describe_override": "_knobs",
    "knob_overrides": "_knobs",
    "parse_profile": "_knob",
    "profile_text": "_knob",
    "whatif_knobs": "_knobs",
    "map_replications": "_simulate",
    "replication_job": "_simulate",
    "run_replication": "_simulate",
    "simulate": "_simulate",
    "MAX_ATTEMPTS_PER_REQUEST": "_size",
    "MAX_REPLICAS": "_size",
    "MAX_REQUESTS": "_size",
    "RunSize": "_size",
    "check_size": "_size",
    "estimate_size": "_size",
    "SweepPlan": "_sweep",
    "metric_column": "_sweep",
    "parse_param": "_sweep",
    "plan_sweep": "_sweep",
    "sweep": "_sweep",
    "write_table": "_sweep",
    "METRIC_UNITS": "_whatif",
    "MIN_EFFECT": "_whatif",
    "Comparison": "_whatif",
    "apply_overrides": "_whatif",
    "compare": "_whatif",
    "metric_unit": "_whatif",
    "overridden_mapping": "_whatif",
    "paired_table": "_whatif",
    "parse_override": "_whatif",
    "parse_value": "_whatif",
}

__all__ = [
    "BALANCERS",
    "ClusterError",
    "Comparison",
    "FAULT_KINDS",
    "Knob",
    "MAX_ATTEMPTS_PER_REQUEST",
    "MAX_REPLICAS",
    "MAX_REQUESTS",
    "METRIC_UNITS",
    "MIN_EFFECT",
    "RunSize",
    "SweepPlan",
    "apply_overrides",
    "check_size",
    "compare",
    "describe_override",
    "estimate_size",
    "knob_overrides",
    "map_jobs",
    "map_replications",
    "metric_column",
    "metric_unit",
    "overridden_mapping",
    "paired_table",
    "parse_override",
    "parse_param",
    "parse_profile",
    "parse_value",
    "plan_sweep",
    "profile_text",
    "replication_job",
    "run_replication",
    "simulate",
    "sweep",
    "whatif_knobs",
    "write_table",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'meshsim.experiments' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"meshsim.experiments.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
