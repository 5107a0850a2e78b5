"""``meshsim explain FILE``: the effective policy of every edge and where each value came from."""

from __future__ import annotations

import argparse
import json
from typing import Any

from meshsim.cli._common import load

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("explain", help="print the effective policy of every edge and its origin")
    p.add_argument("file")
    p.add_argument("--service", help="only calls to this service")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=explain)


def explain(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from meshsim.analysis import explain_rows, setting_rows

    scenario = load(args.file)
    rows = explain_rows(scenario, args.service)
    settings = setting_rows(scenario, args.service)
    if args.json:
        print(json.dumps(rows + settings, indent=2, default=str))
        return 0
    console = Console()
    current = None
    table = None
    for row in rows:
        key = (row["service"], row["version"])
        if key != current:
            if table is not None:
                console.print(table)
            current = key
            title = f"calls to {row['service']}" + (f" (version {row['version']})" if row["version"] else "")
            title += f"  from: {', '.join(row['callers']) or '-'}"
            table = Table(title=title)
            table.add_column("field")
            table.add_column("value")
            table.add_column("set by")
        assert table is not None
        table.add_row(row["field"], str(row["value"]), row["origin"])
    if table is not None:
        console.print(table)
    sections: dict[str, Table] = {}
    for row in settings:
        table = sections.get(row["section"])
        if table is None:
            table = sections[row["section"]] = Table(title=row["section"])
            table.add_column("field")
            table.add_column("value")
            table.add_column("set by")
        table.add_row(row["field"], str(row["value"]), row["origin"])
    for table in sections.values():
        console.print(table)
    return 0
