"""Experiments on a scenario: replications on any executor, what-if comparisons, parameter sweeps.

Seeds come from the scenario, never from the worker, so one process, a local process pool
and a Dask cluster give byte-identical results; a what-if reuses the baseline's random
streams (common random numbers) so differences are the change's, not the dice's.
"""

from __future__ import annotations

from meshsim.experiments._executors import ClusterError, map_jobs
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
    paired_table,
    parse_override,
    parse_value,
)

__all__ = [
    "MAX_ATTEMPTS_PER_REQUEST",
    "MAX_REPLICAS",
    "MAX_REQUESTS",
    "METRIC_UNITS",
    "MIN_EFFECT",
    "ClusterError",
    "Comparison",
    "RunSize",
    "SweepPlan",
    "apply_overrides",
    "check_size",
    "compare",
    "estimate_size",
    "map_jobs",
    "map_replications",
    "metric_column",
    "metric_unit",
    "paired_table",
    "parse_override",
    "parse_param",
    "parse_value",
    "plan_sweep",
    "replication_job",
    "run_replication",
    "simulate",
    "sweep",
    "write_table",
]
