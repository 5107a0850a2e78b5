"""Progress inside a run, stopping it (Ctrl-C, SIGTERM) with what ran kept, and a light start-up.

Progress and stop checks split a run into steps; that must not change a single number.
A stopped run keeps its results, marked partial, in the Python API and the results JSON,
and the command line exits 130 (SIGINT) or 143 (SIGTERM) without a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import meshsim
from meshsim import cli
from meshsim.experiments import _executors, run_replication

LONG = {
    "name": "long",
    "seed": 3,
    "duration": "2000s",  # far longer than any test waits
    "warmup": "1s",
    "network": {"same_zone": "0ms"},
    "mesh": {"proxy": "none"},
    "services": {
        "front": {"replicas": 2, "concurrency": 8, "service_time": "1ms", "calls": ["api"]},
        "api": {"replicas": 2, "concurrency": 8, "service_time": {"dist": "exponential", "mean": "2ms"}},
    },
    "workload": [{"name": "w", "entry": "front", "rate": "400/s"}],
}


def _short(duration: str = "20s") -> meshsim.Scenario:
    return meshsim.load_scenario({**LONG, "duration": duration})


def test_progress_in_steps_changes_no_number() -> None:
    sc = _short()
    seen: list[float] = []
    plain = run_replication(sc, 0)
    stepped = run_replication(sc, 0, progress=seen.append, should_stop=lambda: False)
    assert seen == sorted(seen) and seen[-1] == 1.0
    a = meshsim.Results(sc, [plain], "x").to_json()
    b = meshsim.Results(sc, [stepped], "x").to_json()
    assert a == b


def test_a_stopped_replication_is_partial_and_its_books_balance() -> None:
    sc = _short("200s")
    fractions: list[float] = []
    rep = run_replication(
        sc, 0, progress=fractions.append, should_stop=lambda: bool(fractions) and fractions[-1] > 0.05
    )
    assert rep.partial
    assert 0 < rep.measured_s < sc.duration
    rep.check_accounting()  # requests = ok + failed + in flight, also when cut short
    w = rep.workloads["w"]
    assert w.requests > 0 and abs(w.requests / rep.measured_s - 400) < 40  # the rate over what ran


def _signal_when_running(signum: int) -> threading.Thread:
    """Send ``signum`` to this process once a run is in progress (jobs running under a StopRequest)."""

    def fire() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            handler = signal.getsignal(signal.SIGINT)
            if isinstance(handler, _executors.StopRequest) and handler._running:
                time.sleep(0.3)  # let it simulate a little
                os.kill(os.getpid(), signum)
                return
            time.sleep(0.02)

    t = threading.Thread(target=fire, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_ctrl_c_in_simulate_returns_the_results_so_far(executor: str) -> None:
    t = _signal_when_running(signal.SIGINT)
    started = time.monotonic()
    res = meshsim.simulate(LONG, 2, executor=executor)
    t.join()
    assert time.monotonic() - started < 60
    assert res.partial and json.loads(res.to_json())["partial"] is True
    assert 1 <= len(res.replications) <= 2
    assert sum(r.workloads["w"].requests for r in res.replications) > 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_cli_keeps_what_ran_and_exits_128_plus_the_signal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], signum: int, code: int
) -> None:
    scenario = tmp_path / "long.yaml"
    scenario.write_text(json.dumps(LONG))  # JSON is YAML
    out = tmp_path / "out.json"
    t = _signal_when_running(signum)
    rc = cli.main(["run", str(scenario), "--json", str(out), "--no-progress"])
    t.join()
    err = capsys.readouterr().err
    assert rc == code
    assert "Traceback" not in err and "interrupted" in err
    data = json.loads(out.read_text())
    assert data["partial"] is True and data["workloads"]["w"]["requests"] > 0


def test_a_second_signal_stops_at_once() -> None:
    stop = _executors.StopRequest()
    with stop.running():
        stop(signal.SIGINT, None)  # the first asks the run to stop
        assert stop.requested()
        with pytest.raises(_executors.Interrupted) as info:
            stop(signal.SIGINT, None)
    assert info.value.signum == signal.SIGINT


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_progress_moves_during_one_replication(executor: str) -> None:
    calls: list[tuple[float, float]] = []
    meshsim.simulate({**LONG, "duration": "60s"}, 2, executor=executor, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (2, 2)
    assert any(0 < d < 1 for d, _ in calls), calls[:5]  # inside the first replication


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_imports_no_subcommand_and_validate_no_heavy_library() -> None:
    heavy = {"pandas", "scipy", "plotly", "meshsim.engine", "meshsim.results"}
    after_help = _modules_after(
        "from meshsim.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    # only the stdlib-only terminal setup; no subcommand module, nor their shared helpers
    assert not {m for m in after_help if m.startswith("meshsim.cli._")} - {"meshsim.cli._terminal"}
    assert not heavy & after_help and "numpy" not in after_help and "pydantic" not in after_help
    after_validate = _modules_after("from meshsim.cli import main\nmain(['validate', 'models/minimal.yaml'])")
    assert not heavy & after_validate and "numpy" not in after_validate


def test_the_command_list_matches_what_the_commands_register() -> None:
    parser = cli.build_parser()  # every module registers its commands
    sub: Any = next(a for a in parser._actions if a.dest == "command")
    registered = {c.dest: c.help for c in sub._choices_actions}
    assert registered == {name: line for name, (_, line) in cli.COMMANDS.items()}
