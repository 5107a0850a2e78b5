"""Each mesh preset's effective defaults against docs/references.md section 7 (and the
per-mesh sections it summarises)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshsim import load_scenario, resolve_policy
from meshsim.meshes import MESHES, PRESET_NAMES, PRESETS, PROXY_OVERHEAD, SUPPORTED_FORMATS, Preset
from meshsim.meshes._envoy import ENVOY


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


@pytest.mark.parametrize("mesh", ["traefik", "traefik-mesh"])
def test_traefik(mesh):
    """Traefik 3.7 and Traefik Mesh v1.4 (Traefik v2.8) retry middleware, traefik/traefik
    pkg/middlewares/retry/retry.go:231,262-264 (v3.7.9) [T4]; dialTimeout 30 s, http_config.go:570 [T8]."""
    p = resolve_policy(scenario(mesh), "b")
    assert p.retry_attempts == 0 and p.timeout_s is None and p.outlier is None
    assert p.connect_timeout_s == 30.0  # was Envoy's 5 s
    configured = resolve_policy(scenario(mesh, {"retries": {"attempts": 2}}), "b")
    assert configured.backoff_base_s is None  # no initialInterval: retries at once [T4]
    assert configured.retry_on == {"connect-failure"}  # only connection-level errors
    # A retry goes back through the balancer, which does not remember the failed server [T4].
    assert configured.retry_different_host is False
    assert p.panic_percent == 0.0  # every server down: 503, no panic mode (wrr.go:175) [T9]


@pytest.mark.parametrize("mesh", ["istio", "linkerd", "consul", "appmesh", "kuma", "traefik", "traefik-mesh"])
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


# -- the registry: one list of meshes, presets written as differences from one Envoy base ----------------


def _differences(preset: Preset) -> dict[str, object]:
    skip = {"name", "source", "version"}
    return {
        f: getattr(preset, f)
        for f in preset.__dataclass_fields__
        if f not in skip and getattr(preset, f) != getattr(ENVOY, f)
    }


def test_registry_is_the_one_list_of_mesh_names():
    from meshsim.scenario._models import MESH_PRESETS, PROXIES, Mesh

    assert tuple(MESHES) == SUPPORTED_FORMATS
    assert PRESET_NAMES == MESH_PRESETS == ("istio", "linkerd", "consul", "appmesh", "kuma", "traefik", "traefik-mesh")
    schema = Mesh.model_json_schema()["properties"]
    assert schema["defaults"]["anyOf"][0]["enum"] == list(PRESET_NAMES)
    assert schema["proxy"]["anyOf"][0]["enum"] == list(PROXIES)
    for name, unit in MESHES.items():
        assert unit.name == name and isinstance(unit.importer.FORMAT, str) and name == unit.importer.FORMAT
        assert unit.import_preset is None or unit.import_preset in unit.presets
        for pname, p in unit.presets.items():
            assert p.name == pname and p.proxy in PROXY_OVERHEAD


def test_engine_overhead_priors_are_the_meshes():
    """One home per default: the proxies' overhead priors live with their meshes (docs/proxies.md, §8)."""
    from meshsim.engine._core import PROXY_OVERHEAD as ENGINE_COPY

    assert dict(ENGINE_COPY) == PROXY_OVERHEAD


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # docs/references.md §1: [S7] no route timeout, [S3] 2 retries and previous hosts, [S4] least request,
        # 2^32-1 thresholds, panic 0, [S8] connect 10 s and locality on, [S5] failover needs outlier detection.
        (
            "istio",
            {
                "timeout_s": None,
                "retry_attempts": 2,
                "retry_attempts_in_block": 2,
                "retry_on": ("connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"),
                "retry_different_host": True,
                "load_balancer": "least_request",
                "max_connections": None,
                "max_pending": None,
                "max_requests": None,
                "max_retries": None,
                "connect_timeout_s": 10.0,
                "panic_percent": 0.0,
                "locality": True,
                "locality_needs_outlier": True,
            },
        ),
        # §3: [C1] connect-failure + codes, [C3] outlier always on, panic 0.
        (
            "consul",
            {"retry_on": ("connect-failure", "retriable-status-codes"), "outlier_always": True, "panic_percent": 0.0},
        ),
        # §4: [A1] the hidden 2-retry policy and 2^31-1 thresholds.
        (
            "appmesh",
            {
                "retry_attempts": 2,
                "retry_attempts_in_block": 2,
                "retry_on": ("retriable-status-codes", "reset", "connect-failure", "refused-stream"),
                "retriable_status_codes": (503,),
                "max_connections": None,
                "max_pending": None,
                "max_requests": None,
                "max_retries": None,
            },
        ),
        # §5: [K1] mesh-retry-all and locality, [K3] retryOn default, [K5] no cross-zone.
        (
            "kuma",
            {
                "retry_attempts": 5,
                "per_try_timeout_s": 16.0,
                "retry_on": ("gateway-error", "connect-failure", "refused-stream"),
                "locality": True,
                "locality_cross_zone": False,
            },
        ),
    ],
)
def test_envoy_meshes_differ_from_envoy_only_where_they_say(name, expected):
    assert _differences(PRESETS[name]) == expected


def test_every_mesh_cites_its_semantics():
    refs = (Path(__file__).resolve().parents[2] / "docs" / "references.md").read_text()
    for unit in MESHES.values():
        assert unit.semantics, unit.name
        for row in unit.semantics:
            assert row.source and row.version and row.behaviour and row.value, row
            for tag in re.findall(r"\[([A-Z]\d+)\]", row.ref):
                assert f"[{tag}]" in refs, (unit.name, tag)
        for block, (values, note) in unit.block_defaults.items():
            assert values and "§" in note, (unit.name, block)


def test_istio_gateway_count_without_enforcement_enforces():
    """Istio sets EnforcingConsecutiveGatewayFailure to 100 once consecutiveGatewayErrors > 0
    (pilot cluster_traffic_policy.go:513-520) [S4]; plain Envoy's default enforcement stays 0 % [E4]."""
    p = resolve_policy(scenario("istio", {"outlier_detection": {"consecutive_gateway_errors": 3}}), "b")
    assert p.outlier.consecutive_gateway_errors == 3 and p.outlier.enforcing_consecutive_gateway_errors == 100.0
    assert ENVOY.outlier.enforcing_consecutive_gateway_errors == 0.0
