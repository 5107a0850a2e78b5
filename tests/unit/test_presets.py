"""Each mesh preset's effective defaults against docs/references.md section 7 (and the
per-mesh sections it summarises)."""

from __future__ import annotations

import pytest

from meshsim import load_scenario, resolve_policy


def scenario(defaults: str | None, policy: dict | None = None):
    return load_scenario(
        {
            "name": "p",
            "mesh": {"defaults": defaults} if defaults else {},
            "services": {
                "a": {"replicas": 1, "service_time": "1ms", "calls": ["b"]},
                "b": {"replicas": 2, "service_time": "1ms"},
            },
            "policies": {"b": policy} if policy else {},
            "workload": [{"name": "w", "entry": "a", "rate": 1}],
        }
    )


def test_no_preset_means_nothing():
    p = resolve_policy(scenario(None), "b")
    assert p.retry_attempts == 0 and p.timeout_s is None and p.load_balancer.kind == "round_robin"
    assert p.max_connections is None and p.max_retries is None and p.outlier is None and p.budget_kind is None


def test_istio():
    p = resolve_policy(scenario("istio"), "b")
    assert p.retry_attempts == 2
    assert p.retry_on == {"connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"}
    assert p.timeout_s is None and p.per_try_timeout_s is None  # no route timeout [S7]
    assert p.load_balancer.kind == "least_request"  # [S4]
    assert p.max_connections is None and p.max_requests is None  # 2^32-1 = unlimited [S4]
    assert p.outlier is None and p.panic_percent == 0.0  # only if a DR sets it; panic off
    assert (p.backoff_base_s, p.backoff_max_s) == (0.025, 0.25)
    assert p.connect_timeout_s == 10.0 and p.locality is not None and p.locality_needs_outlier


def test_istio_partial_blocks_keep_istio_defaults():
    p = resolve_policy(
        scenario("istio", {"retries": {"per_try_timeout": "200ms"}, "outlier_detection": {"consecutive_5xx": 3}}), "b"
    )
    assert p.retry_attempts == 2 and "connect-failure" in p.retry_on  # retryOn default still applies [S3]
    assert p.outlier.consecutive_5xx == 3 and p.outlier.base_ejection_time == 30.0
    assert p.outlier.max_ejection_percent == 10.0 and p.outlier.enforcing_consecutive_gateway_errors == 0.0


def test_linkerd():
    p = resolve_policy(scenario("linkerd"), "b")
    assert p.retry_attempts == 0 and p.timeout_s is None and p.load_balancer.kind == "ewma"
    assert p.load_balancer.default_rtt == 0.030 and p.load_balancer.decay == 10.0
    assert p.failure_accrual is None and p.connect_timeout_s == 1.0
    configured = resolve_policy(scenario("linkerd", {"retries": {"retry_on": ["5xx"]}}), "b")
    assert configured.retry_attempts == 1  # annotation limit default 1 [L7]
    # Annotation (policy) retries have no budget, only the limit (linkerd2-proxy policy/route/retry.rs) [L14]:
    # the ServiceProfile budget is written by the importer with a profile's retries, not by the preset.
    assert configured.budget_kind is None
    budgeted = resolve_policy(scenario("linkerd", {"retries": {"attempts": 100}, "retry_budget": {"ratio": 0.2}}), "b")
    assert budgeted.budget_kind == "linkerd"
    assert (budgeted.budget_ratio, budgeted.budget_min_per_second, budgeted.budget_ttl_s) == (0.2, 10.0, 10.0)


def test_consul():
    p = resolve_policy(scenario("consul"), "b")
    assert p.retry_attempts == 0 and p.timeout_s == 15.0 and p.load_balancer.kind == "round_robin"
    assert (p.max_connections, p.max_pending, p.max_requests, p.max_retries) == (1024, 1024, 1024, 3)
    assert p.outlier is not None and p.outlier.consecutive_5xx == 5 and p.panic_percent == 0.0
    assert p.connect_timeout_s == 5.0


def test_appmesh():
    p = resolve_policy(scenario("appmesh"), "b")
    assert p.retry_attempts == 2 and p.timeout_s == 15.0
    assert 503 in p.retriable_status_codes and {"reset", "connect-failure"} <= p.retry_on
    assert p.outlier is None and p.max_connections is None and p.load_balancer.kind == "round_robin"


def test_kuma():
    p = resolve_policy(scenario("kuma"), "b")
    assert p.retry_attempts == 5 and p.per_try_timeout_s == 16.0 and p.timeout_s == 15.0
    assert p.retry_on == {"gateway-error", "connect-failure", "refused-stream"}
    assert (p.max_connections, p.max_pending, p.max_requests, p.max_retries) == (1024, 1024, 1024, 3)
    assert p.outlier is None and p.locality is not None and p.locality.cross_zone is False


def test_traefik():
    p = resolve_policy(scenario("traefik"), "b")
    assert p.retry_attempts == 0 and p.timeout_s is None and p.outlier is None
    configured = resolve_policy(scenario("traefik", {"retries": {"attempts": 2}}), "b")
    assert configured.backoff_base_s is None  # no back-off in Traefik Mesh [T4]
    assert configured.retry_on == {"connect-failure"}  # only connection-level errors


@pytest.mark.parametrize("mesh", ["istio", "linkerd", "consul", "appmesh", "kuma", "traefik"])
def test_explicit_fields_win_and_say_where_they_came_from(mesh):
    p = resolve_policy(scenario(mesh, {"timeout": "2s", "load_balancer": "random"}), "b")
    assert p.timeout_s == 2.0 and p.load_balancer.kind == "random"
    assert p.origins["timeout_s"] == "policies.b.timeout"
    assert p.origins["retry_attempts"].startswith(mesh)


def test_version_block_replaces_the_service_block():
    sc = load_scenario(
        {
            "name": "v",
            "services": {
                "a": {"replicas": 1, "service_time": "1ms", "calls": ["b"]},
                "b": {"service_time": "1ms", "versions": {"v1": {"replicas": 1}, "v2": {"replicas": 1}}},
            },
            "policies": {
                "b": {
                    "connection_pool": {"max_connections": 10, "max_pending": 5},
                    "versions": {"v2": {"connection_pool": {"max_connections": 3}}},
                }
            },
            "workload": [{"name": "w", "entry": "a", "rate": 1}],
        }
    )
    v1, v2 = resolve_policy(sc, "b", "v1"), resolve_policy(sc, "b", "v2")
    assert (v1.max_connections, v1.max_pending) == (10, 5)
    assert (v2.max_connections, v2.max_pending) == (3, None)  # whole block replaced, not merged [S6]
