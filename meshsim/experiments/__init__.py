"""Experiments on a scenario: replications on any executor, what-if comparisons, parameter sweeps.

Seeds come from the scenario, never from the worker, so one process, a local process pool
and a Dask cluster give byte-identical results; a what-if reuses the baseline's random
streams (common random numbers) so differences are the change's, not the dice's.
"""

from __future__ import annotations

from meshsim.experiments._executors import ClusterError, map_jobs
from meshsim.experiments._knobs import (
    BALANCERS,
    FAULT_KINDS,
    Knob,
    describe_override,
    knob_overrides,
    parse_profile,
    profile_text,
    whatif_knobs,
)
from meshsim.experiments._simulate import (
    MAX_REQUESTS,
    check_size,
    map_replications,
    replication_job,
    run_replication,
    simulate,
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

__all__ = [
    "BALANCERS",
    "FAULT_KINDS",
    "Knob",
    "MAX_REQUESTS",
    "METRIC_UNITS",
    "MIN_EFFECT",
    "ClusterError",
    "Comparison",
    "SweepPlan",
    "apply_overrides",
    "check_size",
    "compare",
    "describe_override",
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
