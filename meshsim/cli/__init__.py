"""The ``meshsim`` command line: a thin shell over the library.

Each subcommand lives in its own module with ``register(subparsers)``; bad input
(:class:`~meshsim.errors.MeshsimInputError`) prints one message per problem and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from meshsim._version import __version__
from meshsim.cli import (
    _calibrate,
    _check,
    _compare,
    _explain,
    _importing,
    _lab,
    _run,
    _schema,
    _sweep,
    _validate,
)
from meshsim.errors import MeshsimInputError

__all__ = ["main", "build_parser"]

# each subcommand module has register(subparsers); this is the order of `meshsim --help`
COMMANDS = (_run, _check, _compare, _sweep, _validate, _schema, _explain, _importing, _calibrate, _lab)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="meshsim",
        description="Simulate a multi-cloud service mesh: latency, errors, retry storms, cost.",
    )
    parser.add_argument("--version", action="version", version=f"meshsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
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
