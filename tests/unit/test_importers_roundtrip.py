"""Round trip: import a real mesh file into a scenario, resolve it, and run it.

Issue 8: "an imported 3-retry policy gives amplification 4 on a failing service".
Every attempt fails (error_rate 1), so each request is tried 1 + 3 times whatever
the seed: amplification is exactly 4 for requests that finished.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshsim.meshes import import_mesh_config
from meshsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
name: imported-retries
seed: 3
duration: 4s
warmup: 0s
locations:
  aws: {us-east-1: [a]}
mesh:
  proxy: none
  import:
    - {format: %(fmt)s, path: ./mesh/}
services:
  front:
    placement: {aws/us-east-1/a: 1}
    concurrency: 64
    service_time: 1ms
    calls: [{to: back, optional: true}]
  back:
    placement: {aws/us-east-1/a: 1}
    concurrency: 64
    service_time: 1ms
    error_rate: 1.0
workload:
  - {name: w, entry: front, origin: aws/us-east-1, rate: 50/s}
"""

MESH_FILES = {
    "istio": """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: back}
spec:
  hosts: [back]
  http:
  - route: [{destination: {host: back}}]
    retries: {attempts: 3, retryOn: 5xx, backoff: 1ms}
""",
    "traefik": """
apiVersion: v1
kind: Service
metadata:
  name: back
  annotations: {mesh.traefik.io/retry-attempts: "4"}
spec: {selector: {app: back}}
""",
}


def _write(tmp_path: Path, fmt: str) -> Path:
    (tmp_path / "mesh").mkdir()
    (tmp_path / "mesh" / "back.yaml").write_text(MESH_FILES[fmt])
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO % {"fmt": fmt})
    return scenario


def test_scenario_import_sets_preset_and_policy(tmp_path: Path) -> None:
    s = load_scenario(_write(tmp_path, "istio"))
    assert s.mesh.defaults == "istio"  # the importer's preset fills mesh.defaults
    assert s.policies["back"].retries.attempts == 3
    assert s.policies["back"].retries.retry_on == ["5xx"]


def test_imported_three_retries_give_amplification_four(tmp_path: Path) -> None:
    meshsim = pytest.importorskip("meshsim")
    if not hasattr(meshsim, "simulate") or not hasattr(meshsim, "load_scenario"):
        pytest.skip("the engine (meshsim.simulate) is not available")
    scenario = meshsim.load_scenario(_write(tmp_path, "istio"))
    data = json.loads(meshsim.simulate(scenario).to_json())
    back = data["services"]["back"]
    assert back["amplification"] == pytest.approx(4.0, rel=0.02)
    assert back["retries"] == pytest.approx(3 * (back["attempts"] / 4), rel=0.02)


def test_traefik_attempts_count_every_try(tmp_path: Path) -> None:
    """Traefik's "4" attempts means 3 retries, but only on connection errors [T4]: a 5xx is not retried."""
    res = import_mesh_config("traefik", _write(tmp_path, "traefik").parent / "mesh")
    assert res.policies["back"]["retries"]["attempts"] == 3
    meshsim = pytest.importorskip("meshsim")
    if not hasattr(meshsim, "simulate"):
        pytest.skip("the engine (meshsim.simulate) is not available")
    data = json.loads(meshsim.simulate(meshsim.load_scenario(tmp_path / "scenario.yaml")).to_json())
    assert data["services"]["back"]["amplification"] == pytest.approx(1.0)


def test_resolved_policy_reflects_import(tmp_path: Path) -> None:
    meshsim = pytest.importorskip("meshsim")
    if not hasattr(meshsim, "resolve_policy"):
        pytest.skip("meshsim.resolve_policy is not available")
    scenario = meshsim.load_scenario(_write(tmp_path, "istio"))
    eff = meshsim.resolve_policy(scenario, "back")
    assert eff.retry_attempts == 3
    assert eff.backoff_base_s == pytest.approx(0.001) and eff.backoff_max_s == pytest.approx(0.01)
    assert eff.load_balancer.kind == "least_request"  # unset: Istio preset [S4]


def test_bookinfo_model_imports_its_istio_files() -> None:
    base = ROOT / "models" / "bookinfo"
    s = load_scenario(base / "scenario.yaml")
    assert s.policies["reviews"].split == {"v1": 80, "v2": 20}
    assert s.policies["reviews"].timeout == 3.0
    assert s.policies["reviews"].versions["v3"].load_balancer.kind == "round_robin"
    shift = load_scenario(base / "whatif-shift-v3.yaml")
    assert shift.policies["reviews"].split == {"v1": 50, "v3": 50}
    delay = load_scenario(base / "whatif-ratings-delay.yaml")
    assert delay.policies["ratings"].fault.delay.fixed == 2.0
    assert delay.policies["ratings"].retries.attempts == 0  # a fault route has no retries [S1]
    abort = load_scenario(base / "whatif-ratings-abort.yaml")
    assert abort.policies["ratings"].fault.abort.status == 500
    res = import_mesh_config("istio", base / "istio")
    assert len(res.warnings) == 1 and "end-user" not in res.warnings[0] and "headers" in res.warnings[0]


def test_bookinfo_fault_whatifs_change_behaviour() -> None:
    """The imported Istio faults act in a short run: aborts fail ratings calls, delays hurt reviews."""
    meshsim = pytest.importorskip("meshsim")
    if not hasattr(meshsim, "simulate"):
        pytest.skip("the engine (meshsim.simulate) is not available")
    base = ROOT / "models" / "bookinfo"

    def run(name: str) -> dict:
        s = meshsim.load_scenario(base / name).model_copy(update={"duration": 15.0, "warmup": 1.0})
        return json.loads(meshsim.simulate(s).to_json())

    plain = run("scenario.yaml")
    abort = run("whatif-ratings-abort.yaml")
    delay = run("whatif-ratings-delay.yaml")
    assert sum(plain["services"]["ratings"]["failed"].values()) == 0
    ratings = abort["services"]["ratings"]
    assert ratings["failed"].get("error", 0) == pytest.approx(ratings["attempts"] / 2, rel=0.35)  # 50% aborts
    assert abort["workloads"]["browse"]["error_rate"] == 0.0  # the ratings call is optional
    assert sum(delay["services"]["reviews"]["failed"].values()) > 0  # per-try timeouts fire
