"""What-if comparisons: common random numbers, paired intervals, overrides, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import meshsim
from meshsim.cli import main
from meshsim.experiments import apply_overrides, compare, paired_table, parse_override

BASE_YAML = """\
name: whatif-base
seed: 9
duration: 20s
warmup: 2s
mesh: {proxy: none}
network: {same_zone: 0ms}
services:
  front:
    replicas: 2
    concurrency: 16
    service_time: {dist: lognormal, median: 2ms, p99: 8ms}
    calls: [api]
  api:
    replicas: 4
    concurrency: 16
    service_time: {dist: lognormal, median: 5ms, p99: 40ms}
workload:
  - {name: users, entry: front, rate: 150/s}
"""


@pytest.fixture
def base_file(tmp_path: Path) -> Path:
    p = tmp_path / "base.yaml"
    p.write_text(BASE_YAML, encoding="utf-8")
    return p


def test_p99_regression_of_20_percent_is_significant(base_file: Path) -> None:
    # api 20% slower at every quantile; at ~10% utilisation the end-to-end p99 follows it
    cmp = compare(
        base_file,
        None,
        4,
        executor="serial",
        overrides=["services.api.service_time={dist: lognormal, median: 6ms, p99: 48ms}"],
    )
    row = cmp.row("workload", "users", "latency_p99_ms")
    assert row["significant"]
    assert row["diff_ci_low"] > 0
    assert row["rel_change"] == pytest.approx(0.2, abs=0.06)
    # common random numbers: arrivals are the same draws in both runs
    req = cmp.row("workload", "users", "requests")
    assert req["diff"] == 0 and not req["significant"]
    # a change smaller than min_effect is not called significant, however certain
    strict = paired_table(cmp.base, cmp.changed, min_effect=0.5)
    assert not strict[(strict["scope"] == "workload") & (strict["metric"] == "latency_p99_ms")]["significant"].any()


def test_identical_file_shows_no_significant_difference(base_file: Path) -> None:
    cmp = compare(base_file, base_file, 3, executor="serial")
    assert not cmp.table["significant"].any()
    assert (cmp.table["diff"].fillna(0) == 0).all()
    assert cmp.significant().empty


def test_changed_seed_is_replaced_by_the_base_seed(base_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(BASE_YAML.replace("seed: 9", "seed: 123"), encoding="utf-8")
    cmp = compare(base_file, other, 2, executor="serial")
    assert cmp.changed.scenario.seed == 9
    assert any("common random numbers" in n for n in cmp.notes)
    assert not cmp.table["significant"].any()


def test_to_dict_reports_milliseconds_and_intervals(base_file: Path) -> None:
    cmp = compare(base_file, None, 2, executor="serial", overrides=["services.api.concurrency=1"])
    data = json.loads(json.dumps(cmp.to_dict(), allow_nan=False))
    p99 = next(m for m in data["metrics"] if m["scope"] == "workload" and m["metric"] == "latency_p99_ms")
    assert p99["unit"] == "ms" and p99["changed"] > p99["base"] > 1.0
    assert len(p99["diff_ci"]) == 2 and data["overrides"] == ["services.api.concurrency=1"]


@pytest.mark.parametrize(
    "expr,path,value",
    [
        ("policies.cart.retries.attempts=0", "policies.cart.retries.attempts", 0),
        ("mesh.mtls=false", "mesh.mtls", False),
        ("workload.users.rate=900/s", "workload.users.rate", "900/s"),
        ("policies.api.split={v1: 90, v2: 10}", "policies.api.split", {"v1": 90, "v2": 10}),
        ("services.api.placement=null", "services.api.placement", None),
    ],
)
def test_parse_override_values_are_yaml(expr: str, path: str, value: Any) -> None:
    assert parse_override(expr) == (path, value)


def test_apply_overrides_paths(base_file: Path) -> None:
    s = apply_overrides(
        base_file,
        [
            "workload.users.rate=300/s",
            "workload.0.client.timeout=1s",
            "policies.api.retries={attempts: 2}",
            "duration=5s",
        ],
    )
    assert s.workload[0].rate == 300.0 and s.workload[0].client.timeout == 1.0
    assert s.policies["api"].retries.attempts == 2 and s.duration == 5.0
    # a dict and an in-memory scenario work the same way
    assert apply_overrides(meshsim.load_scenario(base_file), ["seed=4"]).seed == 4
    data = meshsim.load_scenario(base_file).model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert apply_overrides(data, ["services.api.concurrency=3"]).services["api"].concurrency == 3


@pytest.mark.parametrize(
    "expr,message",
    [
        ("services.api.concurrenc=2", "did you mean 'concurrency'"),
        ("workload.nobody.rate=5", "no item named 'nobody'; items: users"),
        ("workload.3.rate=5", "index 3 is out of range"),
        ("duration.unit=s", "duration is a single value"),
        ("services.api.service_time=5", "give a unit"),
        ("seed", "write path=value"),
        ("a..b=1", "empty part"),
        ("seed=[1, 2", "not valid YAML"),
    ],
)
def test_bad_overrides_name_the_set(base_file: Path, expr: str, message: str) -> None:
    with pytest.raises(meshsim.MeshsimInputError, match="--set|path=value|empty part|YAML") as info:
        apply_overrides(base_file, [expr])
    assert message in str(info.value)


def test_cli_compare(base_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp.json"
    code = main(
        [
            "compare",
            str(base_file),
            "--set",
            "services.api.concurrency=1",
            "-n",
            "2",
            "--executor",
            "serial",
            "--no-progress",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "latency_p99" in text and "significant" in text
    data = json.loads(out.read_text())
    assert data["replications"] == 2 and data["metrics"]


def test_cli_compare_bad_input_exits_2(base_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(base_file), "--set", "services.api.concurrenc=2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--set services.api.concurrenc=2" in err and "Traceback" not in err
    assert main(["compare", str(base_file), "--no-progress"]) == 2  # nothing to compare with
