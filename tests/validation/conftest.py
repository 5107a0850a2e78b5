"""Helpers for checking the engine against closed forms (docs/references.md §11, §16).

Each check runs independent replications and asks whether the theoretical value lies
inside the 99% Student-t interval of the replication values, widened by the
histogram's 1% quantile error where a quantile is compared. No seed-specific numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from meshsim import load_scenario, simulate
from meshsim.metrics import RELATIVE_ACCURACY


def queue_scenario(
    name: str,
    services: dict[str, Any],
    rate: float,
    duration_s: float,
    *,
    entry: str | None = None,
    warmup_s: float = 20.0,
    seed: int = 2026,
) -> dict[str, Any]:
    """A proxy-less, zero-latency scenario: pure queueing."""
    return {
        "name": name,
        "seed": seed,
        "duration": f"{duration_s}s",
        "warmup": f"{warmup_s}s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": services,
        "workload": [{"name": "w", "entry": entry or next(iter(services)), "rate": rate}],
    }


def replicate(scenario: dict[str, Any], replications: int = 8):
    """Run and return the tidy per-replication metrics table."""
    return simulate(load_scenario(scenario), replications, executor="process").metrics_table_si()


def values(table, scope: str, name: str, metric: str) -> np.ndarray:
    sel = table[(table.scope == scope) & (table.name == name) & (table.metric == metric)]
    return sel.sort_values("replication")["value"].to_numpy(dtype=float)


def assert_matches(
    observed: np.ndarray, theory: float, *, quantile: bool = False, what: str = "", confidence: float = 0.99
) -> None:
    """Theory must lie in the t-interval of the replication values (plus 1% for histogram quantiles)."""
    n = observed.size
    mean = float(observed.mean())
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * float(observed.std(ddof=1)) / math.sqrt(n)
    if quantile:
        half += RELATIVE_ACCURACY * abs(mean)
    assert abs(mean - theory) <= half, (
        f"{what}: simulated {mean:.6g} +/- {half:.3g} ({confidence:.0%} CI over {n} replications) "
        f"does not contain theory {theory:.6g}"
    )


@pytest.fixture
def run():
    return replicate
