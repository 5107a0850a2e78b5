"""One fuzz case: write a mutated file, run it through ``meshsim``'s entry point, name the outcome.

Outcome classes (``make fuzz`` prints a count of each):

- ``refused:file:line``: exit 2 with a message naming the file and a line;
- ``refused:file``: exit 2 naming the file only (a problem of the whole file: empty, too large);
- ``refused:bare``: exit 2 naming no file;
- ``valid:ran``: accepted, then simulated (capped to a few thousand requests) with every request
  accounted for and the same results JSON twice; ``valid:refused-run``: accepted, but the
  run-size guard refused to simulate it;
- ``imported`` / ``calibrated`` / ``slo:ok``: the importer, calibrate or SLO file accepted it;
- failures: ``traceback`` (an exception escaped ``main``), ``crash`` (a valid scenario failed
  while simulating or printing), ``unaccounted`` (requests lost), ``nondeterministic``,
  ``exit:N`` (an exit code other than 0, 1, 2) and ``hang`` (set by the campaign's watchdog).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fuzz.mutations import mutate

__all__ = [
    "FAILURES",
    "REPO",
    "Case",
    "Outcome",
    "make_case",
    "run_case",
    "seed_files",
    "TARGETS",
]

REPO = Path(__file__).resolve().parents[2]
#: Simulated end-user requests a valid fuzzed scenario may take (the campaign's cap)...
MAX_FUZZ_REQUESTS = 2_000
#: ... and attempts at worst (every call, retry and hedge made), so a retry storm stays short ...
MAX_FUZZ_ATTEMPTS = 20_000
#: ... but never fewer requests than this.
MIN_FUZZ_REQUESTS = 50
FAILURES = ("traceback", "crash", "unaccounted", "nondeterministic", "hang", "exit")

#: A tiny scenario for SLO-file cases: ``check`` simulates it in a blink.
TINY_SCENARIO = """\
name: tiny
seed: 3
duration: 2s
services:
  api: {replicas: 1, service_time: 2ms, calls: [db]}
  db: {replicas: 1, service_time: 1ms}
workload:
  - {name: browse, entry: api, rate: 20/s}
"""

IMPORT_FORMATS = ("istio", "linkerd", "consul", "appmesh", "kuma", "traefik", "kubernetes")
TARGETS = ("scenario", "slo", *(f"import:{f}" for f in IMPORT_FORMATS), "traces", "metrics")


def _conformance_dirs(fmt: str) -> list[Path]:
    # The bundled samples, plus the full corpus beside the checkout when it is there
    # (MESHSIM_CONFORMANCE_CORPUS names it elsewhere, as for the conformance tests).
    corpus = Path(os.environ.get("MESHSIM_CONFORMANCE_CORPUS") or REPO / ".." / "shared" / "conformance")
    dirs = [REPO / "tests" / "data" / "importers" / fmt, REPO / "tests" / "data" / "conformance" / fmt, corpus / fmt]
    return [d for d in dirs if d.is_dir()]


def seed_files(target: str) -> list[Path]:
    """The real files a target's cases start from."""
    suffixes = (".yaml", ".yml", ".json", ".hcl", ".template")
    if target == "scenario":  # whole scenarios only (not the mesh configurations beside them)
        return sorted(p for p in (REPO / "models").rglob("*.yaml") if "\nservices:" in p.read_text(encoding="utf-8"))
    if target == "slo":
        return sorted((REPO / "tests" / "data" / "slo").glob("*.yaml"))
    if target == "traces":
        return sorted((REPO / "tests" / "data" / "traces").glob("*.json"))
    if target == "metrics":
        return sorted((REPO / "tests" / "data" / "traces").glob("*.prom"))
    fmt = target.split(":", 1)[1]
    found = {p for d in _conformance_dirs(fmt) for p in d.rglob("*") if p.is_file() and p.name.endswith(suffixes)}
    return sorted(found)


@dataclass
class Case:
    """One mutated input: the target it is for, the bytes, and the seed file's name."""

    target: str
    seed_file: Path
    data: bytes

    @property
    def suffix(self) -> str:
        name = self.seed_file.name
        for s in (".yaml.template", ".json.template", ".yml.template"):
            if name.endswith(s):
                return s
        return self.seed_file.suffix


def make_case(rng: random.Random, target: str) -> Case:
    """A mutated copy of one of ``target``'s seed files."""
    seed = rng.choice(seed_files(target))
    data = seed.read_bytes()
    is_json = seed.suffix == ".json"
    tree_ok = seed.suffix in (".yaml", ".yml", ".json") and target not in ("traces",)
    return Case(target, seed, mutate(rng, data, yaml_tree=tree_ok, as_json=is_json))


@dataclass
class Outcome:
    """What happened to one case."""

    kind: str
    detail: str = ""


def _main(argv: list[str]) -> tuple[int | None, str, str, str]:
    """``meshsim.cli.main(argv)`` in this process: (exit code, stdout, stderr, traceback or '')."""
    from meshsim.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    tb = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 - the point is to see any of them
            tb = traceback.format_exc()
    return code, out.getvalue(), err.getvalue(), tb


