"""The ``meshsim`` command line: a thin shell over the library.

Each subcommand lives in its own module with ``register(subparsers)``, imported only when
that command runs, so ``meshsim --help`` starts in a fraction of a second. Bad input
(:class:`~meshsim.errors.MeshsimInputError`) and unwritable outputs print one message per
problem and exit 2; a pipe closed early ends quietly; a bug in meshsim exits 70.
Ctrl-C (SIGINT) or SIGTERM during a run stops it and keeps what ran, marked partial; the
exit code is then 130 (SIGINT) or 143 (SIGTERM), and no traceback is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from meshsim._version import __version__
from meshsim.cli._terminal import ascii_safe_streams
from meshsim.errors import MeshsimInputError, display_name, os_reason

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
    "explain": ("meshsim.cli._explain", "print the effective policy of every call and where each value came from"),
    "import": ("meshsim.cli._importing", "turn a real mesh's configuration into scenario policies"),
    "calibrate": (
        "meshsim.cli._calibrate",
        "build a scenario from OTLP/Jaeger/Zipkin traces, Prometheus metrics and Kubernetes manifests",
    ),
    "twin-check": (
        "meshsim.cli._calibrate",
        "simulate a scenario at the traces' load and compare latency and errors with them",
    ),
    "lab": (
        "meshsim.cli._lab",
        "run a Traefik scenario on a real Traefik on loopback and compare with the prediction",
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


#: Exit code of a pipe closed early (``meshsim schema | head``): 128 + SIGPIPE, as the shell reports.
EXIT_BROKEN_PIPE = 141
#: Exit code of a bug in meshsim itself (EX_SOFTWARE of sysexits.h); never for bad input.
EXIT_INTERNAL_ERROR = 70


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meshsim`` console script; returns the exit code.

    Bad input and unwritable outputs print one message and return 2; a pipe closed early
    ends quietly; human output degrades to ASCII on a terminal that cannot encode it;
    Ctrl-C or SIGTERM returns 130 or 143 with what ran kept and marked partial.
    """
    from meshsim.experiments._executors import stop_on_signals

    ascii_safe_streams()
    args_in = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(_command_in(args_in))
        args = parser.parse_args(args_in)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        with stop_on_signals() as stop:
            code = args.func(args)
        sys.stdout.flush()
    except MeshsimInputError as exc:
        return _complain(exc.render(), 2)
    except KeyboardInterrupt as exc:
        signum = int(getattr(exc, "signum", signal.SIGINT))
        return _complain(f"meshsim: interrupted ({signal.Signals(signum).name})", 128 + signum)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as exc:  # an OS error no reader or writer named: still one line, not a traceback
        where = f"{display_name(str(exc.filename))}: " if exc.filename else ""
        return _complain(f"meshsim: {where}{os_reason(exc)}", 2)
    except MemoryError:
        return _complain("meshsim: out of memory (the input or the run is too large)", EXIT_INTERNAL_ERROR)
    except Exception as exc:  # noqa: BLE001 - a bug: say so in one line, keep the traceback on request
        if os.environ.get("MESHSIM_TRACEBACK"):
            raise
        return _complain(
            f"meshsim: internal error ({type(exc).__name__}: {str(exc)[:300]}); this is a bug in meshsim, "
            "not in your input: please report it (MESHSIM_TRACEBACK=1 shows where)",
            EXIT_INTERNAL_ERROR,
        )
    if stop.signum is not None:
        return _complain(
            f"meshsim: interrupted ({signal.Signals(stop.signum).name}); the results above cover what ran "
            "and are marked partial",
            128 + stop.signum,
        )
    return int(code or 0)


def _complain(message: str, code: int) -> int:
    with contextlib.suppress(OSError, ValueError):  # stderr itself may be gone
        print(message, file=sys.stderr)
    return code


def _quiet_broken_pipe() -> int:
    # Whoever read standard output has gone (| head): end quietly, and stop Python from
    # complaining again when it flushes stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
