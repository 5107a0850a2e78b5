"""``meshsim validate FILE`` and friends: check a scenario without running it."""

from __future__ import annotations

import argparse
from typing import Any

from .common import load

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a scenario file without running it")
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="accept runs over 50 million requests")
    p.set_defaults(func=validate)


def validate(args: argparse.Namespace) -> int:
    from ..errors import MeshsimInputError
    from ..runners import MAX_REQUESTS

    scenario = load(args.file)
    expected = scenario.expected_requests()
    if expected > MAX_REQUESTS and not args.force:
        raise MeshsimInputError(
            f"this run would simulate about {expected:,.0f} requests (over {MAX_REQUESTS:,}); "
            "shorten duration or lower the rate, or pass --force", file=args.file, field="duration")
    print(f"{args.file}: ok ({len(scenario.services)} services, {len(scenario.workload)} workloads, "
          f"about {expected:,.0f} requests per replication)")
    return 0
