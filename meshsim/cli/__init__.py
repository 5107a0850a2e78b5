"""The ``meshsim`` command line: a thin shell over the library.

Each subcommand lives in its own module with ``register(subparsers)``; bad input
(:class:`~meshsim.errors.MeshsimInputError`) prints one message per problem and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from ..errors import MeshsimInputError

__all__ = ["main", "build_parser"]

# modules under meshsim.cli, each with register(subparsers)
COMMANDS = ("run", "check", "compare", "sweep", "validate", "schema", "explain", "importing", "calibrate")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="meshsim",
        description="Simulate a multi-cloud service mesh: latency, errors, retry storms, cost.",
    )
    parser.add_argument("--version", action="version", version=f"meshsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # a subcommand not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meshsim`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except MeshsimInputError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("meshsim: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
