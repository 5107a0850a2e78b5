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


# ----------------------------------------------------------------------------------------------------
# Inputs a fuzzer produced (issue: robust against any input). Each must end in one message with the
# file and, where there is one, the line and field, and exit 2; never a traceback or a hang. They run
# in this process through the CLI's main(), as the console script does.


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from meshsim.cli import main

    code = main(list(args))
    return code, capsys.readouterr().err


MINIMAL = (Path(__file__).resolve().parents[2] / "models" / "minimal.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "old,new,needles",
    [
        ("name: minimal", "name: minimal\nlocations: {aws: {us-east-1: [a/b]}}", ["locations", "'a/b'"]),
        ("rate: 80/s", "rate: .nan", [":23:", "workload.0.rate", "not a finite number"]),
        ("rate: 80/s", "rate: 1e999/s", [":23:", "not a finite number"]),
        ("rate: 80/s", "rate: 1" + "0" * 400, [":23:", "too large"]),
        ("concurrency: 1", "concurrency: " + "9" * 400, [":20:", "services.api.concurrency"]),
        ("replicas: 1", "replicas: 1e400", [":19:", "services.api.replicas", "finite"]),
        ("replicas: 1", "replicas: 1\n    response_size: 1e400KB", [":20:", "response_size", "not a finite"]),
        ("replicas: 1", "replicas: 1\n    response_size: .inf", [":20:", "response_size"]),
        ("max: 400ms", "max: .inf", [":25:", "slos.0.max", "not a finite number"]),
        ("max: 0.1%", "max: .nan", [":26:", "slos.1.max"]),
        ("seed: 42", "seed: 1" + "0" * 30, [":12:", "seed"]),
        ("mean: 10ms", "mean: 1e400ms", [":21:", "service_time.mean"]),
        ("replicas: 1", "replicas: 1000000", [":17:", "1,000,000 replicas", "--force"]),
        (
            "mesh: {proxy: none}",
            "mesh: {proxy: none, import: [{format: 5, path: x}]}",
            [":16:", "mesh.import.0.format"],
        ),
        (
            "mesh: {proxy: none}",
            "mesh: {proxy: none, import: [{format: istio, path: " + "p" * 5000 + "}]}",
            [":16:", "too long"],
        ),
        ("mesh: {proxy: none}", "mesh: {proxy: none, import: {a: 1}}", [":16:", "mesh.import"]),
        ("name: minimal", "name: minimal\nlocations: {aws: [a, b]}", ["locations"]),
        ("  api:", '  "a\\npi":', [":23:", "unknown service", "a\\npi"]),
        ("seed: 42", "seed: 42\nzz: " + "1" * 5000, [":13:", "more than 4300 digits"]),
        ("seed: 42", "seed: 42\nzz: " + "[" * 500 + "]" * 500, [":13:", "nested more than 100"]),
        ("seed: 42", "seed: 42\nzz: \x0b", [":13:", "control character"]),
    ],
)
def test_fuzzed_scenarios_are_refused_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, needles: list[str]
) -> None:
    assert old in MINIMAL
    f = tmp_path / "fuzzed.yaml"
    f.write_text(MINIMAL.replace(old, new, 1), encoding="utf-8")
    code, err = _main(capsys, "validate", str(f))
    assert code == 2, err
    assert err.startswith(str(f)) and "internal error" not in err, err
    assert len(err.strip().splitlines()) == 1, err  # one message, one line
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize(
    "payload,needles",
    [
        (b"name: x\n\xff\xfe\n", [":2:", "not UTF-8"]),
        (b"name: x\nservices: {a\x00: 1}\n", [":2:", "NUL"]),
        (
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + b"".join(
                b"%c: &%c [" % (c, c) + b", ".join([b"*%c" % (c - 1)] * 10) + b"]\n" for c in range(ord("b"), ord("j"))
            ),
            ["250,000 values", "aliases"],
        ),
        (b"", [":1:", "empty"]),
        (b"\t- x\n", [":1:"]),
        (b"name: x\n" * 2, [":2:", "duplicate key"]),
        (b"key:\n" + b"".join(b"  " * i + b"a:\n" for i in range(1, 300)), ["nested more than 100"]),
    ],
)
def test_fuzzed_bytes_are_refused_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: bytes, needles: list[str]
) -> None:
    f = tmp_path / "bytes.yaml"
    f.write_bytes(payload)
    code, err = _main(capsys, "validate", str(f))
    assert code == 2 and "internal error" not in err, err
    for needle in needles:
        assert needle in err, err


def test_nan_rate_cannot_bypass_the_run_size_guard() -> None:
    """A NaN compares false with every limit: the guard works on validated finite values only."""
    from meshsim import MeshsimInputError, load_scenario

    with pytest.raises(MeshsimInputError, match="not a finite number"):
        load_scenario(MINIMAL.replace("rate: 80/s", "rate: .nan"))


