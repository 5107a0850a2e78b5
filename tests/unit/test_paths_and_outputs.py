"""Odd paths, unwritable outputs and odd terminals, through the real ``meshsim`` entry point.

Each ordinary mistake with a path or an output ends within seconds in one clear message and
a non-zero exit, never a traceback or a hang; the ASCII-only terminal ends with exit 0. Outputs
are written atomically, and results whose output failed are kept and the message says where.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

TINY = """\
name: tiny
seed: 5
duration: 2s
services:
  api: {replicas: 1, service_time: 2ms, calls: [db]}
  db: {replicas: 1, service_time: 1ms}
workload:
  - {name: browse, entry: api, rate: 20/s}
slos:
  - {name: browse-p99, workload: browse, metric: latency_p99, max: 500ms}
"""

ACCENTS = """\
name: café-crème
seed: 5
duration: 2s
services:
  sérvice-ñ: {replicas: 1, service_time: 2ms, calls: [dépôt]}
  dépôt: {replicas: 1, service_time: 1ms}
workload:
  - {name: clients-✓, entry: sérvice-ñ, rate: 20/s}
"""


def meshsim(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "meshsim", *args],
        input=stdin.decode() if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
    )


def refused(out: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr
    message = out.stderr.strip()
    assert message, "a refusal must say why"
    for needle in needles:
        assert needle in message, message
    return message


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    f = tmp_path / "tiny.yaml"
    f.write_text(TINY, encoding="utf-8")
    return f


# ------------------------------------------------------------------ outputs that cannot be written


def test_json_or_html_to_a_folder(tiny: Path, tmp_path: Path) -> None:
    for option in ("--json", "--html"):
        out = meshsim("run", str(tiny), "--no-progress", option, str(tmp_path))
        refused(out, f"meshsim: cannot write {tmp_path}", "is a folder")
        assert "browse" not in out.stdout  # refused before simulating anything


def test_outputs_checked_before_the_run(tiny: Path, tmp_path: Path) -> None:
    afile = tmp_path / "plain.txt"
    afile.write_text("x")
    for option in ("--json", "--html", "--traces"):
        out = meshsim("run", str(tiny), "--no-progress", option, str(afile / "out.json"))
        refused(out, "meshsim: cannot write", "is a file, not a folder")
        assert "browse" not in out.stdout  # refused before simulating anything
    out = meshsim("check", str(tiny), "--no-progress", "-n", "2", "--junit", str(tmp_path))
    refused(out, "meshsim: cannot write", "is a folder")


def test_disk_full_keeps_the_results_and_says_where(tiny: Path) -> None:
    out = meshsim("run", str(tiny), "--no-progress", "--json", "/dev/full")
    message = refused(out, "meshsim: cannot write /dev/full: No space left on device", "saved to")
    kept = Path(message.split("saved to ")[1].split(" instead")[0])
    try:
        data = json.loads(kept.read_text(encoding="utf-8"))
        assert data["scenario"] == "tiny" and data["workloads"]["browse"]["requests"] > 0
    finally:
        kept.unlink()
    assert "browse" in out.stdout  # the summary was shown too


def test_import_output_that_cannot_be_written(tmp_path: Path) -> None:
    source = REPO / "tests" / "data" / "importers" / "istio" / "good" / "reviews.yaml"
    afile = tmp_path / "f"
    afile.write_text("x")
    for target in (str(tmp_path), "/dev/full", str(afile / "policies.yaml")):
        refused(meshsim("import", "istio", str(source), "-o", target), "meshsim: cannot write")
    too_long = str(tmp_path / ("n" * 300 + ".yaml"))
    refused(meshsim("import", "istio", str(source), "-o", too_long), "name is too long")


def test_output_in_a_location_that_cannot_exist(tiny: Path) -> None:
    refused(meshsim("run", str(tiny), "--no-progress", "--json", "/proc/meshsim-nowhere/out.json"), "cannot write")


def test_two_runs_writing_one_file_leave_one_whole_file(tiny: Path, tmp_path: Path) -> None:
    target = tmp_path / "same.json"
    outs: list[subprocess.CompletedProcess[str]] = []
    runs = [
        threading.Thread(target=lambda: outs.append(meshsim("run", str(tiny), "--no-progress", "--json", str(target))))
        for _ in range(2)
    ]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert [o.returncode for o in outs] == [0, 0], [o.stderr for o in outs]
    assert json.loads(target.read_text(encoding="utf-8"))["scenario"] == "tiny"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.json", "tiny.yaml"]  # no temporary left


def test_written_files_are_utf8_whatever_the_terminal(tmp_path: Path) -> None:
    f = tmp_path / "accents scenario.yaml"  # a space in the name too
    f.write_text(ACCENTS, encoding="utf-8")
    out_json, out_html = tmp_path / "rés ults.json", tmp_path / "rapport.html"
    env = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}
    out = meshsim("run", str(f), "--no-progress", "--json", str(out_json), "--html", str(out_html), env=env)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert "sérvice-ñ" in json.loads(out_json.read_text(encoding="utf-8"))["services"]
    assert "dépôt" in out_html.read_text(encoding="utf-8")


# ------------------------------------------------------------------ inputs that are not regular files


def test_a_folder_as_the_scenario(tmp_path: Path) -> None:
    refused(meshsim("validate", str(REPO / "models")), "is a folder")
    named = tmp_path / "x.yaml"
    named.mkdir()
    refused(meshsim("run", str(named), "--no-progress"), "x.yaml", "is a folder")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_at_once(device: str) -> None:
    # refused before any read: a read would never end (the subprocess timeout guards a hang)
    refused(meshsim("validate", device), device, "device")
    refused(meshsim("check", str(REPO / "models" / "minimal.yaml"), "--slo", device), device, "device")


def test_a_fifo_with_no_writer_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    refused(meshsim("validate", str(fifo)), "named pipe")
    refused(meshsim("import", "istio", str(fifo)), "named pipe")
    refused(meshsim("calibrate", str(fifo)), "named pipe")


def test_import_of_the_whole_file_system(tmp_path: Path) -> None:
    refused(meshsim("import", "istio", "/"), "refusing to search the system")
    f = tmp_path / "s.yaml"
    f.write_text(TINY + "mesh:\n  import:\n    - {format: istio, path: /}\n", encoding="utf-8")
    refused(meshsim("validate", str(f)), "s.yaml:13", "mesh.import.0.path", "refusing")


def test_symlink_loop_and_missing_file(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    refused(meshsim("validate", str(loop)), "loop.yaml", "symbolic links")
    refused(meshsim("validate", str(tmp_path / "nope.yaml")), "no such file")
    refused(meshsim("validate", str(tmp_path / ("n" * 5000))), "too long")


def test_explain_on_undecodable_bytes(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes(TINY.replace("tiny", "caf\xe9").encode("latin-1"))
    refused(meshsim("explain", str(f)), "latin1.yaml:1", "not UTF-8")


def test_dash_reads_standard_input(tiny: Path) -> None:
    out = meshsim("validate", "-", stdin=TINY.encode())
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
    out = meshsim("run", "-", "--no-progress", "--json", "-", stdin=TINY.encode())
    assert out.returncode == 0, out.stderr
    assert '"scenario": "tiny"' in out.stdout
    bad = meshsim("validate", "-", stdin=TINY.replace("2ms", "2").encode())
    refused(bad, "<stdin>:5", "give a unit")


def test_deeply_nested_set_value(tiny: Path) -> None:
    value = "[" * 5000 + "]" * 5000
    refused(meshsim("compare", str(tiny), "--set", f"policies.api.retries.attempts={value}", "-n", "1"))


@pytest.mark.parametrize("args", [["schema"], ["explain", str(REPO / "models" / "online-boutique.yaml")]])
def test_a_pipe_closed_early_ends_quietly(args: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshsim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before meshsim writes, as with `| head` on a long output
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) != 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


# ------------------------------------------------------------------ a terminal that cannot encode


@pytest.mark.parametrize(
    "env",
    [{"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}, {"PYTHONIOENCODING": "ascii"}],
    ids=["LC_ALL=C", "PYTHONIOENCODING=ascii"],
)
def test_ascii_only_output_streams(tmp_path: Path, env: dict[str, str]) -> None:
    f = tmp_path / "accents.yaml"
    f.write_text(ACCENTS, encoding="utf-8")
    for args in (("run", str(f), "--no-progress"), ("explain", str(f)), ("check", str(f), "-n", "2", "--no-progress")):
        out = meshsim(*args, env=env)
        assert out.returncode in (0, 2), out.stderr  # check: no SLOs in this file -> a clear 2
        assert "Traceback" not in out.stderr and "UnicodeEncodeError" not in out.stderr, out.stderr
    out = meshsim("run", str(f), "--no-progress", env=env)
    assert out.returncode == 0 and "sérvice-ñ" in out.stdout  # redirected: UTF-8, data unchanged


def test_ascii_terminal_degrades_to_ascii(tmp_path: Path) -> None:
    """On a real terminal (a pty) whose locale is ASCII, names lose their accents instead of failing."""
    f = tmp_path / "accents.yaml"
    f.write_text(ACCENTS, encoding="utf-8")
    main, child = pty.openpty()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshsim", "run", str(f), "--no-progress"],
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        env=env,
    )
    os.close(child)
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(main)
    assert proc.wait(timeout=30) == 0
    text = b"".join(chunks).decode("ascii", errors="strict")  # nothing but ASCII reached the terminal
    assert "Traceback" not in text
    assert "service-n" in text and "depot" in text and "cafe-creme" in text, text


# ------------------------------------------------------------------ the UI's bind address


def test_make_run_binds_loopback_unless_asked() -> None:
    out = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True)
    command = out.stdout[out.stdout.index("streamlit run") :]
    assert "--server.address 127.0.0.1" in command and "--server.maxUploadSize" in command
    out = subprocess.run(["make", "-n", "run", "HOST=0.0.0.0"], cwd=REPO, capture_output=True, text=True)
    assert "--server.address 0.0.0.0" in out.stdout
