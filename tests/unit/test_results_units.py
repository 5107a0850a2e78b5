"""Every number in the tidy tables says its unit (docs/results.md: one unit policy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsim.experiments import apply_overrides, simulate
from meshsim.results import METRIC_UNITS

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize(
    "model", ["client-retries.yaml", "closed-population.yaml", "online-boutique.yaml", "retry-storm.yaml"]
)
def test_every_metric_of_the_tables_has_a_unit(model):
    scenario = apply_overrides(MODELS / model, [("duration", "3s"), ("warmup", "1s")])
    results = simulate(scenario, 2, executor="serial")
    table = results.metrics_table()
    missing = sorted(set(table.loc[table["unit"].fillna("") == "", "metric"]))
    assert not missing, f"metrics without a unit: {missing}"
    assert set(table["metric"]) <= set(METRIC_UNITS) | {m for m in table["metric"] if m.startswith("failed_")}
    summary = results.summary()
    assert (summary["unit"].fillna("") != "").all()
