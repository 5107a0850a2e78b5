"""A short lab run on a real Traefik 3.x on loopback (about 20 s): counts, not latencies.

Two servers behind a 75/25 split, the second failing 40% of its requests with HTTP 500, and
Traefik's retry middleware left at its conditions (network errors only). Theory: Traefik
does not retry an HTTP answer, so 0.25 x 0.4 = 10% of requests fail and each request costs
exactly one try; Traefik's weighted round robin is deterministic, so tries split 75/25.
meshsim's traefik preset predicts the same; the lab's comparison must say so within its
tolerances (max(1 pp, 3 standard errors) for rates and shares, max(2%, 3 SE) for tries).
Latencies are printed by the lab but not asserted: they depend on the load of the machine.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from meshsim.cli import main

SCENARIO = """\
name: lab-short
seed: 21
duration: 4s
warmup: 1s
mesh: {defaults: traefik}
services:
  api:
    concurrency: 8
    service_time: {dist: exponential, mean: 2ms}
    versions:
      good: {replicas: 1}
      bad: {replicas: 1, error_rate: 0.4}
policies:
  api:
    retries: {attempts: 2}
    split: {good: 75, bad: 25}
workload:
  - {name: users, entry: api, rate: 150/s}
"""


def _children(pid: int | None = None) -> dict[int, str]:
    """Live children of ``pid`` (default: this process) and their command lines."""
    me = str(os.getpid() if pid is None else pid)
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[1] == me and fields[0] != "Z":
                out[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_short_lab_run_counts_agree_with_theory_and_prediction(tmp_path, capsys):
    f = tmp_path / "lab.yaml"
    f.write_text(SCENARIO)
    out = tmp_path / "lab.json"
    page = tmp_path / "lab.html"
    code = main(
        [
            "lab",
            str(f),
            "--replications",
            "2",
            "--sim-replications",
            "6",
            "--json",
            str(out),
            "--html",
            str(page),
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    printed = captured.out
    assert code in (0, 1), printed + captured.err  # 1 only when a latency is off: asserted below
    assert not [c for c in _children().values() if "meshsim.lab" in c or "traefik" in c]
    data = json.loads(out.read_text())
    assert set(data) == {"measured", "predicted", "comparison", "calibration", "lab"}
    rows = {(r["metric"], r["target"]): r for r in data["comparison"]}
    counts = [r for r in data["comparison"] if r["metric"] in ("error_rate", "attempts_per_request", "share_of_tries")]
    assert len(counts) == 4
    for r in counts:
        assert r["within"], r
    assert code == (0 if all(r["within"] for r in data["comparison"]) else 1)

    w = data["measured"]["workloads"]["users"]
    done = w["ok"] + sum(w["failed"].values())
    assert done > 800 and w["requests"] == done + w["in_flight"]
    # theory: 25% of requests reach the failing server, which fails 40% of them; 4 binomial SE
    assert abs(w["error_rate"] - 0.10) < 4 * math.sqrt(0.1 * 0.9 / done)
    assert set(w["failed"]) == {"error"}
    # Traefik's smooth weighted round robin: 75/25 up to a request at each end of the window
    good = rows[("share_of_tries", "api/good")]
    assert abs(good["measured"] - 0.75) < 0.01
    tries = rows[("attempts_per_request", "api")]
    assert abs(tries["measured"] - 1.0) < 0.01 and abs(tries["predicted"] - 1.0) < 0.01
    assert data["predicted"]["workloads"]["users"]["error_rate"] is not None
    assert data["calibration"]["traefik_version"].startswith("3.")
    assert "lab-short" in page.read_text() and "share_of_tries" in printed


def test_sigterm_mid_run_stops_every_process_it_started(tmp_path):
    f = tmp_path / "lab.yaml"
    f.write_text(SCENARIO.replace("duration: 4s", "duration: 60s"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshsim", "lab", str(f), "--replications", "1", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            now = _children(proc.pid)
            started.update(now)
            # a backend and Traefik are up (the calibration run's): stop the lab there
            if any("meshsim.lab._backend" in c for c in now.values()) and any("traefik" in c for c in now.values()):
                break
            time.sleep(0.1)
        assert any("traefik" in c for c in started.values()), started
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    time.sleep(0.5)
    assert [pid for pid in started if _alive(pid)] == []
