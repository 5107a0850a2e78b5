"""Every notebook executes top to bottom without an error (nbclient + the ipykernel ``python3`` kernel)."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 120
BUDGET_S = 60  # each notebook is meant to run in under a minute


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert "01-quickstart.ipynb" in names and len(names) >= 4, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}")
    elapsed = time.monotonic() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    # generous against a shared CI machine; the notebooks aim at well under a minute
    assert elapsed < 2 * BUDGET_S, f"{path.name} took {elapsed:.0f} s"
