"""meshsim lab: realising a scenario on Traefik (no process started here).

Each refusal names the one field the lab cannot realise, with its line (exit code 2 through
the CLI); the rendered Traefik configuration follows Traefik 3.7's retry, circuitBreaker,
weighted and serversTransport options.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from meshsim import load_scenario
from meshsim.errors import MeshsimInputError
from meshsim.lab import dynamic_config, error_codes, plan_lab
from meshsim.meshes import PRESETS

ROOT = Path(__file__).resolve().parents[2]
LAB_MODELS = sorted((ROOT / "models" / "lab").glob("*.yaml"))

BASE = """\
name: t
duration: 5s
mesh: {defaults: traefik}
services:
  api:
    concurrency: 4
    service_time: {dist: exponential, mean: 5ms}
    versions:
      v1: {replicas: 2}
      v2: {replicas: 1, error_rate: 0.2}
policies:
  api:
    retries: {attempts: 2, backoff: {base: 10ms}}
    split: {v1: 90, v2: 10}
workload:
  - {name: users, entry: api, rate: 50/s}
"""


def scenario(tmp_path: Path, text: str = BASE):
    f = tmp_path / "lab.yaml"
    f.write_text(textwrap.dedent(text))
    return load_scenario(f)


def refused(tmp_path: Path, text: str) -> MeshsimInputError:
    with pytest.raises(MeshsimInputError) as exc:
        plan_lab(scenario(tmp_path, text))
    return exc.value


@pytest.mark.parametrize("path", LAB_MODELS, ids=lambda p: p.name)
def test_every_lab_model_is_realisable(path):
    assert path.read_text().startswith("#"), "each model starts with a comment header"
    plan = plan_lab(load_scenario(path))
    assert plan.backends and plan.routes and plan.workloads
    config = dynamic_config(plan, {b.name: 20000 + i for i, b in enumerate(plan.backends)})
    assert set(config["http"]["routers"]) == set(plan.routes)


def test_lab_models_cover_the_issue_set():
    names = {p.stem for p in LAB_MODELS}
    assert {"baseline", "retry-503", "down-no-backoff", "down-backoff", "canary", "breaker"} <= names


def test_one_backend_per_replica_in_meshsim_order(tmp_path):
    plan = plan_lab(scenario(tmp_path))
    assert [b.name for b in plan.backends] == ["api-v1-0", "api-v1-1", "api-v2-0"]
    assert [b.replica_id for b in plan.backends] == [0, 1, 2]
    v2 = plan.backends[2]
    assert v2.error_codes == ((500, 0.2),) and v2.concurrency == 4


def test_rendered_traefik_config(tmp_path):
    plan = plan_lab(scenario(tmp_path))
    ports = {"api-v1-0": 1001, "api-v1-1": 1002, "api-v2-0": 1003}
    http = dynamic_config(plan, ports)["http"]
    router = http["routers"]["api"]
    assert router["rule"] == "Host(`api.lab`)"
    # the retry wraps the breaker-free chain; Traefik counts every try: 2 retries = 3 attempts
    assert router["middlewares"] == ["api-retry"]
    retry = http["middlewares"]["api-retry"]["retry"]
    assert retry == {"attempts": 3, "initialInterval": "10000us"}  # connect-failure only: no status codes
    weighted = http["services"]["api"]["weighted"]["services"]
    assert weighted == [{"name": "api--v1", "weight": 90}, {"name": "api--v2", "weight": 10}]
    v1 = http["services"]["api--v1"]["loadBalancer"]
    assert v1["strategy"] == "wrr"
    assert [s["url"] for s in v1["servers"]] == ["http://127.0.0.1:1001", "http://127.0.0.1:1002"]
    # no connect timeout in the scenario: Traefik's own dialTimeout default (one home: the preset)
    dial_us = round(PRESETS["traefik"].connect_timeout_s * 1e6)
    assert http["serversTransports"]["api-transport"]["forwardingTimeouts"] == {"dialTimeout": f"{dial_us}us"}
    # the control plane's view: a removed server leaves the list
    removed = dynamic_config(plan, ports, frozenset({"api-v1-0"}))["http"]["services"]["api--v1"]["loadBalancer"]
    assert [s["url"] for s in removed["servers"]] == ["http://127.0.0.1:1002"]
    # the traefik preset retries through the balancer like Traefik: nothing to note
    assert not any("does not remember the server" in n for n in plan.notes)
    other_host = BASE.replace("backoff: {base: 10ms}}", "backoff: {base: 10ms}, retry_different_host: true}")
    assert any("does not remember the server" in n for n in plan_lab(scenario(tmp_path, other_host)).notes)


def test_status_retries_breaker_and_timeouts_render(tmp_path):
    text = BASE.replace(
        "    retries: {attempts: 2, backoff: {base: 10ms}}\n    split: {v1: 90, v2: 10}\n",
        "    retries: {attempts: 1, retry_on: [5xx], per_try_timeout: 200ms}\n"
        "    load_balancer: least_request\n"
        "    circuit_breaker: {expression: 'NetworkErrorRatio() > 0.5', fallback_duration: 2s}\n",
    )
    plan = plan_lab(scenario(tmp_path, text))
    http = dynamic_config(plan, {b.name: 1000 + b.replica_id for b in plan.backends})["http"]
    assert http["routers"]["api"]["middlewares"] == ["api-retry", "api-breaker"]
    assert http["middlewares"]["api-retry"]["retry"] == {
        "attempts": 2,
        "status": ["500-599"],
        "disableRetryOnNetworkError": True,
    }
    cb = http["middlewares"]["api-breaker"]["circuitBreaker"]
    assert cb == {
        "expression": "NetworkErrorRatio() > 0.5",
        "checkPeriod": "100000us",
        "fallbackDuration": "2000000us",
        "recoveryDuration": "10000000us",
    }
    lb = http["services"]["api"]["loadBalancer"]
    assert lb["strategy"] == "p2c" and len(lb["servers"]) == 3
    assert http["serversTransports"]["api-transport"]["forwardingTimeouts"]["responseHeaderTimeout"] == "200000us"


def test_error_codes_from_a_ratio_or_per_status():
    assert error_codes(0.3) == ((500, 0.3),)
    assert error_codes(0.0) == ()
    assert error_codes({503: 0.3, 500: 0.1}) == ((500, 0.1), (503, 0.3))
    assert error_codes({"503": 0.25}) == ((503, 0.25),)


def test_durations_override_and_arrival_steps(tmp_path):
    text = BASE.replace(
        "  - {name: users, entry: api, rate: 50/s}",
        "  - {name: users, entry: api, rate: 50/s, profile: [{at: 2s, rate: 80/s}]}\n"
        "faults:\n  - {at: 1s, duration: 2s, kind: load, factor: 2}",
    )
    plan = plan_lab(scenario(tmp_path, text), duration_s=4.0, warmup_s=1.0)
    assert plan.horizon_s == 5.0
    assert plan.workloads[0].steps == ((0.0, 50.0), (1.0, 100.0), (2.0, 160.0), (3.0, 80.0))
    assert plan.expected_requests() == pytest.approx(50 + 100 + 160 + 2 * 80)


SPLIT = "    split: {v1: 90, v2: 10}"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("mesh: {defaults: traefik}", "mesh: {defaults: istio}", "mesh.defaults"),
        (SPLIT, SPLIT + "\n    versions: {v2: {timeout: 1s}}", "policies.api.versions"),
        (SPLIT, SPLIT + "\n    retry_budget: {ratio: 0.2}", "policies.api.retry_budget"),
        (SPLIT, SPLIT + "\n    load_balancer: ring_hash", "policies.api.load_balancer"),
        (SPLIT, SPLIT + "\n    timeout: 1s", "policies.api.timeout"),
        (SPLIT, SPLIT + "\n    outlier_detection: {consecutive_5xx: 3}", "policies.api.outlier_detection"),
        (SPLIT, SPLIT + "\n    connection_pool: {max_connections: 10}", "policies.api.connection_pool"),
        ("rate: 50/s}", "rate: 5000/s}", "workload.0.rate"),
        ("rate: 50/s}", "rate: 50/s, client: {mode: standard}}", "workload.0.client"),
        ("rate: 50/s}", "rate: 50/s, client: {retries: 1, backoff: {kind: equal}}}", "workload.0.client"),
        ("      v1: {replicas: 2}", "      v1: {replicas: 30}", "services.api"),
    ],
)
def test_unrealisable_field_is_named_with_its_line(tmp_path, old, new, field):
    assert old in BASE
    err = refused(tmp_path, BASE.replace(old, new))
    problem = err.problems[0]
    assert problem.field == field
    assert problem.file and problem.file.endswith("lab.yaml")
    assert problem.line is not None
    assert "cannot realise" in problem.message


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        ("{at: 1s, duration: 1s, kind: outage, target: api}", "faults.0.kind"),
        ("{at: 1s, duration: 1s, kind: partition, between: [a/b/c, a/b/d]}", "faults.0.kind"),
        ("{at: 1s, kind: latency, between: [a/b/c, a/b/d], add: 5ms}", "faults.0.between"),
        ("{at: 1s, kind: latency, target: a/b/c, add: 5ms}", "faults.0.target"),
    ],
)
def test_unrealisable_faults(tmp_path, fault, field):
    text = BASE.replace("mesh:", "locations: {a: {b: [c, d]}}\nmesh:") + f"faults:\n  - {fault}\n"
    assert refused(tmp_path, text).problems[0].field == field


def test_realisable_faults_are_planned(tmp_path):
    text = BASE + (
        "faults:\n"
        "  - {at: 1s, kind: crash, target: api/v1, instances: 1, restart: 2s}\n"
        "  - {at: 1s, duration: 1s, kind: errors, target: api/v2, rate: 0.5}\n"
        "  - {at: 2s, duration: 1s, kind: latency, target: api, add: 5ms}\n"
        "  - {at: 2s, duration: 1s, kind: degrade, target: api, factor: 2}\n"
    )
    plan = plan_lab(scenario(tmp_path, text))
    crash, errors, latency, degrade = plan.faults
    assert crash.backends == ("api-v1-0", "api-v1-1") and crash.length_s == 2.0
    assert errors.backends == ("api-v2-0",) and errors.error_rate == 0.5
    assert latency.backends == ("api-v1-0", "api-v1-1", "api-v2-0") and latency.add is not None
    assert degrade.factor == 2.0
    assert any("discovery" in n for n in plan.notes)


def test_cli_exit_2_names_file_line_and_field(tmp_path):
    f = tmp_path / "istio.yaml"
    f.write_text(BASE.replace("mesh: {defaults: traefik}", "mesh: {defaults: istio}"))
    out = subprocess.run([sys.executable, "-m", "meshsim", "lab", str(f)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr
    assert "istio.yaml:3" in out.stderr and "mesh.defaults" in out.stderr


def test_cli_bad_flags_and_a_missing_traefik_exit_2(tmp_path, capsys):
    from meshsim.cli import main

    f = tmp_path / "lab.yaml"
    f.write_text(BASE)
    assert main(["lab", str(f), "--duration", "5"]) == 2
    assert "--duration: cannot read duration '5'" in capsys.readouterr().err
    assert main(["lab", str(f), "--replications", "0"]) == 2
    assert "at least 1 live run" in capsys.readouterr().err
    assert main(["lab", str(f), "--traefik", str(tmp_path / "no-such-traefik")]) == 2
    err = capsys.readouterr().err
    assert "not an executable file" in err and "Traceback" not in err
