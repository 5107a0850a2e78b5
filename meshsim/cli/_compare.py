"""``meshsim compare BASE [CHANGED] [--set path=value ...]``: what-if with confidence intervals."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from meshsim.cli._common import add_run_options, check_output_paths, executor_of, progress_bar, write_outputs

__all__ = ["register", "comparison_table"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="what-if: run two scenarios with the same random numbers and show the differences",
        description="Runs BASE and CHANGED (or BASE with --set overrides) with common random numbers and "
        "prints every workload and service metric side by side: the paired difference, its "
        "confidence interval and whether it is significant.",
    )
    p.add_argument("base", help="scenario YAML file")
    p.add_argument("changed", nargs="?", default=None, help="second scenario file (or use --set)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change a field, e.g. --set policies.cart.retries.attempts=0 (repeatable; "
        "applies to CHANGED when given, else to BASE)",
    )
    add_run_options(p, replications=5, what="paired replications of each scenario")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument(
        "--min-effect",
        type=float,
        default=None,
        metavar="RATIO",
        help="smallest relative change called significant (default 0.001 = 0.1%%)",
    )
    p.add_argument("--only-significant", action="store_true", help="print only significant differences")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the comparison as JSON")
    p.set_defaults(func=run)


def _fmt(x: Any, unit: str, signed: bool = False) -> str:
    from meshsim.results import format_metric

    return format_metric(x, unit, signed)


def comparison_table(cmp: Any, only_significant: bool = False) -> Any:
    """A rich table of a :class:`~meshsim.experiments.Comparison`: values in ms, %, /s, $ (unit per metric)."""
    from rich.table import Table

    conf = f"{cmp.confidence:.0%}"
    t = Table(
        title=f"{cmp.base.scenario.name} -> {cmp.changed.scenario.name}: "
        f"{len(cmp.base.replications)} paired replication(s)"
    )
    for col, right in (
        ("scope", False),
        ("name", False),
        ("metric", False),
        ("base", True),
        ("changed", True),
        ("difference", True),
        (f"{conf} CI", True),
        ("change", True),
        ("significant", False),
    ):
        t.add_column(col, justify="right" if right else "left")
    rows = cmp.significant() if only_significant else cmp.table
    for rec in rows.to_dict("records"):
        unit = rec["unit"]
        lo, hi = rec["diff_ci_low"], rec["diff_ci_high"]
        ci = "-" if lo is None or math.isnan(lo) else f"{_fmt(lo, unit, True)} .. {_fmt(hi, unit, True)}"
        rel = rec["rel_change"]
        rel_txt = "-" if rel is None or math.isnan(rel) else f"{rel * 100:+.1f}%"
        sig = "n/a" if rec["replications"] < 2 else "[bold red]yes[/]" if rec["significant"] else "no"
        t.add_row(
            rec["scope"],
            rec["name"],
            rec["metric"],
            _fmt(rec["base_mean"], unit),
            _fmt(rec["changed_mean"], unit),
            _fmt(rec["diff"], unit, True),
            ci,
            rel_txt,
            sig,
        )
    return t


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from meshsim.cli._common import load
    from meshsim.errors import MeshsimInputError
    from meshsim.experiments import apply_overrides, compare

    if args.changed is None and not args.overrides:
        raise MeshsimInputError("give a second scenario file or at least one --set path=value")
    if not 0.5 <= args.confidence < 1.0:
        raise MeshsimInputError("--confidence must be between 0.5 and 1 (e.g. 0.95)", field="--confidence")
    check_output_paths(args.json_out)
    base = load(args.base)
    changed = load(args.changed) if args.changed else None
    if args.overrides:  # validated before the progress bar starts
        changed = apply_overrides(changed if changed is not None else base, args.overrides)
    with progress_bar(f"comparing {base.name}", not args.no_progress) as progress:
        cmp = compare(
            base,
            changed,
            args.replications,
            executor=executor_of(args),
            workers=args.workers,
            confidence=args.confidence,
            progress=progress,
            force=args.force,
            **({"min_effect": args.min_effect} if args.min_effect is not None else {}),
        )
    cmp.overrides = list(args.overrides)
    console = Console(width=None if Console().is_terminal else 160)
    console.print(comparison_table(cmp, args.only_significant))
    for note in cmp.notes:
        console.print(f"note: {note}")
    if args.replications < 2:
        console.print("note: run with --replications 2 or more for confidence intervals")
    n_sig = int(cmp.table["significant"].sum())
    console.print(f"{n_sig} of {len(cmp.table)} metrics changed significantly ({cmp.confidence:.0%} paired t interval)")
    data = cmp.to_dict()
    for label_, ro in data.get("rollout", {}).items():
        console.print(
            f"rollout ({label_}): {ro.get('outcome')} at {ro.get('at_s')} s, "
            f"{ro.get('failed_requests')} failed requests on the canary"
        )
    return write_outputs([(args.json_out, lambda: json.dumps(data, indent=2, allow_nan=False) + "\n")], "comparison")
