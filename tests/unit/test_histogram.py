"""Streaming histograms: <=1% relative error on quantiles, exact merge, memory bounded by value range."""

import numpy as np
import pytest

from meshsim.metrics import RELATIVE_ACCURACY, LogHistogram


def test_quantiles_within_one_percent_of_exact_order_statistics():
    rng = np.random.default_rng(5)
    data = rng.lognormal(np.log(0.005), 1.2, 200_000)
    h = LogHistogram()
    for x in data:
        h.add(float(x))
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = np.quantile(data, q, method="lower")
        assert abs(h.quantile(q) - exact) / exact <= RELATIVE_ACCURACY + 1e-3, q
    assert h.mean() == pytest.approx(data.mean(), rel=1e-9)


def test_merge_equals_one_histogram_of_everything():
    rng = np.random.default_rng(6)
    a, b, both = LogHistogram(), LogHistogram(), LogHistogram()
    for x in rng.exponential(0.01, 5000):
        a.add(float(x))
        both.add(float(x))
    for x in rng.exponential(0.05, 5000):
        b.add(float(x))
        both.add(float(x))
    a.merge(b)
    assert a.counts == both.counts and a.n == both.n
    assert [a.quantile(q) for q in (0.5, 0.99)] == [both.quantile(q) for q in (0.5, 0.99)]


def test_memory_depends_on_range_not_on_count():
    rng = np.random.default_rng(7)
    small, big = LogHistogram(), LogHistogram()
    for x in rng.uniform(0.1, 1.0, 100_000):
        small.add(float(x))
    for x in rng.uniform(0.1, 1.0, 1_000_000):
        big.add(float(x))
    # buckets cover log(10)/log(1.02) = 116.3 bucket widths whatever the number of samples
    bound = int(np.ceil(np.log(10) / np.log(1.02))) + 1
    assert len(small.counts) <= bound and len(big.counts) <= bound
    assert len(big.counts) == len(small.counts)  # 10x the samples, not one bucket more


def test_zero_and_empty():
    h = LogHistogram()
    assert np.isnan(h.quantile(0.5))
    h.add(0.0)
    assert h.quantile(0.5) == 0.0


def test_per_second_bins_of_a_batch_equal_one_add_many_per_bin():
    """A batch spanning many bins (a quiet service) lands exactly as binning each second alone would."""
    from meshsim._histograms import BIN_GAMMA
    from meshsim.metrics import BinSeries

    rng = np.random.default_rng(8)
    times_s = np.sort(rng.uniform(5.0, 400.0, 2048))
    values_s = rng.lognormal(np.log(0.01), 1.5, 2048)
    values_s[::97] = 0.0  # some values at or below the resolution, counted as zero
    bins: dict = {}
    BinSeries(bins, "service", "cart", 5.0, 1.0).add_latencies(times_s, values_s)
    idx = ((times_s - 5.0) // 1.0).astype(np.int64)
    assert len(bins) == len(set(idx.tolist())) > 300
    for k in set(idx.tolist()):
        expected = LogHistogram(BIN_GAMMA)
        expected.add_many(values_s[idx == k])
        got = bins[("service", "cart", k)].latency
        assert (got.counts, got.zero, got.n, got.total, got.min, got.max) == (
            expected.counts,
            expected.zero,
            expected.n,
            expected.total,
            expected.min,
            expected.max,
        )
