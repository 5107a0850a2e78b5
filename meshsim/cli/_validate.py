"""``meshsim validate FILE`` and friends: check a scenario without running it."""

from __future__ import annotations

import argparse
from typing import Any

from meshsim.cli._common import load

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a scenario file without running it")
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="accept runs over 50 million requests")
    p.set_defaults(func=validate)


def validate(args: argparse.Namespace) -> int:
    from meshsim.experiments import check_size

    scenario = load(args.file)
    expected = check_size(scenario, 1, args.force).requests
    print(
        f"{args.file}: ok ({len(scenario.services)} services, {len(scenario.workload)} workloads, "
        f"about {expected:,.0f} requests per replication)"
    )
    return 0
