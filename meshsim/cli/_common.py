"""Shared pieces of the subcommands: loading with errors, progress bars, output files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from meshsim._types import Progress
from meshsim.errors import MeshsimInputError
from meshsim.scenario import Scenario, load_scenario

__all__ = ["load", "progress_bar", "write_text", "add_run_options"]


def load(path: str) -> Scenario:
    """Load a scenario file; every problem becomes MeshsimInputError (exit 2)."""
    if not Path(path).exists():
        raise MeshsimInputError(f"no such file: {path}", file=path)
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
    """Write an output file, creating its folder."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


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
    p.add_argument("--force", action="store_true", help="allow runs over 50 million simulated requests")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def executor_of(args: Any) -> str:
    """The executor the options name (``--dask`` wins over ``--executor``)."""
    if getattr(args, "dask", None):
        return "dask-local" if args.dask == "local" else args.dask
    return str(args.executor)
