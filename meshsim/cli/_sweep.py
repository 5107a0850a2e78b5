"""``meshsim sweep FILE --param path=v1,v2 [--param ...]``: a grid of runs, a tidy table, a figure."""

from __future__ import annotations

import argparse
from typing import Any

from meshsim.cli._common import add_run_options, check_output_paths, executor_of, progress_bar, write_outputs

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of parameter values; write a tidy CSV/Parquet table and a figure",
        description="Every combination of the --param values is one point; each point runs "
        "--replications times with the scenario's seed. The table has one row per point "
        "and replication (see meshsim.sweep).",
    )
    p.add_argument("file", help="scenario YAML file")
    p.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="PATH=V1,V2",
        help="a parameter and its values, e.g. --param policies.cart.retries.attempts=0,1,2 "
        "(repeatable; values are YAML)",
    )
    add_run_options(p, replications=3, what="replications per point")
    p.add_argument("--out", metavar="FILE", help="write the table: .csv or .parquet")
    p.add_argument("--html", dest="html_out", metavar="FILE", help="write a plotly figure (HTML)")
    p.add_argument(
        "--metric",
        dest="metrics",
        action="append",
        default=None,
        help="metric to plot and print, as in Results.summary() (repeatable; default latency_p99_ms and error_rate)",
    )
    p.add_argument("--workload", default=None, help="workload to plot (default: the first)")
    p.add_argument("--service", default=None, help="plot this service's metrics instead of a workload's")
    p.set_defaults(func=run)


def _fmt(column: str, x: float) -> str:
    from meshsim.experiments import metric_unit
    from meshsim.results import format_metric

    return format_metric(x, metric_unit(column.rsplit(":", 1)[1]))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from meshsim.cli._common import load
    from meshsim.errors import MeshsimInputError, MeshsimOutputError
    from meshsim.experiments import metric_column, plan_sweep, sweep, write_table
    from meshsim.stats import mean_ci
    from meshsim.viz import pick_entity, sweep_figure

    if not args.params:
        raise MeshsimInputError("give at least one --param path=v1,v2,...", field="--param")
    if args.out and not args.out.lower().endswith((".csv", ".parquet", ".pq")):
        raise MeshsimInputError(f"{args.out}: --out must end in .csv or .parquet", field="--out")
    check_output_paths(args.out, args.html_out)
    scenario = load(args.file)
    plan = plan_sweep(args.file, args.params)  # every point is validated before anything runs
    with progress_bar(f"sweeping {scenario.name}", not args.no_progress) as progress:
        df = sweep(
            plan,
            None,
            args.replications,
            executor=executor_of(args),
            workers=args.workers,
            progress=progress,
            force=args.force,
        )
    metrics = args.metrics or ["latency_p99_ms", "error_rate"]
    scope, entity = (
        ("service", pick_entity(df, "service", args.service))
        if args.service
        else ("workload", pick_entity(df, "workload", args.workload))
    )
    columns = [metric_column(scope, entity, m) for m in metrics]
    for c in columns:
        if c not in df.columns:
            raise MeshsimInputError(f"no metric column {c} in the sweep", field="--metric")
    params = df.attrs["params"]
    table = Table(title=f"{scenario.name}: {entity}, mean over {args.replications} replication(s)")
    for name in ["point"] + params + [c.rsplit(":", 1)[1] for c in columns]:
        table.add_column(name, justify="right")
    for point, grp in df.groupby("point", sort=True):
        cells = [str(point)] + [str(grp[p].iloc[0]) for p in params]
        for c in columns:
            m, _, _ = mean_ci(list(grp[c].astype(float)))
            cells.append(_fmt(c, m))
        table.add_row(*cells)
    console = Console(width=None if Console().is_terminal else 160)
    console.print(table)
    code = 0
    if args.out:
        try:
            write_table(df, args.out)
            console.print(f"table: {args.out} ({len(df)} rows: one per point and replication)")
        except MeshsimOutputError:  # keep the table: CSV beside the failure note
            code = write_outputs([(args.out, lambda: df.to_csv(index=False))], "sweep table (as CSV)")
    if args.html_out:
        fig = sweep_figure(df, metrics, workload=args.workload, service=args.service)
        html = lambda: str(fig.to_html(include_plotlyjs=True, full_html=True))  # noqa: E731
        if write_outputs([(args.html_out, html)], "figure") == 0:
            console.print(f"figure: {args.html_out}")
        else:
            code = 2
    return code
