"""``meshsim run FILE``: simulate and print a summary table."""

from __future__ import annotations

import argparse
import math
from typing import Any

from meshsim.cli._common import add_run_options, check_output_paths, executor_of, load, progress_bar, write_outputs
from meshsim.experiments import simulate
from meshsim.results import format_metric

__all__ = ["register", "summary_tables"]


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="simulate a scenario and print a summary")
    p.add_argument("file", help="scenario YAML file")
    add_run_options(p)
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the results JSON (docs/results.md)")
    p.add_argument("--html", dest="html_out", metavar="OUT", help="write a self-contained HTML report")
    p.add_argument(
        "--traces",
        dest="traces_out",
        metavar="OUT",
        help="export sampled requests as OTLP JSON (Jaeger or Zipkin when the name says so; .gz compresses)",
    )
    p.add_argument(
        "--trace-format",
        choices=("otlp", "jaeger", "zipkin"),
        default=None,
        help="format of --traces (default: from the file name, else otlp)",
    )
    p.add_argument("--trace-sample", type=float, default=0.01, help="share of requests to export (default 0.01)")
    p.set_defaults(func=run)


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}"


def summary_tables(data: dict[str, Any]) -> list[Any]:
    """Rich tables of a docs/results.md results dict: workloads and services (ms, %, requests/s)."""
    from rich.table import Table

    wt = Table(title=f"{data['scenario']}: workloads ({data['replications']} replication(s))")
    for col in (
        "workload",
        "requests",
        "ok",
        "error rate",
        "rps",
        "mean ms",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "p99 95% CI ms",
        "failures by cause",
    ):
        wt.add_column(col, justify="right" if col not in ("workload", "failures by cause") else "left")
    for name, w in data["workloads"].items():
        lat = w["latency_ms"]
        ci = w["latency_p99_ci_ms"]
        ci_txt = f"{_fmt(ci[0])}-{_fmt(ci[1])}" if ci[0] is not None else "-"
        causes = ", ".join(f"{c} {n}" for c, n in w["failed"].items()) or "-"
        wt.add_row(
            name,
            _fmt(w["requests"]),
            _fmt(w["ok"]),
            format_metric(w["error_rate"], "ratio"),
            _fmt(w["throughput_rps"]),
            _fmt(lat["mean"]),
            _fmt(lat["p50"]),
            _fmt(lat["p90"]),
            _fmt(lat["p99"]),
            _fmt(lat["p999"]),
            ci_txt,
            causes,
        )
    st = Table(title="services")
    for col in (
        "service",
        "attempts",
        "retries",
        "amplification",
        "utilization",
        "ejections",
        "p50 ms",
        "p99 ms",
        "failures by cause",
    ):
        st.add_column(col, justify="right" if col not in ("service", "failures by cause") else "left")
    for name, s in data["services"].items():
        causes = ", ".join(f"{c} {n}" for c, n in s["failed"].items()) or "-"
        st.add_row(
            name,
            _fmt(s["attempts"]),
            _fmt(s["retries"]),
            _fmt(s["amplification"], 2),
            format_metric(s["utilization"], "ratio"),
            _fmt(s["ejections"]),
            _fmt(s["latency_ms"]["p50"]),
            _fmt(s["latency_ms"]["p99"]),
            causes,
        )
    return [wt, st]


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    scenario = load(args.file)
    check_output_paths(args.json_out, args.html_out, args.traces_out)
    trace_sample = args.trace_sample if args.traces_out else 0.0
    with progress_bar(f"simulating {scenario.name}", not args.no_progress) as progress:
        results = simulate(
            scenario,
            args.replications,
            workers=args.workers,
            executor=executor_of(args),
            trace_sample=trace_sample,
            force=args.force,
            progress=progress,
        )
    data = results.to_dict()
    console = Console(width=None if Console().is_terminal else 160)
    for table in summary_tables(data):
        console.print(table)
    cost = data["cost"]
    console.print(
        f"cross-boundary traffic per replication: {cost['egress_gb']:.6f} GB, ${cost['egress_usd']:.6f} "
        f"(${cost['usd_per_million_requests'] or 0:.4f} per million requests)",
        highlight=False,
    )
    if scenario.slos:
        from meshsim.gate import verdicts_table
        from meshsim.slo import evaluate_slos

        verdicts = evaluate_slos(scenario.slos, results.metrics_table_si())
        console.print(verdicts_table(verdicts, title="SLOs (run reports them; meshsim check gates on them)"))
        for v in verdicts:
            if v.note:
                console.print(f"note: {v.name}: {v.note}", highlight=False)
    from meshsim.report import render_html_report

    code = write_outputs(
        [(args.json_out, lambda: results.to_json() + "\n"), (args.html_out, lambda: render_html_report(results))]
    )
    if args.traces_out:
        import sys

        from meshsim.calibrate import trace_format_for, write_simulated_traces
        from meshsim.errors import MeshsimOutputError

        try:
            path, n = write_simulated_traces(results, args.traces_out, args.trace_format)
        except MeshsimOutputError as exc:
            print(exc.render(), file=sys.stderr)
            return 2
        print(
            f"wrote {n:,} sampled request(s) as {trace_format_for(path, args.trace_format)} JSON to {path}; "
            f"calibrate with --sample-rate {args.trace_sample:g}",
            file=sys.stderr,
        )
    return code
