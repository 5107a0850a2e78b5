"""A wheel built from this tree installs without extras into a fresh venv, and its CLI works.

`make test` installs ``.[dev]``, so no other test would notice a library the package imports
but does not declare. Optional features must say which extra to install, never fail with a
traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("install")
    wheels = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("meshsim-*.whl")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    pip = env_dir / "bin" / "pip"
    subprocess.run([str(pip), "install", "--quiet", str(wheel)], check=True, timeout=900)
    return env_dir / "bin"


def _meshsim(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(bin_dir / "meshsim"), *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env
    )


def test_the_bare_install_has_no_extras(clean_venv: Path) -> None:
    out = subprocess.run(
        [
            str(clean_venv / "python"),
            "-c",
            "import importlib.util as u; "
            "print([m for m in ('streamlit', 'dask', 'pyarrow', 'pytest', 'yaml') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_help_and_validate_work_without_extras(clean_venv: Path, tmp_path: Path) -> None:
    helped = _meshsim(clean_venv, "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "validate" in helped.stdout, helped.stderr
    checked = _meshsim(clean_venv, "validate", str(ROOT / "models" / "minimal.yaml"), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    imported = _meshsim(clean_venv, "import", "istio", str(ROOT / "models" / "bookinfo" / "istio"), cwd=tmp_path)
    assert imported.returncode == 0 and "policies:" in imported.stdout, imported.stderr


def test_a_missing_extra_names_the_extra(clean_venv: Path, tmp_path: Path) -> None:
    model = str(ROOT / "models" / "minimal.yaml")
    parquet = _meshsim(
        clean_venv,
        "sweep",
        model,
        "--param",
        "seed=1,2",
        "-n",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path / "s.parquet"),
        cwd=tmp_path,
    )
    assert parquet.returncode == 2 and "meshsim[parquet]" in parquet.stderr, parquet.stdout + parquet.stderr
    assert "Traceback" not in parquet.stderr
    dask = _meshsim(clean_venv, "run", model, "-n", "2", "--executor", "dask-local", cwd=tmp_path)
    assert dask.returncode == 2 and "meshsim[dask]" in dask.stderr, dask.stdout + dask.stderr
    assert "Traceback" not in dask.stderr
