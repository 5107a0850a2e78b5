"""Every file in models/ validates and runs a short horizon (STYLE.md: execute the examples)."""

from pathlib import Path

import pytest

from meshsim import load_scenario, simulate

MODELS = Path(__file__).resolve().parents[2] / "models"
FILES = sorted(p for p in MODELS.rglob("*.yaml") if p.name != "scenario.yaml" or p.parent.name == "bookinfo")
FILES = [p for p in FILES if p.parent == MODELS or p.name == "scenario.yaml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(MODELS)))
def test_model_validates_and_runs_short(path):
    text = path.read_text()
    assert text.lstrip().startswith("#"), "each model starts with a comment header saying what it models"
    scenario = load_scenario(path)
    data = scenario.to_dict()
    data["duration"] = "6s"
    data["warmup"] = "1s"
    if data.get("mesh", {}).get("import"):
        data["mesh"] = {**data["mesh"], "import": []}  # the imported policies are already merged in
    results = simulate(load_scenario(data), 1)
    out = results.to_dict()
    for w in out["workloads"].values():
        assert w["requests"] > 0
        assert w["requests"] == w["ok"] + sum(w["failed"].values()) + w["in_flight"]


def test_models_folder_has_the_required_models():
    names = {p.name for p in MODELS.glob("*.yaml")}
    assert {"minimal.yaml", "online-boutique.yaml", "multicloud-retail.yaml"} <= names
