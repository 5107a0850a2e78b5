"""The ``meshsim`` command line: a thin shell over the library.

Each subcommand lives in its own module with ``register(subparsers)``; bad input
(:class:`~meshsim.errors.MeshsimInputError`) prints one message per problem and exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
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
from meshsim.cli._common import ascii_safe_streams
from meshsim.errors import MeshsimInputError, display_name, os_reason

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


#: Exit code of a pipe closed early (``meshsim schema | head``): 128 + SIGPIPE, as the shell reports.
EXIT_BROKEN_PIPE = 141
#: Exit code of a bug in meshsim itself (EX_SOFTWARE of sysexits.h); never for bad input.
EXIT_INTERNAL_ERROR = 70


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meshsim`` console script; returns the exit code.

    Bad input and unwritable outputs print one message and return 2; a pipe closed early
    ends quietly; human output degrades to ASCII on a terminal that cannot encode it.
    """
    ascii_safe_streams()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        code = args.func(args)
        sys.stdout.flush()
    except MeshsimInputError as exc:
        return _complain(exc.render(), 2)
    except KeyboardInterrupt:
        return _complain("meshsim: interrupted", 130)
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
