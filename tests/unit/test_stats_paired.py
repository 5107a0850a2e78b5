"""The paired t-test's p-value where every difference is the same (common random numbers often give that)."""

from __future__ import annotations

import warnings

import numpy as np

from meshsim.stats import paired_p_value


def test_identical_differences_decide_on_the_mean_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's "catastrophic cancellation" would fail here
        assert paired_p_value(np.array([0.0, 0.0, 0.0])) == 1.0
        assert paired_p_value(np.array([3.2, 3.2, 3.2 + 4e-16])) == 0.0
        assert paired_p_value(np.array([1e6, 1e6 + 1e-9])) == 0.0
    p = paired_p_value(np.array([1.0, 2.0, 3.0, 0.5]))
    assert 0.0 < p < 0.2  # a real spread still gets a real t-test
