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
    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["duration"] = "6s"
    data["warmup"] = "1s"
    short = load_scenario({**data, "mesh": {**data.get("mesh", {}), "import": []}}) if not data.get("mesh", {}).get("import") else scenario
    results = simulate(short if short is not scenario else scenario, 1)
    out = results.to_dict()
    for w in out["workloads"].values():
        assert w["requests"] > 0
        assert w["requests"] == w["ok"] + sum(w["failed"].values()) + w["in_flight"]


def test_models_folder_has_the_required_models():
    names = {p.name for p in MODELS.glob("*.yaml")}
    assert {"minimal.yaml", "online-boutique.yaml", "multicloud-retail.yaml"} <= names