def test_run_size_counts_replicas_attempts_and_load_faults() -> None:
    from meshsim import MeshsimInputError, load_scenario
    from meshsim.experiments import MAX_REPLICAS, check_size, estimate_size

    base = load_scenario(MINIMAL)
    size = estimate_size(base)
    assert size.replicas == 1 and size.worst_attempts_per_request == 1
    assert size.requests == pytest.approx(80 * 130)
    spiked = load_scenario(MINIMAL + "faults:\n  - {kind: load, at: 0s, duration: 65s, factor: 11}\n")
    assert estimate_size(spiked).requests == pytest.approx(80 * 130 * 6)  # half the horizon at 11x
    scaled = load_scenario(MINIMAL.replace("replicas: 1", "replicas: 1\n    autoscaling: {max_replicas: 200000}"))
    assert estimate_size(scaled).replicas == 200_000 > MAX_REPLICAS
    with pytest.raises(MeshsimInputError, match="200,000 replicas"):
        check_size(scaled)
    check_size(scaled, force=True)  # --force accepts it
    storm = load_scenario(
        MINIMAL.replace("concurrency: 1", "concurrency: 1\n    calls: [{to: db, count: 1000}]").replace(
            "\nworkload:",
            "\n  db: {replicas: 1, service_time: 1ms, calls: [{to: db2, count: 1000}]}\n"
            "  db2: {replicas: 1, service_time: 1ms}\nworkload:",
            1,
        )
        + "policies:\n  db2: {retries: {attempts: 3}}\n"
    )
    assert estimate_size(storm).worst_attempts_per_request == 1 + 1000 * (1 + 1000 * 4)
    with pytest.raises(MeshsimInputError, match="attempts"):
        check_size(storm)


def test_mutated_mesh_configs_through_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        "deep.yaml": b"kind: VirtualService\nspec: " + b"[" * 3000 + b"]" * 3000 + b"\n",
        "nul.yaml": b"kind: VirtualService\nmetadata: {name: a\x00}\n",
        "digits.json": b'{"kind": "VirtualService", "spec": {"x": ' + b"7" * 5000 + b"}}",
        "deep.json": b"[" * 50000 + b"]" * 50000,
        "deep.hcl": b'Kind = "service-router"\nRoutes = ' + b"[" * 3000 + b"]" * 3000,
        "digits.hcl": b'Kind = "service-defaults"\nX = ' + b"9" * 5000,
    }
    for name, data in cases.items():
        f = tmp_path / name
        f.write_bytes(data)
        fmt = "consul" if name.endswith(".hcl") else "istio"
        code, err = _main(capsys, "import", fmt, str(f))
        assert code == 2 and err.startswith(str(f)) and "internal error" not in err, (name, err)


def test_import_root_refuses_symlinks_that_lead_out(tmp_path: Path) -> None:
    from meshsim import MeshsimInputError, load_scenario

    allowed = tmp_path / "upload"
    (allowed / "cfg").mkdir(parents=True)
    secret = tmp_path / "secret.yaml"
    secret.write_text("apiVersion: networking.istio.io/v1\nkind: VirtualService\n", encoding="utf-8")
    (allowed / "cfg" / "link.yaml").symlink_to(secret)
    (allowed / "out").symlink_to(tmp_path, target_is_directory=True)
    for path, needle in (
        ("cfg", "holds a link"),
        ("out/secret.yaml", "outside the folder"),
        ("../secret.yaml", "outside"),
    ):
        text = MINIMAL.replace(
            "mesh: {proxy: none}", f"mesh: {{proxy: none, import: [{{format: istio, path: {path}}}]}}"
        )
        with pytest.raises(MeshsimInputError, match=needle) as exc:
            load_scenario(text, import_root=allowed)
        assert exc.value.problems[0].field == "mesh.import.0.path"
        assert str(tmp_path) not in str(exc.value)  # the host's folders are not shown to an upload


@pytest.mark.parametrize(
    "services,policies",
    [
        ("5", "{}"),
        ("[api, db]", "{}"),
        ("{api: {replicas: 1, service_time: 1ms}}", "[1]"),
        ("{api: {replicas: 1, service_time: 1ms}}", "{reviews: 7}"),
    ],
)
def test_wrong_shapes_next_to_mesh_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], services: str, policies: str
) -> None:
    """Imports merge before validation: a wrong shape there must still end as a refusal with its line."""
    source = Path(__file__).resolve().parents[2] / "tests" / "data" / "importers" / "istio" / "good" / "reviews.yaml"
    (tmp_path / "reviews.yaml").write_bytes(source.read_bytes())
    f = tmp_path / "s.yaml"
    f.write_text(
        f"name: s\nmesh: {{import: [{{format: istio, path: reviews.yaml}}]}}\nservices: {services}\n"
        f"policies: {policies}\nworkload: [{{name: w, entry: api, rate: 10/s}}]\n",
        encoding="utf-8",
    )
    code, err = _main(capsys, "validate", str(f))
    assert code == 2 and "internal error" not in err, err
    assert err.startswith(f"{f}:"), err


def test_a_breaker_expression_meshsim_cannot_evaluate_is_refused_at_load(tmp_path):
    """Fuzz reproducer: an unreadable Traefik breaker expression was a crash at run time."""
    check_bad(
        tmp_path,
        """\
        name: t
        mesh: {defaults: traefik}
        services:
          api: {replicas: 1, service_time: 1ms}
        policies:
          api:
            circuit_breaker: {expression: 1s}
        workload:
          - {name: w, entry: api, rate: 10/s}
        """,
        7,
        "circuit_breaker.expression",
        "NetworkErrorRatio() > x",
        command="run",
    )
