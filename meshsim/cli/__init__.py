"""The ``meshsim`` command line: a thin shell over the library.

Each subcommand lives in its own module with ``register(subparsers)``, imported only when
that command runs, so ``meshsim --help`` starts in a fraction of a second. Bad input
(:class:`~meshsim.errors.MeshsimInputError`) prints one message per problem and exits 2.
Ctrl-C (SIGINT) or SIGTERM during a run stops it and keeps what ran, marked partial; the
exit code is then 130 (SIGINT) or 143 (SIGTERM), and no traceback is printed.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from meshsim._version import __version__
from meshsim.errors import MeshsimInputError

__all__ = ["main", "build_parser"]

# command -> (the module whose register() adds it, the line `meshsim --help` shows for it),
# in the order of `meshsim --help`. The lines repeat the modules' own help= so that listing
# the commands imports none of them; tests/examples/test_cli.py keeps the two equal.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("meshsim.cli._run", "simulate a scenario and print a summary"),
    "check": ("meshsim.cli._check", "CI gate: exit 1 when a simulated SLO is missed"),
    "compare": (
        "meshsim.cli._compare",
        "what-if: run two scenarios with the same random numbers and show the differences",
    ),
    "sweep": ("meshsim.cli._sweep", "run a grid of parameter values; write a tidy CSV/Parquet table and a figure"),
    "validate": ("meshsim.cli._validate", "check a scenario file without running it"),
    "schema": ("meshsim.cli._schema", "print the scenario JSON Schema"),
    "explain": ("meshsim.cli._explain", "print the effective policy of every edge and its origin"),
    "import": ("meshsim.cli._importing", "turn a real mesh's configuration into scenario policies"),
    "calibrate": (
        "meshsim.cli._calibrate",
        "build a scenario from OTLP/Jaeger/Zipkin traces, Prometheus metrics and Kubernetes manifests",
    ),
    "twin-check": (
        "meshsim.cli._calibrate",
        "simulate a scenario at the traces' load and compare latency and errors with them",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every subcommand listed, with the full options of ``command``.

    ``command`` None gives every subcommand its options (and imports every module); another
    name gives them to that command's module only; the others are listed by name and help.
    """
    parser = argparse.ArgumentParser(
        prog="meshsim",
        description="Simulate a multi-cloud service mesh: latency, errors, retry storms, cost.",
    )
    parser.add_argument("--version", action="version", version=f"meshsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = {module for name, (module, _) in COMMANDS.items() if command is None or name == command}
    done: set[str] = set()
    for name, (module, help_line) in COMMANDS.items():
        if module in wanted:
            if module not in done:  # one module may register several commands
                importlib.import_module(module).register(sub)
                done.add(module)
        else:
            sub.add_parser(name, help=help_line)
    return parser


def _command_in(argv: Sequence[str]) -> str:
    """The subcommand ``argv`` names ('' for none: then only the listing is needed)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else ""
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meshsim`` console script; returns the exit code."""
    from meshsim.experiments._executors import stop_on_signals

    args_in = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_in(args_in))
    args = parser.parse_args(args_in)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with stop_on_signals() as stop:
            code = args.func(args)
    except MeshsimInputError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = int(getattr(exc, "signum", signal.SIGINT))
        print(f"meshsim: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum
    if stop.signum is not None:
        print(
            f"meshsim: interrupted ({signal.Signals(stop.signum).name}); the results above cover what ran "
            "and are marked partial",
            file=sys.stderr,
        )
        return 128 + stop.signum
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
