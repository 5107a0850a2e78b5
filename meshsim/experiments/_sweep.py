"""Parameter sweeps: a grid of scenario overrides, replications per point, one tidy table.

``sweep(scenario, {"policies.cart.retries.attempts": [0, 1, 2], "workload.browse.rate": ["400/s", "800/s"]},
replications=3)`` runs every combination (points in row-major order: the last parameter
varies fastest) and returns a DataFrame with **one row per point and replication**:

- ``point`` (0-based), one column per parameter named by its path, ``replication``, ``seed``,
  ``partial`` (True when Ctrl-C or SIGTERM stopped that run early; ``df.attrs["partial"]``
  says whether any did);
- ``workload:<name>:<metric>`` and ``service:<name>:<metric>`` for every metric of
  :meth:`Results.metrics_table`, named and scaled as there: ``latency_p99_ms``
  (milliseconds), ``throughput_rps``, ``cost_per_million_usd``, ``wasted_work_s``; ratios
  such as ``error_rate`` are fractions in [0, 1];
- ``rollout:outcome``, ``rollout:at_s``, ``rollout:failed_requests`` when the scenario has a rollout.

``df.attrs["params"]`` lists the parameter columns. Every point uses the scenario's seed (unless
``seed`` is itself swept), so points differ by their parameters only (common random numbers). All points x replications
run as one batch on the executor, so a sweep of many small points still fills every core.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from meshsim._types import Progress
from meshsim.errors import MeshsimInputError, write_output
from meshsim.experiments._whatif import ScenarioSource, apply_overrides, parse_value
from meshsim.results import metric_with_unit
from meshsim.scenario import Scenario, load_scenario

__all__ = ["sweep", "plan_sweep", "SweepPlan", "parse_param", "write_table", "metric_column"]


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets and quotes: ``1,{a: 1, b: 2},[3, 4]`` -> 3 items."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def parse_param(text: str) -> tuple[str, list[Any]]:
    """``"policies.cart.retries.attempts=0,1,2"`` -> ``("policies.cart.retries.attempts", [0, 1, 2])``."""
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep or not path or not raw.strip():
        raise MeshsimInputError(
            f"'{text}': write path=v1,v2,..., e.g. policies.cart.retries.attempts=0,1,2", field="--param"
        )
    items = _split_top_level(raw)
    if any(not item for item in items):
        raise MeshsimInputError(f"'{text}': an empty value in the list", field="--param")
    return path, [parse_value(item) for item in items]


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, sort_keys=True)


def _column_values(values: list[Any]) -> list[Any]:
    """Keep numbers numeric and booleans boolean; anything mixed becomes text (Parquet needs one type)."""
    if all(isinstance(v, bool) for v in values):
        return values
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return values
    return [_as_text(v) for v in values]


def metric_column(scope: str, name: str, metric: str) -> str:
    """Column name of a metric: ``workload:browse:latency_p99_ms`` for ``latency_p99`` (or ``latency_p99_ms``)."""
    return f"{scope}:{name}:{metric_with_unit(metric)[0]}"


@dataclass
class SweepPlan:
    """A validated grid: the base scenario, parameter paths, value combinations and point scenarios."""

    base: Scenario
    names: list[str]
    grid: list[tuple[Any, ...]]
    points: list[Scenario]


def plan_sweep(scenario: ScenarioSource, params: Mapping[str, Sequence[Any]] | Sequence[str]) -> SweepPlan:
    """Parse the parameters and build (and validate) every point's scenario; nothing runs yet."""
    if not isinstance(params, Mapping):
        parsed = [parse_param(p) for p in params]
        paths = [p for p, _ in parsed]
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        if dupes:
            raise MeshsimInputError(f"parameter {dupes[0]} is given twice", field="--param")
        params = dict(parsed)
    if not params:
        raise MeshsimInputError(
            "give at least one parameter, e.g. --param policies.cart.retries.attempts=0,1,2", field="--param"
        )
    names = list(params)
    for name in names:
        if len(params[name]) == 0:
            raise MeshsimInputError(f"parameter {name} has no values", field="--param")
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    grid = list(itertools.product(*(list(params[n]) for n in names)))
    points = []
    for combo in grid:
        points.append(apply_overrides(scenario, list(zip(names, combo)), label="--param"))
    return SweepPlan(base, names, grid, points)


def sweep(
    scenario: ScenarioSource | SweepPlan,
    params: Mapping[str, Sequence[Any]] | Sequence[str] | None = None,
    replications: int = 1,
    *,
    executor: str = "auto",
    workers: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> pd.DataFrame:
    """Run the grid of ``params`` (path -> values, or ``"path=v1,v2"`` strings); see the module doc."""
    from meshsim.experiments._executors import map_jobs
    from meshsim.experiments._simulate import replication_job
    from meshsim.experiments._size import check_sizes

    if replications < 1:
        raise MeshsimInputError("replications must be at least 1", field="replications")
    if isinstance(scenario, SweepPlan):
        plan = scenario
    else:
        if params is None:
            raise MeshsimInputError("give the parameters to sweep", field="--param")
        plan = plan_sweep(scenario, params)
    base, names, grid, points = plan.base, plan.names, plan.grid, plan.points
    check_sizes(points, replications, force, what="sweep")
    jobs = [(p, r, 0.0) for p in points for r in range(replications)]
    results = map_jobs(replication_job, jobs, executor, workers=workers, progress=progress)
    columns = {n: _column_values([c[i] for c in grid]) for i, n in enumerate(names)}
    rows = []
    for j, res in enumerate(results):
        pi = j // replications
        row: dict[str, Any] = {"point": pi}
        for n in names:
            row[n] = columns[n][pi]
        row["replication"] = res.replication
        row["seed"] = int(points[pi].seed)
        row["partial"] = res.partial  # stopped by Ctrl-C or SIGTERM: the metrics cover what ran
        for w in res.workloads:
            for m, v in res.workload_metrics(w).items():
                row[metric_column("workload", w, m)] = v * metric_with_unit(m)[1]
        for s in res.services:
            for m, v in res.service_metrics(s).items():
                row[metric_column("service", s, m)] = v * metric_with_unit(m)[1]
        ro = res.extras.get("rollout")
        if ro:
            row["rollout:outcome"] = ro.get("outcome")
            row["rollout:at_s"] = math.nan if ro.get("at_s") is None else ro["at_s"]
            row["rollout:failed_requests"] = ro.get("failed_requests")
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["params"] = names
    df.attrs["scenario"] = base.name
    df.attrs["partial"] = any(res.partial for res in results)
    return df


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write a sweep table as ``.csv`` or ``.parquet`` (needs pyarrow), by the file's suffix."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise MeshsimInputError(f"{p}: write .csv or .parquet", field="--out")
    if suffix == ".csv":
        write_output(p, df.to_csv(index=False), what="table")
        return
    try:
        import pyarrow  # noqa: F401 (imported only to probe that it is installed)
    except ImportError:
        raise MeshsimInputError(
            "Parquet needs pyarrow: pip install 'meshsim[parquet]', or write .csv", field="--out"
        ) from None
    out = df.copy()
    out.attrs = {}  # pyarrow would store attrs as JSON metadata; params are columns already
    write_output(p, out.to_parquet(index=False), what="table")
