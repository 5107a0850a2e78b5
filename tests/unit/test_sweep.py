"""Sweeps: the grid, one row per point and replication, the writers, the figure, the CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import meshsim
from meshsim.cli import main
from meshsim.experiments import metric_column, parse_param, plan_sweep, sweep, write_table
from meshsim.viz import sweep_figure

YAML = """\
name: sweep-unit
seed: 4
duration: 15s
warmup: 2s
mesh: {proxy: none}
network: {same_zone: 0ms}
services:
  api:
    replicas: 1
    concurrency: 2
    service_time: {dist: exponential, mean: 10ms}
    error_rate: 0.05
policies:
  api: {retries: {attempts: 0, retry_on: [5xx]}}
workload:
  - {name: users, entry: api, rate: 60/s}
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(YAML, encoding="utf-8")
    return p


@pytest.fixture
def table(scenario_file: Path) -> pd.DataFrame:
    return sweep(
        scenario_file,
        ["policies.api.retries.attempts=0,2", "workload.users.rate=60/s,120/s,150/s"],
        2,
        executor="serial",
    )


def test_one_row_per_point_and_replication(table: pd.DataFrame) -> None:
    assert len(table) == 2 * 3 * 2
    assert not table.duplicated(["point", "replication"]).any()
    assert table.groupby("point").size().tolist() == [2] * 6
    assert table.attrs["params"] == ["policies.api.retries.attempts", "workload.users.rate"]
    # the last parameter varies fastest; numbers stay numbers, rates stay as written
    first = table.drop_duplicates("point")
    assert first["policies.api.retries.attempts"].tolist() == [0, 0, 0, 2, 2, 2]
    assert first["workload.users.rate"].tolist() == ["60/s", "120/s", "150/s"] * 2
    for col in (
        "workload:users:latency_p99_ms",
        "workload:users:error_rate",
        "workload:users:throughput_rps",
        "service:api:amplification",
        "service:api:utilization",
    ):
        assert col in table.columns


def test_sweep_points_behave_like_their_parameters(table: pd.DataFrame) -> None:
    means = table.groupby(["policies.api.retries.attempts", "workload.users.rate"], sort=False).mean(numeric_only=True)
    err = means["workload:users:error_rate"]
    # two retries of a 5% independent error leave about 0.0125%; none leaves 5%
    assert err.loc[0].min() > 0.03 and err.loc[2].max() < 0.005
    amp = means["service:api:amplification"]
    assert amp.loc[0].max() == pytest.approx(1.0) and amp.loc[2].min() > 1.03
    p99 = means["workload:users:latency_p99_ms"].loc[0]
    assert p99["60/s"] < p99["150/s"]  # utilisation 0.3 -> 0.75 on two workers


def test_points_share_the_seed_unless_it_is_swept(table: pd.DataFrame, scenario_file: Path) -> None:
    assert set(table["seed"]) == {4}
    # common random numbers: the same arrivals at every retry setting of one rate
    req = table[table["workload.users.rate"] == "60/s"].groupby("replication")["workload:users:requests"]
    assert (req.nunique() == 1).all()
    df = sweep(scenario_file, {"seed": [1, 2]}, 1, executor="serial")
    assert df["seed"].tolist() == [1, 2]
    assert df.iloc[0]["workload:users:requests"] != df.iloc[1]["workload:users:requests"]


def test_parse_param() -> None:
    assert parse_param("policies.cart.retries.attempts=0,1,2") == ("policies.cart.retries.attempts", [0, 1, 2])
    assert parse_param("policies.api.split={v1: 90, v2: 10},{v1: 50, v2: 50}") == (
        "policies.api.split",
        [{"v1": 90, "v2": 10}, {"v1": 50, "v2": 50}],
    )
    assert parse_param("services.api.service_time=5ms,'7ms'") == ("services.api.service_time", ["5ms", "7ms"])
    for bad in ("attempts", "a=", "a=1,,2"):
        with pytest.raises(meshsim.MeshsimInputError, match="--param"):
            parse_param(bad)


def test_bad_point_fails_before_running(scenario_file: Path) -> None:
    with pytest.raises(meshsim.MeshsimInputError, match="--param services.api.concurrency=lots"):
        plan_sweep(scenario_file, ["services.api.concurrency=1,lots"])
    with pytest.raises(meshsim.MeshsimInputError, match="given twice"):
        plan_sweep(scenario_file, ["seed=1", "seed=2"])


def test_writers_round_trip(table: pd.DataFrame, tmp_path: Path) -> None:
    write_table(table, tmp_path / "t.csv")
    write_table(table, tmp_path / "t.parquet")
    for back in (pd.read_csv(tmp_path / "t.csv"), pd.read_parquet(tmp_path / "t.parquet")):
        assert back.shape == table.shape
        assert back["workload:users:latency_p99_ms"].tolist() == pytest.approx(
            table["workload:users:latency_p99_ms"].tolist()
        )
    with pytest.raises(meshsim.MeshsimInputError, match="csv or .parquet"):
        write_table(table, tmp_path / "t.xlsx")


def test_figure_one_line_per_second_parameter(table: pd.DataFrame) -> None:
    fig = sweep_figure(table, x="workload.users.rate")
    assert len(fig.data) == 2 * 2  # two panels x two retry settings
    names = {t.name for t in fig.data}
    assert names == {"policies.api.retries.attempts=0", "policies.api.retries.attempts=2"}
    assert list(fig.data[0].x) == ["60/s", "120/s", "150/s"]
    p99 = (
        table[table["policies.api.retries.attempts"] == 0]
        .groupby("workload.users.rate", sort=False)[metric_column("workload", "users", "latency_p99")]
        .mean()
    )
    assert fig.data[0].y[0] == pytest.approx(p99["60/s"])  # the table and the figure are both in ms
    single = sweep_figure(
        table[table["policies.api.retries.attempts"] == 0],
        service="api",
        metrics=["utilization"],
        x="workload.users.rate",
        color=None,
    )
    assert single.data


def test_cli_sweep(scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, html = tmp_path / "o" / "s.parquet", tmp_path / "o" / "s.html"
    code = main(
        [
            "sweep",
            str(scenario_file),
            "--param",
            "policies.api.retries.attempts=0,1",
            "-n",
            "2",
            "--executor",
            "serial",
            "--no-progress",
            "--out",
            str(out),
            "--html",
            str(html),
        ]
    )
    assert code == 0
    assert len(pd.read_parquet(out)) == 4
    assert "plotly" in html.read_text(encoding="utf-8")[:200000].lower()
    assert "latency_p99" in capsys.readouterr().out
    assert main(["sweep", str(scenario_file), "--param", "nope.x=1", "--no-progress"]) == 2
    assert main(["sweep", str(scenario_file), "--no-progress"]) == 2
