"""Bad input through the real entry point: one message naming file, line and field, exit code 2,
never a traceback (issue 2)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD = """\
name: t
duration: 10s
services:
  api:
    replicas: 1
    service_time: 5ms
    calls: [db]
  db: {replicas: 1, service_time: 1ms}
workload:
  - {name: w, entry: api, rate: 10/s}
"""


def meshsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "meshsim", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def check_bad(tmp_path: Path, text: str, line: int, *needles: str, command: str = "validate") -> str:
    f = tmp_path / "bad.yaml"
    f.write_text(textwrap.dedent(text))
    out = meshsim(command, str(f), "--no-progress") if command == "run" else meshsim(command, str(f))
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr
    assert f"bad.yaml:{line}" in out.stderr, out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr
    return out.stderr


def test_good_file_validates(tmp_path):
    f = tmp_path / "good.yaml"
    f.write_text(GOOD)
    out = meshsim("validate", str(f))
    assert out.returncode == 0 and "ok" in out.stdout


def test_yaml_syntax_error(tmp_path):
    check_bad(
        tmp_path,
        GOOD.replace("  db: {replicas: 1, service_time: 1ms}", "  db: {replicas: 1, service_time: 1ms"),
        9,
        "YAML syntax",
        "started at line 8",
    )


def test_unknown_field_with_did_you_mean(tmp_path):
    check_bad(
        tmp_path,
        GOOD.replace("    replicas: 1\n", "    replicas: 1\n    concurency: 4\n", 1),
        6,
        "services.api.concurency",
        "did you mean 'concurrency'",
    )


def test_missing_unit(tmp_path):
    check_bad(
        tmp_path, GOOD.replace("service_time: 5ms", "service_time: 5"), 6, "services.api.service_time", "give a unit"
    )


def test_unknown_service(tmp_path):
    check_bad(tmp_path, GOOD.replace("calls: [db]", "calls: [dbb]"), 7, "unknown service 'dbb'", "did you mean 'db'")


def test_unknown_location(tmp_path):
    text = "locations:\n  aws: {us-east-1: [a]}\n" + GOOD.replace(
        "    replicas: 1\n", "    placement: {aws/us-east-1/z: 1}\n", 1
    )
    check_bad(tmp_path, text, 7, "unknown zone 'aws/us-east-1/z'", "did you mean 'aws/us-east-1/a'")


def test_cycle_in_call_graph(tmp_path):
    check_bad(
        tmp_path,
        GOOD.replace("{replicas: 1, service_time: 1ms}", "{replicas: 1, service_time: 1ms, calls: [api]}"),
        8,
        "cycle",
        "api -> db -> api",
    )


def test_zero_rate(tmp_path):
    check_bad(tmp_path, GOOD.replace("rate: 10/s", "rate: 0"), 10, "workload.0.rate", "above zero")


def test_run_too_large_needs_force(tmp_path):
    check_bad(
        tmp_path,
        GOOD.replace("rate: 10/s", "rate: 1000000/s").replace("duration: 10s", "duration: 1h"),
        2,
        "50,000,000",
        "--force",
        command="run",
    )


def test_missing_file_and_not_a_mapping(tmp_path):
    out = meshsim("run", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2 and "no such file" in out.stderr and "Traceback" not in out.stderr
    f = tmp_path / "list.yaml"
    f.write_text("- 1\n- 2\n")
    out = meshsim("validate", str(f))
    assert out.returncode == 2 and "mapping" in out.stderr


def test_yaml_is_never_executed(tmp_path):
    f = tmp_path / "evil.yaml"
    f.write_text("name: !!python/object/apply:os.system ['echo pwned > %s']\n" % (tmp_path / "pwned"))
    out = meshsim("validate", str(f))
    assert out.returncode == 2
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "fragment,needle",
    [
        ("  - {name: w, entry: api, rate: 10/s, origin: mars}\n", "unknown location 'mars'"),
        ("  - {name: w, entry: ap, rate: 10/s}\n", "unknown service 'ap'"),
    ],
)
def test_workload_references(tmp_path, fragment, needle):
    text = GOOD.replace("  - {name: w, entry: api, rate: 10/s}\n", fragment)
    check_bad(tmp_path, text, 10, needle)


def test_import_root_confines_mesh_import_paths(tmp_path: Path) -> None:
    """An uploaded scenario must not read the host's files: imports stay under import_root."""
    from meshsim import MeshsimInputError, load_scenario

    allowed = tmp_path / "upload"
    allowed.mkdir()
    outside = tmp_path / "secret.yaml"
    outside.write_text("apiVersion: networking.istio.io/v1\nkind: VirtualService\n", encoding="utf-8")
    text = (
        "name: up\nservices: {api: {service_time: 5ms}}\nworkload: [{name: w, entry: api, rate: 10}]\n"
        "mesh:\n  import:\n    - {format: istio, path: ../secret.yaml}\n"
    )
    with pytest.raises(MeshsimInputError) as exc:
        load_scenario(text, import_root=allowed)
    problem = exc.value.problems[0]
    assert problem.field == "mesh.import.0.path" and problem.line == 6
    assert "outside the folder" in problem.message
    absolute = text.replace("../secret.yaml", str(outside))
    with pytest.raises(MeshsimInputError, match="outside the folder"):
        load_scenario(absolute, import_root=allowed)
