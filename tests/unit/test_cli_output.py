"""What the CLI prints: one unit policy (ms, %, /s), readable explain, twin-check wording that matches its verdict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "tests" / "data" / "traces" / "jaeger_shop.json"
LONG_FLOAT = re.compile(r"\d\.\d{7,}")  # a raw float such as 0.05949607240473755


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_run_prints_slo_values_in_ms_and_percent(capsys: pytest.CaptureFixture[str]) -> None:
    out = _out(capsys, "run", str(ROOT / "models" / "minimal.yaml"), "--no-progress", "-n", "2", "--executor", "serial")
    assert not LONG_FLOAT.search(out), out
    p99 = next(line for line in out.splitlines() if "users-p99" in line)
    assert re.search(r"\d ms \[[\d.]+, [\d.]+\] ms", p99), p99  # value and interval, both in ms
    assert "<= 400.0 ms" in p99
    errors = next(line for line in out.splitlines() if "users-errors" in line)
    assert "%" in errors and "<= 0.100%" in errors
    assert "p99 95% CI ms" in out


def test_compare_prints_each_metric_in_its_own_unit(capsys: pytest.CaptureFixture[str]) -> None:
    out = _out(
        capsys,
        "compare",
        str(ROOT / "models" / "retry-storm.yaml"),
        "--set",
        "policies.db.retries.attempts=0",
        "-n",
        "2",
        "--executor",
        "serial",
        "--no-progress",
    )
    rows = {
        (cells[1].strip(), cells[2].strip(), cells[3].strip()): cells
        for line in out.splitlines()
        if (cells := line.split("│")) and len(cells) > 8
    }
    wasted = rows[("service", "api", "wasted_work_s")]
    assert wasted[4].strip().endswith(" s") and not wasted[4].strip().endswith(" ms")  # seconds stay seconds
    assert rows[("workload", "users", "latency_p99_ms")][4].strip().endswith(" ms")
    assert rows[("workload", "users", "error_rate")][6].strip().endswith(" pp")  # a difference of percentages
    assert rows[("workload", "users", "throughput_rps")][4].strip().endswith("/s")


def test_explain_is_a_short_readable_table(capsys: pytest.CaptureFixture[str]) -> None:
    out = _out(capsys, "explain", str(ROOT / "models" / "online-boutique.yaml"))
    lines = out.splitlines()
    assert len(lines) < 40, len(lines)  # one row per called service, not 800 lines of reprs
    for bad in ("None", "{'", "['", "frozenset"):
        assert bad not in out
    payment = next(line for line in lines if line.startswith("│ payment"))
    assert "1 s" in payment and "300 ms per try" in payment and "route timeout" in payment
    detail = _out(capsys, "explain", str(ROOT / "models" / "online-boutique.yaml"), "--service", "payment")
    assert "online-boutique.yaml:" in detail and "istio preset" in detail  # the line that set it, or the preset
    assert "25 ms base, up to 250 ms" in detail


def test_explain_unknown_service_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explain", str(ROOT / "models" / "online-boutique.yaml"), "--service", "paymnt"])
    err = capsys.readouterr().err
    assert code == 2 and "no service 'paymnt'" in err and "payment" in err


def test_twin_check_marks_every_pass_beyond_the_tolerance(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    twin = tmp_path / "twin.yaml"
    assert main(["calibrate", str(TRACES), "-o", str(twin)]) == 0
    capsys.readouterr()
    code = main(["twin-check", str(twin), str(TRACES), "--no-progress", "--executor", "serial"])
    out = capsys.readouterr().out
    assert "tolerance 10%" not in out  # the old title that a 25% error contradicted
    assert "within 10% or within the traces' sampling error" in out
    beyond = 0
    for cell in re.findall(r"\d+\.\d+ / \d+\.\d+ \(([+-][\d.]+)%\)( ~| ✗| ·)?", out):
        rel, mark = abs(float(cell[0])), cell[1].strip()
        if rel > 10.0:
            beyond += 1
            assert mark in ("~", "✗", "·"), cell  # never an unmarked pass outside the tolerance
        else:
            assert mark != "~", cell
    assert beyond, "the fixture has cells outside 10%"
    assert "checks within the tolerance or the traces' sampling error" in out
    assert ("twin matches" in out) == (code == 0)
