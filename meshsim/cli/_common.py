"""Shared pieces of the subcommands: loading with errors, progress bars, output files."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
