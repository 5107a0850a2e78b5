"""The CLI through its installed entry point (console script `meshsim`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXE = shutil.which("meshsim", path=str(Path(sys.executable).parent)) or shutil.which("meshsim")


def run(*args: str) -> subprocess.CompletedProcess:
    assert EXE, "the meshsim console script is installed by `pip install -e .`"
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_schema_is_json_schema():
    out = run("schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"services", "workload", "policies"} <= set(schema["properties"])


def test_run_writes_spec4_json(tmp_path):
    out = run("run", "models/minimal.yaml", "--replications", "2", "--json", str(tmp_path / "r.json"), "--no-progress")
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data) >= {"scenario", "seed", "replications", "meshsim_version", "workloads", "services", "edges",
                         "cost", "slos"}
    w = data["workloads"]["users"]
    assert set(w) >= {"requests", "ok", "failed", "in_flight", "error_rate", "throughput_rps", "latency_ms",
                      "latency_p99_ci_ms"}
    assert w["latency_p99_ci_ms"][0] <= w["latency_ms"]["p99"] * 1.5
    assert "users" in out.stdout and "p99" in out.stdout


def test_explain_names_preset_and_lines():
    out = run("explain", "models/online-boutique.yaml", "--service", "payment", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    by_field = {r["field"]: r for r in rows if r["version"] is None}
    assert by_field["retry_attempts"]["value"] == 2 and by_field["retry_attempts"]["origin"] == "policies.payment.retries"
    assert by_field["load_balancer"]["origin"].startswith("istio preset")


def test_validate_and_check_exit_codes():
    assert run("validate", "models/online-boutique.yaml").returncode == 0
    out = run("check", "models/minimal.yaml", "--replications", "3", "--no-progress")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "passed" in out.stdout
