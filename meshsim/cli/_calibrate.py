"""``meshsim calibrate TRACES...`` and ``meshsim twin-check SCENARIO TRACES...``.

calibrate: traces (+ Prometheus metrics, Kubernetes manifests) -> a commented scenario.
twin-check: simulate a scenario at the traces' load and compare; exit 0 within
tolerance, 1 not, 2 bad input. Warnings (with counts) go to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from meshsim.cli._common import add_run_options, check_output_paths, executor_of, load, progress_bar, write_outputs
from meshsim.units import UnitError, parse_duration, parse_ratio

__all__ = ["register"]

_FORMATS = ("otlp", "jaeger", "zipkin")


def _ratio(text: str) -> float:
    try:
        return parse_ratio(text, "value")
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None


def _positive_ratio(text: str) -> float:
    value = _ratio(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
    return value


def _tolerance(text: str) -> float:
    # 0.1 or 10%; a tolerance above 100% is allowed (a p99 may be off by 2x on purpose)
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"write e.g. 0.1 or 10%, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
    return value


def _duration(text: str) -> float:
    try:
        value = parse_duration(text, "value")
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="build a scenario from OTLP/Jaeger/Zipkin traces, Prometheus metrics and Kubernetes manifests",
        description="Build a commented scenario from traces (OTLP, Jaeger or Zipkin JSON, plain or gzip), "
        "Prometheus text exposition and Kubernetes manifests. Every value says where it came from.",
    )
    p.add_argument("traces", nargs="*", metavar="TRACES", help="trace files or folders of them")
    p.add_argument("--format", choices=_FORMATS, help="trace format (default: detected per file)")
    p.add_argument(
        "--metrics",
        action="append",
        metavar="FILE",
        help="Prometheus text exposition (istio_*, Linkerd response_*); repeat for several scrapes",
    )
    p.add_argument(
        "--metrics-window",
        type=_duration,
        metavar="DURATION",
        help="time a single scrape's counters cover, e.g. 10m (for rates)",
    )
    p.add_argument(
        "--manifests",
        nargs="+",
        action="extend",
        metavar="PATH",
        help="Kubernetes YAML files or folders: replicas, versions, placement",
    )
    p.add_argument(
        "--sample-rate",
        type=_positive_ratio,
        default=1.0,
        help="share of requests the traces kept, e.g. 0.01 or 1%% (rates are divided by it)",
    )
    p.add_argument("--name", help="scenario name (default: the output file's name, else 'calibrated')")
    p.add_argument("--seed", type=int, default=1, help="scenario seed (default 1)")
    p.add_argument("-o", "--output", metavar="scenario.yaml", help="write the scenario here (default: stdout)")
    p.set_defaults(func=calibrate_cmd)

    t = sub.add_parser(
        "twin-check",
        help="simulate a scenario at the traces' load and compare latency and errors with them",
        description="Simulate SCENARIO at the load the traces show and print, per entry point and service, "
        "observed vs predicted p50/p90/p99 and error rate. Exit 0 when every check is within the tolerance "
        "or the traces' sampling error (--confidence), 1 when not, 2 on bad input.",
    )
    t.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    t.add_argument("traces", nargs="+", metavar="TRACES", help="trace files or folders of them")
    t.add_argument("--format", choices=_FORMATS, help="trace format (default: detected per file)")
    t.add_argument(
        "--tolerance",
        type=_tolerance,
        default=0.1,
        help="allowed relative error of each percentile, e.g. 0.1 or 10%% (default 0.1)",
    )
    t.add_argument(
        "--sample-rate", type=_positive_ratio, default=1.0, help="share of requests the traces kept (default 1)"
    )
    t.add_argument(
        "--duration", type=_duration, metavar="DURATION", help="simulated time after warm-up (default: the scenario's)"
    )
    t.add_argument(
        "--confidence",
        type=float,
        default=0.99,
        help="a percentile inside the observed value's confidence interval also passes (default 0.99; "
        "0 turns this off)",
    )
    t.add_argument("--json", dest="json_out", metavar="OUT", help="write the comparison as JSON")
    add_run_options(t)
    t.set_defaults(func=twin_check_cmd)


def _print_warnings(warnings: list[str]) -> None:
    if not warnings:
        return
    print(f"{len(warnings)} warning(s):", file=sys.stderr)
    for w in warnings:
        print(f"  warning: {w}", file=sys.stderr)


def calibrate_cmd(args: argparse.Namespace) -> int:
    from meshsim.calibrate import calibrate
    from meshsim.errors import MeshsimInputError

    check_output_paths(args.output)
    if not args.traces and not args.metrics:
        raise MeshsimInputError("give trace files (TRACES...) and/or --metrics FILE", field="calibrate")
    name = args.name or (Path(args.output).name.split(".")[0] if args.output else "calibrated")
    result = calibrate(
        args.traces,
        args.format,
        args.metrics,
        args.manifests,
        name=name,
        seed=args.seed,
        sample_rate=args.sample_rate,
        metrics_window_s=args.metrics_window,
    )
    _print_warnings(result.warnings)
    text = result.to_yaml()
    g = result.graph
    what = (
        f"{g.number_of_nodes()} service(s), {g.number_of_edges()} call edge(s), "
        f"{len(result.scenario.get('workload', []))} entry point(s)"
    )
    if args.output:
        if write_outputs([(args.output, lambda: text)], "calibrated scenario"):
            return 2
        print(f"calibrated {name}: {what} -> {args.output}", file=sys.stderr)
    else:
        write_outputs([("-", lambda: text)])  # UTF-8 on standard output, whatever the terminal's encoding
        print(f"calibrated {name}: {what}", file=sys.stderr)
    return 0


def _on_sampling_error(r: Any, tolerance: float) -> bool:
    """A check that passed only because the traces' own sampling error is wider than the tolerance."""
    return bool(r["checked"] and r["within_tolerance"] and r["abs_error"] > tolerance * abs(r["observed"]))


