"""Distribution fits and rate profiles recover known parameters from seeded synthetic samples.

Tolerances are 4 standard errors of the maximum-likelihood estimators (asymptotic,
from the Fisher information), so a correct fit fails with probability < 1e-4:
lognormal: SE(log median) = sigma/sqrt(n), SE(sigma) = sigma/sqrt(2n);
gamma: SE(mean) = mean*cv/sqrt(n), Var(shape) = k / (n (k psi'(k) - 1));
exponential: SE(mean) = mean/sqrt(n); Poisson rate over T seconds: SE = sqrt(r/T).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from meshsim.calibrate import fit_duration, rate_profile
from meshsim.calibrate._fit import short_duration, short_size
from meshsim.scenario import DistSpec
from meshsim.units import parse_duration

N = 2000


def test_lognormal_is_chosen_and_recovered() -> None:
    median, sigma = 5e-3, 0.8
    x = np.random.default_rng(11).lognormal(math.log(median), sigma, N)
    f = fit_duration(x)
    assert f.dist == "lognormal"
    assert abs(math.log(f.params["median"]) - math.log(median)) < 4 * sigma / math.sqrt(N)
    assert abs(f.params["sigma"] - sigma) < 4 * sigma / math.sqrt(2 * N)
    assert f.ks_p >= 0.01 and f.n == N
    assert set(f.spec) == {"dist", "median", "p99"}
    # The written spec builds the same distribution (3 significant digits: < 0.5% off).
    built = DistSpec.model_validate(f.spec).build()
    assert built.p("mu") == pytest.approx(math.log(f.params["median"]), abs=0.005)
    assert built.p("sigma") == pytest.approx(f.params["sigma"], rel=0.01)


def test_gamma_is_chosen_and_recovered() -> None:
    k, scale = 2.0, 2e-3
    x = np.random.default_rng(12).gamma(k, scale, N)
    f = fit_duration(x)
    assert f.dist == "gamma"
    mean, cv = k * scale, 1 / math.sqrt(k)
    assert abs(f.params["mean"] - mean) < 4 * mean * cv / math.sqrt(N)
    se_k = math.sqrt(k / (N * (k * special.polygamma(1, k) - 1)))
    se_cv = 0.5 * k**-1.5 * se_k
    assert abs(f.params["cv"] - cv) < 4 * se_cv
    assert parse_duration(f.spec["mean"]) == pytest.approx(f.params["mean"], rel=0.005)


def test_exponential_is_preferred_to_gamma_when_the_shape_adds_nothing() -> None:
    mean = 3e-3
    chosen = []
    for seed in range(20):
        x = np.random.default_rng(100 + seed).exponential(mean, N)
        f = fit_duration(x)
        chosen.append(f.dist)
        assert abs(f.params["mean"] - mean) < 4 * mean / math.sqrt(N)
    # The likelihood-ratio test at 5% keeps gamma in about 1 of 20 samples.
    assert chosen.count("exponential") >= 16
    assert set(chosen) <= {"exponential", "gamma"}


def test_no_shape_fits_a_bimodal_sample_so_it_stays_empirical() -> None:
    rng = np.random.default_rng(13)
    x = np.where(rng.random(N) < 0.5, rng.normal(5e-3, 3e-4, N), rng.normal(20e-3, 1e-3, N))
    f = fit_duration(x, max_samples=200)
    assert f.dist == "empirical"
    assert "no shape fits" in f.reason
    samples = [parse_duration(s) for s in f.spec["samples"]]
    assert len(samples) == 200 and samples == sorted(samples)
    # The quantile samples keep the two modes: about half below 12 ms.
    assert 0.4 < np.mean(np.array(samples) < 12e-3) < 0.6


def test_many_zeros_small_samples_and_constants() -> None:
    rng = np.random.default_rng(14)
    x = rng.lognormal(-5, 0.5, 500)
    x[:100] = 0.0
    assert fit_duration(x).dist == "empirical"
    few = fit_duration([1e-3, 2e-3, 3e-3])
    assert few.dist == "empirical" and "too few" in few.reason
    const = fit_duration([2e-3] * 50)
    assert const.dist == "constant" and parse_duration(const.spec) == pytest.approx(2e-3)
    assert fit_duration([]).dist == "none"


def test_comment_says_fit_p_value_and_count() -> None:
    x = np.random.default_rng(15).lognormal(-5, 0.5, 1203)
    text = fit_duration(x).comment("spans of cart")
    assert text.startswith("lognormal fit (KS p=") and text.endswith("to 1,203 spans of cart")


@pytest.mark.parametrize("seconds", [4.21e-3, 0.5, 1.0, 12.3456, 3725.0, 2.5e-6, 999.9e-3, 0.9999])
def test_short_duration_carries_a_unit_and_parses_back(seconds: float) -> None:
    text = short_duration(seconds)
    assert text[-1].isalpha()
    assert parse_duration(text) == pytest.approx(seconds, rel=0.005)


def test_short_size() -> None:
    assert short_size(512) == 512
    assert short_size(20480) == "20.5KB"
    assert short_size(3.2e6) == "3.2MB"


# ----------------------------------------------------------------------------- rate profile


def _poisson(rng: np.random.Generator, rate: float, start: float, end: float) -> np.ndarray:
    n = rng.poisson(rate * (end - start))
    return start + np.sort(rng.uniform(0, end - start, n))


def test_constant_rate_gives_no_profile() -> None:
    steps = 0
    for seed in range(30):
        t = _poisson(np.random.default_rng(seed), 100.0, 0.0, 300.0)
        p = rate_profile(t, bin_s=10)
        steps += bool(p.steps)
        assert abs(p.rate - 100.0) < 4 * math.sqrt(100.0 / 300.0)
        assert 0.9 < p.cv < 1.1  # Poisson gaps
    assert steps <= 1


def test_rate_steps_are_found_where_they_happen() -> None:
    rng = np.random.default_rng(21)
    t = np.concatenate([_poisson(rng, 100, 0, 60), _poisson(rng, 300, 60, 120), _poisson(rng, 100, 120, 180)])
    p = rate_profile(t, bin_s=10)
    assert [round(at) for at, _ in p.steps] == [60, 120]
    assert abs(p.rate - 100) < 4 * math.sqrt(100 / 60)
    assert abs(p.steps[0][1] - 300) < 4 * math.sqrt(300 / 60)
    assert abs(p.steps[1][1] - 100) < 4 * math.sqrt(100 / 60)
    assert min(p.z) > 3


def test_a_small_but_significant_change_is_not_a_step() -> None:
    # 5% more traffic at 10,000/s is many standard errors but below the 10% minimum change.
    rng = np.random.default_rng(22)
    t = np.concatenate([_poisson(rng, 10000, 0, 30), _poisson(rng, 10500, 30, 60)])
    assert rate_profile(t, bin_s=5).steps == []
