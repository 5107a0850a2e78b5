"""``meshsim explain FILE``: the effective policy of every edge and where each value came from."""

from __future__ import annotations

import argparse
import json
from typing import Any

from meshsim.cli._common import load

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "explain",
        help="print the effective policy of every call and where each value came from",
        description="One row per called service: the policy its callers' proxies apply, the file's "
        "values over the mesh preset's. --service shows every setting of one service with the "
        "line, import or preset that set it; --json prints every field for machines.",
    )
    p.add_argument("file")
    p.add_argument("--service", help="every setting of calls to this service, with its origin")
    p.add_argument("--json", action="store_true", help="every field with its raw value (seconds) and origin")
    p.set_defaults(func=explain)


def explain(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from meshsim.analysis import SUMMARY_COLUMNS, explain_rows, explain_table, policy_summary, setting_rows

    scenario = load(args.file)
    settings = setting_rows(scenario, args.service)
    if args.json:
        print(json.dumps(explain_rows(scenario, args.service) + settings, indent=2, default=str))
        return 0
    console = Console(width=None if Console().is_terminal else 160)
    preset = f"the {scenario.mesh.defaults} preset" if scenario.mesh.defaults else "no mesh preset"
    if args.service:
        for row in policy_summary(scenario, args.service):
            version = f" (version {row['version']})" if row["version"] else ""
            table = Table(title=f"calls to {row['service']}{version}, from {', '.join(row['callers']) or '-'}")
            for col in ("setting", "value", "set by"):
                table.add_column(col, overflow="fold")
            for item in explain_table(scenario, row["service"], row["version"]):
                table.add_row(item["setting"], item["value"], item["set_by"])
            console.print(table)
        _print_settings(console, settings)
        return 0
    table = Table(title=f"{scenario.name}: effective policy of calls to each service ({preset} under the file)")
    for col in ("service", "called by", *SUMMARY_COLUMNS, "set in the file"):
        table.add_column(col, overflow="fold")
    for row in policy_summary(scenario):
        name = row["service"] + (f" ({row['version']})" if row["version"] else "")
        table.add_row(
            name,
            ", ".join(row["callers"]) or "-",
            *(row[c] for c in SUMMARY_COLUMNS),
            ", ".join(row["from_file"]) or "-",
        )
    console.print(table)
    _print_settings(console, settings)
    console.print(
        f"Settings not set in the file come from {preset}. "
        f"Every setting with its origin: meshsim explain {args.file} --service NAME; all fields: --json",
        highlight=False,
    )

    return 0


def _print_settings(console: Any, settings: list[dict[str, Any]]) -> None:
    """The servers' disciplines, the workloads and the rollout's weights: one small table each."""
    from rich.table import Table

    sections: dict[str, Table] = {}
    for row in settings:
        table = sections.get(row["section"])
        if table is None:
            table = sections[row["section"]] = Table(title=row["section"])
            for col in ("setting", "value", "set by"):
                table.add_column(col, overflow="fold")
        table.add_row(row["field"], str(row["value"]), row["origin"])
    for table in sections.values():
        console.print(table)