def _cell(rows: Any, metric: str, tolerance: float, scale: float = 1.0, digits: int = 2, pct: bool = False) -> str:
    r = rows.get(metric)
    if r is None:
        return "-"

    def num(x: float) -> str:
        if math.isnan(x):
            return "-"
        return f"{x * 100:.{digits}f}%" if pct else f"{x * scale:,.{digits}f}"

    text = f"{num(r['observed'])} / {num(r['predicted'])}"
    if not (math.isnan(r["observed"]) or math.isnan(r["predicted"]) or pct):
        rel = r["rel_error"]
        text += f" ({'+' if r['predicted'] >= r['observed'] else '-'}{100 * rel:.1f}%)" if math.isfinite(rel) else ""
    if not r["checked"]:
        return f"[dim]{text} ·[/dim]"  # the dot says it in a log without colours
    if not r["within_tolerance"]:
        return f"[bold red]{text} ✗[/bold red]"
    return f"[yellow]{text} ~[/yellow]" if _on_sampling_error(r, tolerance) else text


def twin_check_cmd(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from meshsim.calibrate import read_traces, twin_check
    from meshsim.errors import MeshsimInputError

    if args.replications < 1:
        raise MeshsimInputError("must be at least 1", field="--replications")
    if not 0 <= args.confidence < 1:
        raise MeshsimInputError("must be in [0, 1), e.g. 0.99", field="--confidence")
    check_output_paths(args.json_out)
    scenario = load(args.scenario)
    spans = read_traces(args.traces, args.format)  # bad files fail here, before the progress bar
    with progress_bar(f"simulating {scenario.name}", not args.no_progress) as progress:
        tc = twin_check(
            scenario,
            spans=spans,
            tolerance=args.tolerance,
            replications=args.replications,
            sample_rate=args.sample_rate,
            duration_s=args.duration,
            confidence=args.confidence,
            workers=args.workers,
            executor=executor_of(args),
            force=args.force,
            progress=progress,
        )
    _print_warnings(tc.warnings)
    console = Console(width=None if Console().is_terminal else 160)
    table = Table(
        title=f"twin check of {scenario.name}: observed / predicted (relative error); a check passes within "
        f"{100 * tc.tolerance:g}% or within the traces' sampling error, whichever is wider"
    )
    for col in ("scope", "name", "n observed", "p50 ms", "p90 ms", "p99 ms", "error rate"):
        table.add_column(col, justify="left" if col in ("scope", "name") else "right")
    for (scope, name), g in tc.table.groupby(["scope", "name"], sort=False):
        rows = {r["metric"]: r for r in g.to_dict(orient="records")}
        obs = tc.observed[(tc.observed["scope"] == scope) & (tc.observed["name"] == name)]
        n = f"{int(obs['count'].iloc[0]):,}" if len(obs) else "-"
        table.add_row(
            str(scope),
            str(name),
            n,
            _cell(rows, "p50_ms", tc.tolerance),
            _cell(rows, "p90_ms", tc.tolerance),
            _cell(rows, "p99_ms", tc.tolerance),
            _cell(rows, "error_rate", tc.tolerance, digits=3, pct=True),
        )
    console.print(table)
    load_row: Any  # a row of tc.load; pandas-stubs cannot know its columns' types
    for load_row in tc.load.itertuples(index=False):
        seen = (
            f"{load_row.observed_rate:,.4g}/s from {load_row.roots:,} root spans"
            if load_row.observed_rate == load_row.observed_rate
            else f"no rate in the traces ({load_row.roots:,} root spans)"
        )
        console.print(
            f"load at {load_row.entry}: simulated {load_row.simulated_rate:,.4g}/s ({seen}; "
            f"the scenario says {load_row.scenario_rate:,.4g}/s)"
        )
    sampled = [r for r in tc.table.to_dict(orient="records") if _on_sampling_error(r, tc.tolerance)]
    if sampled:
        console.print(
            f"[yellow]{len(sampled)} cell(s) marked ~ are off by more than {100 * tc.tolerance:g}% but within the "
            f"traces' sampling error (the observed percentile's {100 * args.confidence:g}% interval; 3 standard "
            "errors for an error rate): too few requests to call them wrong; more traces narrow it[/yellow]",
            highlight=False,
        )
    skipped = tc.table[~tc.table["checked"]]
    if len(skipped):
        console.print(
            f"[dim]{len(skipped)} cell(s) marked · not checked: too few observations beyond the "
            "percentile, or not in both the traces and the scenario[/dim]",
            highlight=False,
        )
    console.print(
        ("[green]" if tc.ok else "[bold red]") + str(tc.verdict) + ("[/green]" if tc.ok else "[/bold red]"),
        highlight=False,
    )
    written = write_outputs(
        [(args.json_out, lambda: json.dumps(tc.to_dict(), indent=2, allow_nan=False) + "\n")], "comparison"
    )
    return written or (0 if tc.ok else 1)
