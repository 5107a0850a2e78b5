"""The curated public namespace, no import-time side effects, and one-way imports (STYLE.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import meshsim

PKG = Path(meshsim.__file__).parent

EXPECTED = {
    "__version__",
    "Scenario",
    "load_scenario",
    "json_schema",
    "simulate",
    "run_replication",
    "Results",
    "ReplicationResult",
    "EffectivePolicy",
    "resolve_policy",
    "LoadBalancer",
    "EndpointStats",
    "MeshsimInputError",
    "InputProblem",
}


def test_exported_members():
    assert set(meshsim.__all__) >= EXPECTED
    for name in meshsim.__all__:
        assert hasattr(meshsim, name), name


def test_import_has_no_side_effects():
    code = (
        "import threading, numpy.random as r; s = r.get_state()[1][:3].tolist(); import meshsim; "
        "assert r.get_state()[1][:3].tolist() == s; assert threading.active_count() == 1; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


LAYERS = [
    "units",
    "errors",
    "rng",
    "distributions",
    "slo",
    "scenario",
    "importers",
    "policies",
    "engine",
    "metrics",
    "results",
    "runners",
    "executors",
    "whatif",
    "sweep",
    "gate",
    "analysis",
    "calibrate",
    "viz",
    "report",
    "cli",
]
# what each layer must never import (imports flow scenario -> engine -> metrics -> analysis/plots -> cli/app)
FORBIDDEN = {
    "units": {"scenario", "engine", "results", "cli", "viz"},
    "scenario": {"engine", "results", "runners", "cli", "viz", "report"},
    "policies": {"engine", "results", "runners", "cli", "viz"},
    "engine": {"results", "runners", "cli", "viz", "report", "gate", "whatif", "sweep"},
    "metrics": {"engine", "cli", "viz"},
    "viz": {"engine", "cli", "runners"},
    "gate": {"engine", "cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    rel = path.relative_to(PKG).parts
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(rel[:-1])[: len(rel) - node.level]
            mod = (node.module or "").split(".")
            target = (base + mod)[:1] if (base + mod) else []
            if target:
                found.add(target[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("meshsim."):
            found.add(node.module.split(".")[1])
    return found


def test_imports_flow_one_way():
    bad = []
    for path in PKG.rglob("*.py"):
        layer = path.relative_to(PKG).parts[0].removesuffix(".py")
        for target in _imports(path) & FORBIDDEN.get(layer, set()):
            bad.append(f"{path.relative_to(PKG)} imports meshsim.{target}")
    assert not bad, bad
