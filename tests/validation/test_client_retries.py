"""Client retry policies and back-off kinds against closed forms (docs/references.md §18).

A client retries a service whose every try fails with probability p, independently. The
closed forms give attempts per request:

- no limit, N retries: 1 + p + ... + p^N;
- AWS standard retry quota (cost c per retry, refunded on success, 1 per first-try success):
  1 + (1 - p) / (c p) once the quota drains, which it does when (1 - p) < c p (p + ... + p^N);
- gRPC retry throttling: retries stop once p / (1 - p) > token_ratio, run freely below;
- a failure-ratio retry breaker: retries stop once p > failure_ratio, run freely below;
- Brooker's retry token bucket (r tokens per request, 1 per retry): 1 + r retries per request
  once p + ... + p^N > r, else 1 + p + ... + p^N.

Back-off kinds: the mean wait before retry n, from draws of the objects themselves.
Each check asks whether the theory lies in the 99% t-interval of the replications.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from meshsim.distributions import uniform_sampler
from meshsim.engine._backoff import make_backoff
from tests.validation.conftest import assert_matches, queue_scenario, replicate, values


def _attempts_per_request(p: float, client: dict[str, Any], replications: int = 8) -> np.ndarray:
    sc = queue_scenario(
        "client-retries",
        {"api": {"service_time": "1ms", "concurrency": 1000, "error_rate": p}},
        100.0,
        60.0,
        warmup_s=20.0,
    )
    sc["workload"][0]["client"] = {"backoff": {"kind": "none"}, **client}
    table = replicate(sc, replications)
    attempts = values(table, "service", "api", "attempts")
    requests = values(table, "workload", "w", "requests")
    return attempts / requests


#: Requests that arrive in the last milliseconds are counted before their try ends: a bias of
#: about 1e-4 in attempts per request, far below these tests' intervals.
_EDGE = 1e-3


def _unlimited(p: float, retries: int) -> float:
    return sum(p**k for k in range(retries + 1))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_aws_standard_quota_attempts_per_request(p: float) -> None:
    cost, retries = 5, 2
    drains = (1 - p) < cost * p * (_unlimited(p, retries) - 1)
    theory = 1 + (1 - p) / (cost * p) if drains else _unlimited(p, retries)
    assert drains == (p == 0.5)  # one case in each regime
    assert_matches(_attempts_per_request(p, {"mode": "standard"}), theory, what=f"AWS quota, p={p}")


@pytest.mark.parametrize(("p", "retries_run"), [(0.05, True), (0.3, False)])
def test_grpc_retry_throttling_attempts_per_request(p: float, retries_run: bool) -> None:
    ratio = 0.1
    assert (p / (1 - p) < ratio) == retries_run
    theory = _unlimited(p, 2) if retries_run else 1.0
    client = {"retries": 2, "retry_throttling": {"max_tokens": 10, "token_ratio": ratio}}
    observed = _attempts_per_request(p, client)
    if retries_run:
        assert_matches(observed, theory, what=f"gRPC throttling, p={p}")
    else:
        # tokens sit near 0 after warm-up: climbing back above 5 takes ~50 successes in a row
        assert np.all(np.abs(observed - theory) < _EDGE)


@pytest.mark.parametrize(("p", "retries_run"), [(0.1, True), (0.3, False)])
def test_failure_ratio_breaker_attempts_per_request(p: float, retries_run: bool) -> None:
    client = {"retries": 2, "retry_breaker": {"failure_ratio": 0.2, "window": "10s"}}
    observed = _attempts_per_request(p, client)
    if retries_run:
        assert_matches(observed, _unlimited(p, 2), what=f"breaker open below, p={p}")
    else:
        # the window is full after warm-up; at 100 tries/s its failure share is 0.3 +- 0.015
        assert np.all(np.abs(observed - 1.0) < _EDGE)


@pytest.mark.parametrize(("p", "drains"), [(0.05, False), (0.5, True)])
def test_brookers_retry_bucket_attempts_per_request(p: float, drains: bool) -> None:
    """Brooker [R5]: like N retries at low failure rates, like 0.1 retries per request above ~10 %."""
    retries, fill = 3, 0.1
    assert ((_unlimited(p, retries) - 1) > fill) == drains
    theory = 1 + fill if drains else _unlimited(p, retries)
    client = {"retries": retries, "retry_bucket": {"max_tokens": 5, "tokens_per_request": fill}}
    assert_matches(_attempts_per_request(p, client), theory, what=f"retry bucket, p={p}")


def test_sdk_retries_of_a_caller_attempts_per_call() -> None:
    """A caller's SDK (policies.<service>.client) around its calls: 1 + p + p^2 tries per call."""
    sc = queue_scenario(
        "sdk-retries",
        {
            "front": {"service_time": "1ms", "concurrency": 1000, "calls": ["back"]},
            "back": {"service_time": "1ms", "concurrency": 1000, "error_rate": 0.4},
        },
        100.0,
        50.0,
        entry="front",
    )
    sc["policies"] = {"back": {"client": {"retries": 2}}}
    table = replicate(sc, 8)
    calls = values(table, "service", "front", "attempts")
    assert_matches(values(table, "service", "back", "attempts") / calls, _unlimited(0.4, 2), what="SDK, p=0.4")


def test_unlimited_client_retries_attempts_per_request() -> None:
    assert_matches(_attempts_per_request(0.5, {"retries": 3}), _unlimited(0.5, 3), what="3 retries, p=0.5")


# ----- back-off kinds: mean wait before retry n -----
BASE_S = 0.1


def _decorrelated_mean(n: int) -> float:
    m = BASE_S
    for _ in range(n):
        m = (BASE_S + 3 * m) / 2
    return m


@pytest.mark.parametrize(
    ("kind", "theory"),
    [
        ("full", lambda n: BASE_S * 2 ** (n - 2)),
        ("equal", lambda n: 3 * BASE_S * 2 ** (n - 3)),
        ("decorrelated", _decorrelated_mean),
    ],
)
def test_backoff_mean_wait_per_kind(kind: str, theory: Any) -> None:
    """Mean of 20,000 draws per retry number against Brooker's formulas (no cap)."""
    backoff = make_backoff(kind, BASE_S, None, uniform_sampler(np.random.default_rng(7)))
    draws = 20_000
    waits = np.zeros((draws, 4))
    for i in range(draws):
        prev = 0.0
        for n in range(1, 5):
            prev = backoff.wait_s(n, prev)
            waits[i, n - 1] = prev
    for n in range(1, 5):
        column = waits[:, n - 1]
        # 200 batch means of 100 draws each: a t-interval over independent batches
        assert_matches(column.reshape(200, 100).mean(axis=1), theory(n), what=f"{kind} retry {n}")


def test_backoff_cap_bounds_every_kind() -> None:
    u = uniform_sampler(np.random.default_rng(3))
    for kind in ("full", "equal", "decorrelated", "exponential"):
        backoff = make_backoff(kind, 0.1, 0.5, u)
        prev = 0.0
        for n in range(1, 12):
            prev = backoff.wait_s(n, prev)
            assert 0.0 <= prev <= 0.5 + 1e-12
    exponential = make_backoff("exponential", 0.1, 0.5, u)
    assert [exponential.wait_s(n, 0.0) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.4, 0.5])
    assert math.isclose(make_backoff("constant", 0.2, None, u).wait_s(7, 0.0), 0.2)
    assert make_backoff("none", 0.2, None, u).wait_s(3, 0.0) == 0.0