def _refusal(stderr: str, file: Path) -> str:
    name = re.escape(str(file))
    if re.search(rf"(^|\n){name}:\d+", stderr):
        return "refused:file:line"
    if str(file) in stderr:
        return "refused:file"
    return "refused:bare"


def _cli_outcome(code: int | None, stderr: str, tb: str, file: Path, ok_kind: str) -> Outcome | None:
    if tb or "Traceback" in stderr or code == 70:  # 70: main's "internal error" for an escaped exception
        return Outcome("traceback", tb or stderr)
    if code == 2:
        return Outcome(_refusal(stderr, file), stderr.strip().splitlines()[0] if stderr.strip() else "")
    if code in (0, 1):
        return None if ok_kind == "continue" else Outcome(ok_kind)
    return Outcome(f"exit:{code}", stderr[-2000:])


def run_case(case: Case, workdir: Path, *, simulate: bool = True) -> Outcome:
    """Write ``case`` into ``workdir`` and run it; never raises."""
    path = workdir / f"case{case.suffix}"
    path.write_bytes(case.data)
    if case.target == "scenario":  # mesh.import paths are relative to the scenario's folder
        for sibling in case.seed_file.parent.iterdir():
            if sibling.is_dir() and not (workdir / sibling.name).exists():
                (workdir / sibling.name).symlink_to(sibling, target_is_directory=True)
    try:
        if case.target == "scenario":
            return _scenario(path, simulate)
        if case.target == "slo":
            scenario = workdir / "tiny.yaml"
            scenario.write_text(TINY_SCENARIO, encoding="utf-8")
            args = ["check", str(scenario), "--slo", str(path), "-n", "2", "--executor", "serial", "--no-progress"]
            code, _, err, tb = _main(args)
            return _cli_outcome(code, err, tb, path, "slo:ok") or Outcome("slo:ok")
        if case.target.startswith("import:"):
            code, _, err, tb = _main(["import", case.target.split(":", 1)[1], str(path)])
            return _cli_outcome(code, err, tb, path, "imported") or Outcome("imported")
        if case.target == "traces":
            code, _, err, tb = _main(["calibrate", str(path)])
            return _cli_outcome(code, err, tb, path, "calibrated") or Outcome("calibrated")
        if case.target == "metrics":
            code, _, err, tb = _main(["calibrate", "--metrics", str(path), "--metrics-window", "10m"])
            return _cli_outcome(code, err, tb, path, "calibrated") or Outcome("calibrated")
        raise ValueError(case.target)
    except BaseException:  # noqa: BLE001 - the harness itself must not die
        return Outcome("traceback", traceback.format_exc())


def _scenario(path: Path, simulate: bool) -> Outcome:
    code, _, err, tb = _main(["validate", str(path)])
    early = _cli_outcome(code, err, tb, path, "continue")
    if early is not None:
        return early
    if not simulate:
        return Outcome("valid")
    return simulate_capped(path)


def simulate_capped(path: Path) -> Outcome:
    """Simulate a scenario the CLI accepted, shortened to at most ``MAX_FUZZ_REQUESTS``.

    Checks the run twice (same JSON: determinism) and every request's accounting
    (``run_replication`` checks it), then prints the summary as ``meshsim run`` does.
    """
    from meshsim.errors import MeshsimInputError
    from meshsim.experiments import check_size, estimate_size, run_replication
    from meshsim.results import Results
    from meshsim.scenario import load_scenario

    scenario = load_scenario(path)
    size = estimate_size(scenario)
    # At most MAX_FUZZ_REQUESTS requests, fewer when each may fan out into many attempts.
    budget = max(
        MIN_FUZZ_REQUESTS, min(MAX_FUZZ_REQUESTS, MAX_FUZZ_ATTEMPTS / max(1.0, size.worst_attempts_per_request))
    )
    if size.requests > budget:
        scale = budget / size.requests
        scenario = scenario.model_copy(
            update={"duration": scenario.duration * scale, "warmup": scenario.warmup * scale}
        )
    try:
        check_size(scenario, 1)
    except MeshsimInputError as exc:
        return Outcome("valid:refused-run", str(exc))
    try:
        runs = [Results(scenario, [run_replication(scenario, 0)], "fuzz").to_json() for _ in range(2)]
    except AssertionError as exc:
        if "account" in str(exc).lower() or "lost" in str(exc).lower():
            return Outcome("unaccounted", traceback.format_exc())
        return Outcome("crash", traceback.format_exc())
    except MeshsimInputError as exc:
        return Outcome("valid:refused-run", str(exc))
    except BaseException:  # noqa: BLE001
        return Outcome("crash", traceback.format_exc())
    if runs[0] != runs[1]:
        return Outcome("nondeterministic", str(path))
    try:
        _print_summary(runs[0])
    except BaseException:  # noqa: BLE001
        return Outcome("crash", traceback.format_exc())
    return Outcome("valid:ran")


def _print_summary(results_json: str) -> None:
    import json

    from rich.console import Console

    from meshsim.cli._run import summary_tables

    data: dict[str, Any] = json.loads(results_json)
    console = Console(file=io.StringIO(), width=160)
    for table in summary_tables(data):
        console.print(table)
