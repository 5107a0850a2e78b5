"""``meshsim schema``: print the scenario JSON Schema (for editors)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the scenario JSON Schema")
    p.set_defaults(func=schema)


def schema(args: argparse.Namespace) -> int:
    from meshsim.scenario import json_schema_text

    print(json_schema_text())
    return 0
