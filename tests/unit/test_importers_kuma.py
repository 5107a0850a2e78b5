"""Kuma importer on example files written for these tests (Kubernetes and Universal forms).

Expected values and defaults follow docs/references.md sections 0 and 5.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsim.errors import MeshsimInputError
from meshsim.meshes import MESH_WIDE, ImportResult, import_mesh_config
from meshsim.meshes._envoy import OFF
from meshsim.meshes._kuma._targets import kuma_service

from .importer_helpers import line_of, notes

GOOD = Path(__file__).resolve().parents[1] / "data" / "importers" / "kuma" / "good"
BAD = GOOD.parent / "malformed"


@pytest.fixture(scope="module")
def res() -> ImportResult:
    return import_mesh_config("kuma", GOOD)


def test_kuma_service_names() -> None:
    assert kuma_service("backend_kuma-demo_svc_3001") == "backend"
    assert kuma_service("edge-gateway_kuma-demo_svc") == "edge-gateway"
    assert kuma_service("backend") == "backend"


def test_mesh_retry(res: ImportResult) -> None:
    r = res.policies["backend"]["retries"]
    assert r == {
        "attempts": 3,
        "per_try_timeout": "1s",
        "backoff": {"base": "50ms", "max": "500ms"},
        "retry_on": ["5xx", "reset", "connect-failure", "retriable-status-codes"],
        "retriable_status_codes": [503],
        "retry_different_host": True,
    }
    f = GOOD / "k8s-policies.yaml"
    o = res.origins["policies.backend.retries.attempts"]
    assert (o.line, o.object, o.source_field) == (
        line_of(f, "numRetries: 3"),
        "MeshRetry/backend-retry",
        "spec.to[0].default.http.numRetries",
    )
    assert any("HTTP methods" in w for w in res.warnings)


def test_grpc_retry_defaults_and_caller_scope(res: ImportResult) -> None:
    r = res.policies["payments"]["retries"]
    assert r["attempts"] == 2
    assert r["retry_on"] == [
        "cancelled",
        "connect-failure",
        "gateway-error",
        "refused-stream",
        "reset",
        "resource-exhausted",
        "unavailable",
    ]  # [K3]
    assert any("universal.yaml" in w and "calls from these proxies only" in w for w in res.warnings)


def test_mesh_timeout(res: ImportResult) -> None:
    assert res.policies[MESH_WIDE]["timeout"] == "5s"
    assert res.policies[MESH_WIDE]["connection_pool"]["connect_timeout"] == "2s"
    assert res.policies["backend"]["timeout"] == "1.5s"  # the MeshService entry, by Kuma's merge
    assert any("maxStreamDuration" in w for w in res.warnings)


def test_mesh_circuit_breaker(res: ImportResult) -> None:
    b = res.policies["backend"]
    assert b["connection_pool"] == {"max_connections": 100, "max_pending": 50, "max_requests": 200, "max_retries": 4}
    od = b["outlier_detection"]
    assert od["consecutive_5xx"] == 5 and od["consecutive_gateway_errors"] == 3
    assert od["enforcing_consecutive_gateway_errors"] == 100
    assert (od["interval"], od["base_ejection_time"], od["max_ejection_percent"], od["min_health_percent"]) == (
        "5s",
        "40s",
        20,
        30,
    )
    # detectors omitted: consecutive detectors get enforcement 0 (off), panic 50 % [K4]
    p = res.policies["payments"]["outlier_detection"]
    assert p["consecutive_5xx"] == OFF and p["enforcing_consecutive_gateway_errors"] == 0
    assert p["interval"] == "20s" and p["min_health_percent"] == 50
    assert any("success-rate detector" in w for w in res.warnings)


def test_mesh_http_route(res: ImportResult) -> None:
    b = res.policies["backend"]
    assert b["split"] == {"v0": 90, "v1": 10}
    assert b["mirror"] == {"to": "v2", "percent": 25}
    assert any("k8s-policies.yaml" in w and "route match" in w for w in res.warnings)


def test_load_balancing_strategy(res: ImportResult) -> None:
    b = res.policies["backend"]
    assert b["load_balancer"] == {"kind": "least_request", "choice_count": 3}
    assert b["locality"] == {"prefer": "zone", "cross_zone": True, "failover": ["zone-b", "zone-c"]}
    s = res.policies["sessions"]
    assert s["load_balancer"] == {"kind": "ring_hash", "key": "x-session"}
    assert s["locality"] == {"prefer": "none"}


def test_fault_injection_inbound(res: ImportResult) -> None:
    assert res.policies["backend"]["fault"] == {
        "abort": {"status": 503, "percent": 10},
        "delay": {"fixed": "2s", "percent": 2.5},
    }
    assert any("responseBandwidth" in w for w in res.warnings)
    assert any("more than one abort" in w for w in res.warnings)


def test_rate_limit(res: ImportResult) -> None:
    assert res.policies["backend"]["rate_limit"] == {"rate": "100/s", "burst": 100}
    f = GOOD / "k8s-policies.yaml"
    assert res.origins["policies.backend.rate_limit.burst"].line == line_of(f, "num: 100")


def test_traffic_permission_warns(res: ImportResult) -> None:
    assert any("MeshTrafficPermission/allow-all" in w for w in res.warnings)


def test_rate_limit_fraction(tmp_path: Path) -> None:
    f = tmp_path / "rl.yaml"
    f.write_text(
        "type: MeshRateLimit\nname: rl\nmesh: default\nspec:\n  targetRef: {kind: MeshService, name: b}\n"
        "  from:\n  - targetRef: {kind: Mesh}\n    default:\n      local:\n        http:\n"
        "          requestRate: {num: 5, interval: 10s}\n"
    )
    assert import_mesh_config("kuma", f).policies["b"]["rate_limit"] == {"rate": "0.5/s", "burst": 5}


@pytest.mark.parametrize(
    "name,line,message",
    [
        ("bad-interval.yaml", 11, "cannot read duration"),
        ("no-kind.yaml", 1, "no kind"),
    ],
)
def test_malformed(name: str, line: int, message: str) -> None:
    with pytest.raises(MeshsimInputError) as exc:
        import_mesh_config("kuma", BAD / name)
    p = exc.value.problems[0]
    assert (p.file, p.line) == (str(BAD / name), line)
    assert message in p.message


CASES = Path(__file__).resolve().parents[1] / "data" / "importers" / "kuma" / "cases"


def test_meshservice_selected_by_labels() -> None:
    """Kuma 2.10+ targets a MeshService by labels (api/common/v1alpha1/targetref.go:106-121, §5 [K6]):
    ``kuma.io/display-name`` names it; other labels pick the MeshService object that carries them."""
    res = import_mesh_config("kuma", CASES / "labels-targetref.yaml")
    assert res.policies["backend"]["timeout"] == "3s"
    assert res.policies["payments"]["retries"]["attempts"] == 4  # labels {team: billing} -> MeshService payments
    assert any("port section" in w for w in notes(res, "irrelevant"))


def test_a_policy_on_one_route_is_not_every_services() -> None:
    """Issue: a MeshTimeout on one MeshHTTPRoute became every service's timeout. It applies to the
    requests the route matches (§5 [K6]): a route on /v2 only is noted, not applied; a route matching
    every request applies to its service."""
    res = import_mesh_config("kuma", CASES / "route-scoped.yaml")
    assert MESH_WIDE not in res.policies and "timeout" not in res.policies.get("api", {})
    assert res.policies["web"]["timeout"] == "4s"
    assert res.origins["policies.web.timeout"].object == "MeshTimeout/web-timeout"
    assert any("MeshHTTPRoute 'api-v2' matches" in w and "not applied" in w for w in notes(res, "ignored"))


def test_inbound_timeouts_and_breakers_are_not_the_callers() -> None:
    """Issue: inbound (server-side) MeshTimeout and MeshCircuitBreaker were applied in the callers' proxies;
    and a fault for one caller identity (rules[].matches spiffeID) was applied to every caller. Kuma sets
    from[]/rules[] in the called service's own inbound listener (§5 [K1][K4])."""
    res = import_mesh_config("kuma", CASES / "inbound.yaml")
    backend = res.policies["backend"]
    assert "timeout" not in backend and "connection_pool" not in backend
    assert backend["fault"] == {"delay": {"fixed": "100ms", "percent": 10}}  # the rule for every caller
    ignored = notes(res, "ignored")
    assert any("inbound (server-side) timeout" in w for w in ignored)
    assert any("inbound (server-side) circuit breaker" in w for w in ignored)
    assert any("spiffeID" in w and "not applied" in w for w in ignored)
    # An unknown-to-meshsim kind inside a named file is skipped with a note, never an abort.
    assert any("MeshGatewayInstance" in w for w in ignored) and res.problems == []
