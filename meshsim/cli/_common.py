"""Shared pieces of the subcommands: loading with errors, progress bars, output files, the terminal."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from meshsim._types import Progress
from meshsim.errors import MeshsimInputError, MeshsimOutputError, os_reason, write_output
from meshsim.scenario import Scenario, load_scenario

__all__ = [
    "add_run_options",
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


#: A run shorter than this shows no progress bar, seconds.
SHOW_PROGRESS_AFTER_S = 2.0


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Progress]:
    """A rich progress bar on stderr for runs over about 2 s; yields a ``(done, total)`` callback.

    ``done`` counts replications (or runs), fractions included, so one long replication
    moves the bar as well.
    """
    if not enabled:
        yield lambda done, total: None
        return
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[runs]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    started = time.monotonic()
    task: list[Any] = []  # the bar's task, once it shows

    def update(done: float, total: float) -> None:
        if not task:
            if time.monotonic() - started < SHOW_PROGRESS_AFTER_S:
                return
            bar.start()
            task.append(bar.add_task(label, total=total, runs=""))
        bar.update(task[0], completed=done, total=total, runs=f"{int(done)}/{int(total)} run(s)")

    try:
        yield update
    finally:
        if task:
            bar.stop()


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
