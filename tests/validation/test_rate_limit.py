"""Rate-limit token buckets against their closed forms (docs/references.md §0, item 9).

A bucket at one replica, fed Poisson traffic at rate lambda just above the bucket's rate r:

- continuous refill (Envoy 1.32+, Traefik), ``burst: 1``: after each admission the token takes
  1/r to come back, then waits for the next arrival, so the admitted share is r / (r + lambda);
- stepped refill (Envoy's timer before 1.32), ``burst`` = tokens per fill = n: every fill
  interval T the bucket is full again, so the admitted share is E[min(N, n)] / (lambda T) with
  N ~ Poisson(lambda T).

Each check asks whether the theory lies in the 99% t-interval of the replications' values.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tests.validation.conftest import assert_matches, queue_scenario, replicate, values


def _admitted(rate_limit: dict[str, object], arrival_rate: float) -> np.ndarray:
    sc = queue_scenario(
        "rate-limit",
        {"api": {"service_time": "1ms", "concurrency": 1000}},
        arrival_rate,
        80.0,
        warmup_s=5.0,
    )
    sc["policies"] = {"api": {"rate_limit": rate_limit}}
    table = replicate(sc, 8)
    return 1.0 - values(table, "workload", "w", "error_rate")


@pytest.mark.parametrize("lam", [55.0, 100.0])
def test_continuous_bucket_of_one_token_admits_r_over_r_plus_lambda(lam: float) -> None:
    r = 50.0
    observed = _admitted({"rate": f"{r:g}/s", "burst": 1}, lam)
    assert_matches(observed, r / (r + lam), what=f"burst 1, lambda {lam:g}/s")


def test_continuous_bucket_admits_about_half_just_above_its_rate() -> None:
    """The reported symptom: burst 1 at 10 % above the rate admits 48 %, as the bucket should."""
    observed = _admitted({"rate": "50/s", "burst": 1}, 55.0)
    assert 0.45 < float(observed.mean()) < 0.50


@pytest.mark.parametrize("per_fill", [5, 50])
def test_stepped_bucket_admits_expected_min_of_poisson_and_fill(per_fill: int) -> None:
    lam, interval_s = 55.0, per_fill / 50.0  # 50 tokens per second either way
    observed = _admitted({"rate": "50/s", "burst": per_fill, "fill_interval": f"{interval_s:g}s"}, lam)
    mean_arrivals = lam * interval_s
    k = np.arange(per_fill)
    expected_admitted = float(
        np.sum(k * stats.poisson.pmf(k, mean_arrivals)) + per_fill * stats.poisson.sf(per_fill - 1, mean_arrivals)
    )
    assert_matches(observed, expected_admitted / mean_arrivals, what=f"{per_fill} tokens every {interval_s:g}s")
