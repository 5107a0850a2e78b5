"""``meshsim check FILE``: the CI gate on the scenario's SLOs (docs/results.md, exit codes). Exit 0 / 1 / 2."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from typing import Any

from meshsim.cli._common import add_run_options, check_output_paths, executor_of, load, progress_bar, write_outputs
from meshsim.errors import MeshsimInputError
from meshsim.experiments import simulate
from meshsim.gate import emit_ci_outputs, junit_xml, print_verdicts
from meshsim.slo import check_exit_code, evaluate_slos, read_slo_file, slo_lines_in_yaml, validate_slo_targets

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="CI gate: exit 1 when a simulated SLO is missed")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--slo", metavar="FILE", help="SLO file (meshsim slos: or OpenSLO v1); replaces the scenario's slos")
    p.add_argument("--junit", metavar="OUT", help="write JUnit XML, one test case per SLO")
    p.add_argument("--confidence", type=float, default=0.95, help="two-sided confidence level (default 0.95)")
    p.add_argument(
        "--allow-inconclusive", action="store_true", help="pass SLOs whose confidence interval straddles the limit"
    )
    p.add_argument("--html", dest="html_out", metavar="OUT", help="also write the HTML report")
    # CI wants an interval over replications: 5 by default, not 1
    add_run_options(p, replications=5, what="replications behind each confidence interval")
    p.set_defaults(func=check)


def check(args: argparse.Namespace) -> int:
    from rich.console import Console

    scenario = load(args.file)
    check_output_paths(args.junit, args.html_out)
    if not 0.0 < args.confidence < 1.0:
        raise MeshsimInputError("must be between 0 and 1, e.g. 0.95", field="--confidence")
    if args.slo:
        slo_file = read_slo_file(args.slo)
        for warning in slo_file.warnings:
            print(f"warning: {warning.render()}", file=sys.stderr)
        slos, source, lines = slo_file.slos, args.slo, slo_file.lines
    else:
        slos, source, lines = list(scenario.slos), args.file, slo_lines_in_yaml(args.file)
    if not slos:
        raise MeshsimInputError(
            "no SLOs to check: add slos: to the scenario or give --slo FILE", file=args.file, field="slos"
        )
    validate_slo_targets(
        slos,
        workloads=[w.name for w in scenario.workload],
        services=list(scenario.services),
        source_file=source,
        slo_lines=lines,
    )
    started = time.perf_counter()
    with progress_bar(f"simulating {scenario.name}", not args.no_progress) as progress:
        results = simulate(
            scenario,
            args.replications,
            workers=args.workers,
            executor=executor_of(args),
            force=args.force,
            progress=progress,
        )
    elapsed = time.perf_counter() - started
    verdicts = evaluate_slos(
        slos,
        results.slo_table(slos),
        confidence=args.confidence,
        allow_inconclusive=args.allow_inconclusive,
        source_file=source,
        slo_lines=lines,
    )
    print_verdicts(verdicts, Console() if Console().is_terminal else Console(width=160))
    emit_ci_outputs(verdicts, scenario_name=scenario.name, scenario_file=source, slo_lines=lines, environ=os.environ)
    from meshsim.report import render_html_report

    junit = functools.partial(
        junit_xml,
        verdicts,
        scenario.name,
        None,
        time_s=elapsed,
        source_file=source,
        slo_lines=lines,
        properties={"seed": scenario.seed, "replications": args.replications},
    )
    # an output that cannot be written fails the gate (2) even when every SLO is met
    written = write_outputs([(args.junit, junit), (args.html_out, lambda: render_html_report(results))], "verdicts")
    return written or check_exit_code(verdicts)
