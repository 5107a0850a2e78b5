"""Run every lab scenario (models/lab/*.yaml) on a real Traefik on loopback and write a report.

Not part of `make test` (several minutes): each scenario gets a calibration run, N live runs
and M simulated replications; the report is a Markdown table per scenario (measured with its
run-to-run spread, predicted with its spread over replications, the tolerance and the
verdict) plus the calibration figures, and the JSON of every scenario beside it.

    .venv/bin/python benchmarks/lab_report.py                 # 3 live runs, 10 replications
    .venv/bin/python benchmarks/lab_report.py --runs 5 --out lab-report.md models/lab/canary.yaml
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from meshsim.lab import LabOptions, run_lab
from meshsim.lab._report import table_rows

ROOT = Path(__file__).resolve().parents[1]


def _markdown(report, elapsed_s: float) -> str:
    plan = report.plan
    cal = report.calibration_dict()
    lines = [
        f"### {plan.scenario.name} (`{Path(plan.scenario.source_file or '').name}`)",
        "",
        f"{len(report.live)} live runs of {plan.warmup_s:g} s warm-up + {plan.duration_s:g} s on Traefik "
        f"{report.traefik_version}; {report.options.sim_replications} simulated replications; "
        f"{elapsed_s:.0f} s wall clock. Calibration at {cal['rate_per_s']:g}/s: one-way loopback p50 "
        f"{cal['one_way_ms']['p50']} ms, Traefik overhead per traversal p50 {cal['proxy_overhead_ms']['p50']} ms "
        f"(p99 {cal['proxy_overhead_ms']['p99']} ms); timer overshoot {cal['timer_overshoot_ms']} ms "
        f"({'fed to' if cal['overshoot_fed_to_prediction'] else 'not fed to'} the prediction).",
        "",
        "| metric | target | measured ± sd [range] | predicted ± sd | tolerance | within |",
        "|---|---|---|---|---|---|",
    ]
    for cells in table_rows(report):
        _, metric, target, measured, predicted, tolerance, within = cells
        lines.append(f"| {metric} | {target or '-'} | {measured} | {predicted} | {tolerance} | {within} |")
    m = report.measured["workloads"]
    p = report.predicted["workloads"]
    for name in m:
        lines.append("")
        lines.append(
            f"Failures by cause ({name}): measured {m[name]['failed'] or '{}'} over {m[name]['requests']} requests; "
            f"predicted {p[name]['failed'] or '{}'} over {p[name]['requests']} requests."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", help="scenario files (default: models/lab/*.yaml)")
    ap.add_argument("--runs", type=int, default=3, help="live runs per scenario (default 3)")
    ap.add_argument("--replications", type=int, default=10, help="simulated replications (default 10)")
    ap.add_argument("--duration", type=float, default=None, help="override each scenario's duration, seconds")
    ap.add_argument("--out", default="lab-report.md", help="Markdown report (JSON files go beside it)")
    args = ap.parse_args(argv)
    files = [Path(s) for s in args.scenarios] or sorted((ROOT / "models" / "lab").glob("*.yaml"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parts = [
        "# meshsim lab report",
        "",
        f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}; one run after another, nothing else asked of the machine by this script.",
        "",
    ]
    verdicts = []
    for f in files:
        t0 = time.monotonic()
        opts = LabOptions(duration_s=args.duration, replications=args.runs, sim_replications=args.replications)
        report = run_lab(f, opts, progress=lambda msg, name=f.name: print(f"{name}: {msg}", file=sys.stderr))
        elapsed = time.monotonic() - t0
        parts.append(_markdown(report, elapsed))
        (out.parent / f"{out.stem}-{f.stem}.json").write_text(json.dumps(report.to_dict(), indent=2))
        verdicts.append((f.name, report.within, sum(not r["within"] for r in report.rows)))
        print(parts[-1])
    parts.append("| scenario | every metric within | metrics outside |")
    parts.append("|---|---|---|")
    parts += [f"| {name} | {'yes' if ok else 'no'} | {n} |" for name, ok, n in verdicts]
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
