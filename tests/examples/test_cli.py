"""The CLI through its installed entry point (console script `meshsim`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

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
    assert set(data) >= {
        "scenario",
        "seed",
        "replications",
        "meshsim_version",
        "workloads",
        "services",
        "edges",
        "cost",
        "slos",
    }
    w = data["workloads"]["users"]
    assert set(w) >= {
        "requests",
        "ok",
        "failed",
        "in_flight",
        "error_rate",
        "throughput_rps",
        "latency_ms",
        "latency_p99_ci_ms",
    }
    assert w["latency_p99_ci_ms"][0] <= w["latency_ms"]["p99"] * 1.5
    assert "users" in out.stdout and "p99" in out.stdout


def test_explain_names_preset_and_lines():
    out = run("explain", "models/online-boutique.yaml", "--service", "payment", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    by_field = {r["field"]: r for r in rows if r["version"] is None}
    assert (
        by_field["retry_attempts"]["value"] == 2
        and by_field["retry_attempts"]["origin"] == "policies.payment.retries.attempts"
    )
    assert by_field["load_balancer"]["origin"].startswith("istio preset")


def test_validate_and_check_exit_codes():
    assert run("validate", "models/online-boutique.yaml").returncode == 0
    out = run("check", "models/minimal.yaml", "--replications", "3", "--no-progress")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "passed" in out.stdout


def test_import_writes_policies_with_origins(tmp_path):
    out = run("import", "istio", "models/bookinfo/istio", "-o", str(tmp_path / "p.yaml"))
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "p.yaml").read_text()
    assert "policies:" in text and "reviews:" in text and "# from" in text
    assert "warning:" in out.stderr  # the header-match route is not modelled, and says so


def test_import_malformed_is_exit_2(tmp_path):
    bad = tmp_path / "vs.yaml"
    bad.write_text("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  http: [\n")
    out = run("import", "istio", str(bad))
    assert out.returncode == 2 and "vs.yaml" in out.stderr and "Traceback" not in out.stderr


def test_explain_cites_the_imported_file_and_line():
    out = run("explain", "models/bookinfo/scenario.yaml", "--service", "reviews", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["field"]: r for r in json.loads(out.stdout) if r["version"] is None}
    assert "virtual-services.yaml:" in rows["retry_attempts"]["origin"]
    assert "VirtualService/reviews" in rows["retry_attempts"]["origin"]
