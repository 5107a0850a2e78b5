"""What a model's header says it shows, it shows (checked with wide margins, not seeded numbers)."""

from __future__ import annotations

from pathlib import Path

import meshsim
from meshsim.experiments import apply_overrides

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_online_boutique_doubling_the_rate_saturates_the_frontend_first():
    # the header: ~60% busy at 300/s, every other service under 10%; at 600/s the frontend
    # reaches 100% and its queue builds, p99 climbs far past the SLO, the rest stay under 15%
    base = apply_overrides(MODELS / "online-boutique.yaml", ["duration=10s"])
    cmp = meshsim.compare(base, overrides=["workload.browse.rate=600/s"], replications=2)
    before, after = cmp.base.to_dict(), cmp.changed.to_dict()
    util = {name: s["utilization"] for name, s in before["services"].items()}
    assert 0.45 < util.pop("frontend") < 0.75
    assert max(util.values()) < 0.1
    util2 = {name: s["utilization"] for name, s in after["services"].items()}
    assert util2.pop("frontend") > 0.95
    assert max(util2.values()) < 0.15
    p99 = before["workloads"]["browse"]["latency_ms"]["p99"]
    p99_doubled = after["workloads"]["browse"]["latency_ms"]["p99"]
    assert p99 < 100 < 5 * p99 < p99_doubled  # the browse-p99 SLO (100 ms) holds at 300/s, not at 600/s
