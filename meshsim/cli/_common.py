"""Shared pieces of the subcommands: loading with errors, progress bars, output files, the terminal."""

from __future__ import annotations

import codecs
import io
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from meshsim.errors import MeshsimInputError, MeshsimOutputError, os_reason, write_output
from meshsim.scenario import Scenario, load_scenario

__all__ = [
    "add_run_options",
    "ascii_safe_streams",
    "check_output_paths",
    "executor_of",
    "load",
    "progress_bar",
    "write_outputs",
    "write_text",
]


def load(path: str) -> Scenario:
    """Load a scenario file (``-``: standard input); every problem becomes MeshsimInputError (exit 2)."""
    if not path:
        raise MeshsimInputError("no scenario file given (an empty name)")
    scenario = load_scenario(Path(path))
    for warning in scenario.import_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return scenario


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields an ``(done, total)`` callback."""
    if not enabled:
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        yield update


def write_text(path: str, text: str) -> None:
    """Write one output file atomically (``-``: standard output); a failure is exit 2, never a traceback."""
    write_output(path, text)


def check_output_paths(*paths: str | None) -> None:
    """Refuse, before a long run, output paths that cannot be written: a folder, a parent that is a file.

    Only what can be known without writing is checked; a full disk still shows when writing.
    """
    for path in paths:
        if not path or path == "-":
            continue
        target = Path(path)
        try:
            if target.is_dir():
                raise MeshsimOutputError(path, "is a folder; give a file name")
            for parent in target.parents:
                if parent.exists():
                    if not parent.is_dir():
                        raise MeshsimOutputError(path, f"{parent} is a file, not a folder")
                    break
        except OSError as exc:
            raise MeshsimOutputError(path, os_reason(exc)) from None


def _save_elsewhere(data: bytes, name: str) -> str | None:
    """Keep results whose output failed: a file in the temporary folder, or None when that fails too."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in Path(name).name)[-80:] or "output"
    try:
        with tempfile.NamedTemporaryFile(prefix="meshsim-", suffix=f"-{safe}", delete=False) as fh:
            fh.write(data)
            return fh.name
    except OSError:
        return None


def write_outputs(outputs: Sequence[tuple[str | None, Callable[[], bytes | str]]], what: str = "results") -> int:
    """Write every requested output; report each one that fails, and keep its content elsewhere.

    ``outputs`` pairs a path (None: not asked for) with a function that renders the content.
    A failed write does not stop the others; its content is saved in the temporary folder
    and the message says where. Returns 0, or 2 when any output failed.
    """
    failed = 0
    for path, render in outputs:
        if not path:
            continue
        data = render()
        try:
            write_output(path, data)
        except MeshsimOutputError as exc:
            failed += 1
            payload = data.encode("utf-8") if isinstance(data, str) else data
            kept = _save_elsewhere(payload, path)
            note = f"the {what} were saved to {kept} instead" if kept else f"the {what} could not be saved anywhere"
            print(MeshsimOutputError(path, exc.reason, note).render(), file=sys.stderr)
    return 2 if failed else 0


# ----------------------------------------------------------------------------- the terminal

_ASCII_FALLBACK = {
    "✗": "x",
    "✓": "v",
    "✔": "v",
    "—": "-",
    "–": "-",
    "…": "...",
    "µ": "u",
    "×": "x",
    "→": "->",
    "←": "<-",
    "≤": "<=",
    "≥": ">=",
    "±": "+-",
    "•": "*",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
}
_HANDLER = "meshsim-ascii"


def _ascii_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: accents dropped (é -> e), common symbols spelled out, the rest '?'."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start : exc.end]:
        if ch in _ASCII_FALLBACK:
            out.append(_ASCII_FALLBACK[ch])
            continue
        plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
        out.append(plain or "?")
    return "".join(out), exc.end


def _can_encode_everything(stream: TextIO) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-16", "utf-32", "gb18030")
    except LookupError:
        return False


def ascii_safe_streams() -> None:
    """Never fail on a character the terminal cannot encode (``LANG=C``, an ASCII-only console).

    On a terminal, human output degrades to ASCII-safe text: characters the encoding cannot
    hold are written as their closest ASCII (an accent dropped, a check mark as ``v``).
    Redirected to a file or a pipe, standard output and error become UTF-8 instead, so data
    (imported YAML, names with accents) reaches the file unchanged. Files meshsim writes are
    UTF-8 whatever the terminal.
    """
    try:
        codecs.lookup_error(_HANDLER)
    except LookupError:
        codecs.register_error(_HANDLER, _ascii_fallback)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not _can_encode_everything(stream):
            try:
                if stream.isatty():
                    stream.reconfigure(errors=_HANDLER)
                else:
                    stream.reconfigure(encoding="utf-8")
            except (ValueError, OSError):  # a closed or detached stream: nothing to print to
                continue


def add_run_options(p: Any, replications: int = 1, what: str = "independent replications") -> None:
    """Options shared by every command that simulates; ``replications`` is the command's default."""
    p.add_argument("--replications", "-n", type=int, default=replications, help=f"{what} (default {replications})")
    p.add_argument("--workers", type=int, default=None, help="processes for replications (default: all cores)")
    p.add_argument(
        "--executor",
        default="auto",
        help="serial | process | dask-local | tcp://scheduler:8786 (default: process pool when n>1)",
    )
    p.add_argument(
        "--dask",
        default=None,
        metavar="ADDR",
        help="'local' for a dask LocalCluster, or a scheduler address tcp://host:8786",
    )
    p.add_argument(
        "--force", action="store_true", help="allow runs over 50 million simulated requests or 100,000 replicas"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def executor_of(args: Any) -> str:
    """The executor the options name (``--dask`` wins over ``--executor``)."""
    if getattr(args, "dask", None):
        return "dask-local" if args.dask == "local" else args.dask
    return str(args.executor)
