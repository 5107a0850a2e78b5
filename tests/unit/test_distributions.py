"""Distributions of docs/scenario.md, units: parameters, fitted quantiles, and sample moments (checked by CI)."""

import math

import numpy as np
import pytest
from scipy import stats

from meshsim.scenario import DistSpec


def build(spec):
    return DistSpec.model_validate(spec).build()


@pytest.mark.parametrize(
    "spec",
    [
        "5ms",
        {"dist": "exponential", "mean": "5ms"},
        {"dist": "lognormal", "median": "5ms", "p99": "40ms"},
        {"dist": "lognormal", "mean": "5ms", "cv": 1.5},
        {"dist": "gamma", "mean": "5ms", "cv": 0.5},
        {"dist": "uniform", "low": "1ms", "high": "3ms"},
        {"dist": "pareto", "mean": "5ms", "alpha": 3.5},
        {"dist": "empirical", "samples": ["1ms", "2ms", "9ms"]},
        {"dist": "histogram", "buckets": {"5ms": 50, "10ms": 90, "+Inf": 100}},
        {
            "dist": "mixture",
            "components": [
                {"weight": 0.9, "dist": {"dist": "exponential", "mean": "5ms"}},
                {"weight": 0.1, "dist": {"dist": "exponential", "mean": "55ms"}},
            ],
        },
    ],
)
def test_sample_mean_matches_analytic_mean(spec):
    d = build(spec)
    x = d.draw(np.random.default_rng(1), 200_000)
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - d.mean()) <= 4.5 * se + 1e-12, (x.mean(), d.mean())


def test_lognormal_fitted_from_median_and_p99():
    d = build({"dist": "lognormal", "median": "5ms", "p99": "40ms"})
    mu, sigma = d.p("mu"), d.p("sigma")
    assert stats.lognorm.ppf(0.5, sigma, scale=math.exp(mu)) == pytest.approx(0.005)
    assert stats.lognorm.ppf(0.99, sigma, scale=math.exp(mu)) == pytest.approx(0.040)


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"dist": "lognormal", "median": "5ms"}, "needs"),
        ({"dist": "lognormal", "median": "50ms", "p99": "40ms"}, "median < p99"),
        ({"dist": "gamma", "mean": "5ms", "cv": 0.5, "low": "1ms"}, "remove low"),
        ({"dist": "histogram", "buckets": {"5": 3}}, "needs a unit"),
        ({"dist": "histogram", "buckets": {"5ms": 9, "10ms": 3}}, "cumulative"),
        ({"dist": "exponential", "mean": 5}, "give a unit"),
    ],
)
def test_bad_distributions(spec, message):
    with pytest.raises(Exception, match=message):
        build(spec)
