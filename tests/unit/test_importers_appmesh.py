"""App Mesh importer on example files written for these tests (API JSON and CRD templates).

Expected values and defaults follow docs/references.md sections 0 and 4.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsim.errors import MeshsimInputError
from meshsim.meshes import ImportResult, import_mesh_config

from .importer_helpers import line_of, notes

GOOD = Path(__file__).resolve().parents[1] / "data" / "importers" / "appmesh" / "good"
BAD = GOOD.parent / "malformed"
SERVER_ERROR = [500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511]  # [A4]


@pytest.fixture(scope="module")
def res() -> ImportResult:
    return import_mesh_config("appmesh", GOOD)


def test_route_from_api_json(res: ImportResult) -> None:
    c = res.policies["colors"]  # VirtualService colors.shop.svc.cluster.local provides colors-router
    assert c["split"] == {"red": 3, "blue": 1}  # nodes colors-red/-blue -> versions red/blue
    assert c["timeout"] == "2s"
    r = c["retries"]
    assert r["attempts"] == 2 and r["per_try_timeout"] == "250ms"
    assert r["retry_on"] == [
        "retriable-status-codes",
        "reset",
        "gateway-error",
        "retriable-4xx",
        "refused-stream",
        "connect-failure",
    ]
    assert r["retriable_status_codes"] == SERVER_ERROR
    assert r["backoff"] == {"base": "25ms", "max": "250ms"}
    f = GOOD / "colors-route.json"
    o = res.origins["policies.colors.retries.per_try_timeout"]
    assert (o.file, o.line, o.object) == (str(f), line_of(f, "perRetryTimeout"), "Route/colors-default")


def test_non_catch_all_route_warns(res: ImportResult) -> None:
    f = GOOD / "colors-admin-route.json"
    hits = [w for w in res.warnings if "colors-admin-route.json" in w]
    assert len(hits) == 1 and "route match" in hits[0] and "catch-all route is used" in hits[0]
    spec_line = line_of(f, '"spec"')
    assert f"colors-admin-route.json:{spec_line}" in hits[0]


def test_virtual_node_listener_limits(res: ImportResult) -> None:
    red = res.policies["colors"]["versions"]["red"]
    assert red["connection_pool"] == {
        "max_connections": 50,
        "max_pending": 10,
        "max_requests": 2**31 - 1,
        "max_retries": 2**31 - 1,
    }  # [A1]
    assert red["outlier_detection"]["consecutive_5xx"] == 5
    assert red["outlier_detection"]["interval"] == "10s"
    assert red["outlier_detection"]["base_ejection_time"] == "30s"
    assert red["outlier_detection"]["max_ejection_percent"] == 20
    blue = res.policies["colors"]["versions"]["blue"]
    assert blue["connection_pool"]["max_requests"] == 100  # http2 pool, from a tab-indented JSON file
    f = GOOD / "colors-red-node.json"
    o = res.origins["policies.colors.versions.red.outlier_detection.consecutive_5xx"]
    assert o.line == line_of(f, "maxServerErrors") and o.object == "VirtualNode/colors-red"
    assert any("healthCheck" in w and "active health checks" in w for w in res.warnings)


def test_crd_template_with_grpc_route(res: ImportResult) -> None:
    led = res.policies["ledger"]
    assert led["split"] == {"v1": 9, "v2": 1}  # podSelector version labels
    assert led["retries"]["retry_on"] == ["connect-failure", "unavailable", "cancelled"]
    assert led["retries"]["attempts"] == 3 and led["retries"]["per_try_timeout"] == "400ms"
    assert led["versions"]["v1"]["connection_pool"]["max_requests"] == 64
    assert led["versions"]["v2"]["timeout"] == "5s"  # listener timeout, no route timeout
    assert res.services["ledger"]["replicas"] == 2
    assert any("template placeholders ${APP_NAMESPACE}" in w for w in res.warnings)
    f = GOOD / "ledger-manifest.yaml.template"
    assert res.origins["policies.ledger.split.v2"].line == line_of(f, "weight: 1", line_of(f, "ledger-v2}"))


def test_single_target_route_sets_no_split(tmp_path: Path) -> None:
    f = tmp_path / "r.json"
    f.write_text(
        '{"virtualRouterName": "pay-router", "routeName": "r", "spec": {"httpRoute": {'
        '"match": {"prefix": "/"}, "action": {"weightedTargets": [{"virtualNode": "pay", "weight": 1}]},'
        '"timeout": {"perRequest": {"value": 500, "unit": "ms"}}}}}'
    )
    res = import_mesh_config("appmesh", f)
    assert res.policies == {"pay": {"timeout": "500ms"}}  # "-router" suffix dropped without a VirtualService


@pytest.mark.parametrize(
    "name,line,message",
    [
        ("missing-timeout.json", 8, "retryPolicy needs maxRetries and perRetryTimeout"),
        ("bad-unit.json", 8, "unit must be ms or s"),
    ],
)
def test_malformed(name: str, line: int, message: str) -> None:
    with pytest.raises(MeshsimInputError) as exc:
        import_mesh_config("appmesh", BAD / name)
    p = exc.value.problems[0]
    assert (p.file, p.line) == (str(BAD / name), line)
    assert message in p.message


CASES = GOOD.parent / "cases"


def test_v1beta1_inline_routes_and_their_retry_policy() -> None:
    """Issue: App Mesh v1beta1 VirtualServices (routes inline, ``virtualNodeName`` targets,
    ``perRetryTimeoutMillis``) were lost silently. server-error = 500-508, 510, 511 plus reset [A4]."""
    res = import_mesh_config("appmesh", CASES / "v1beta1-inline-routes.yaml")
    color = res.policies["color"]
    assert color["split"] == {"blue": 3, "red": 1}
    assert color["retries"]["attempts"] == 4 and color["retries"]["per_try_timeout"] == "2s"
    assert color["retries"]["retriable_status_codes"] == [500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511]
    assert "reset" in color["retries"]["retry_on"]


def test_a_virtual_gateway_is_not_a_virtual_node() -> None:
    """Issue: an App Mesh VirtualGateway (listeners, no serviceDiscovery) was read as a VirtualNode and its
    connection pool imported as a service's. A node with listeners must have serviceDiscovery [A3]."""
    res = import_mesh_config("appmesh", CASES / "gateway.json")
    assert res.policies == {}
    assert any("VirtualGateway not modelled" in w for w in notes(res, "ignored"))


def test_cloudformation_template() -> None:
    """App Mesh walkthroughs declare the mesh in CloudFormation: AWS::AppMesh::* properties are the API's
    fields capitalised; !Ref, !Sub and !GetAtt resolve within the template; other resources have no effect."""
    res = import_mesh_config("appmesh", CASES / "cloudformation.yaml")
    cart = res.policies["cart"]
    assert cart["split"] == {"v1": 90, "v2": 10}
    assert cart["retries"]["attempts"] == 2 and cart["retries"]["per_try_timeout"] == "500ms"
    assert cart["retries"]["retry_on"] == ["gateway-error", "reset"]
    assert cart["timeout"] == "3s"
    f = CASES / "cloudformation.yaml"
    assert res.origins["policies.cart.timeout"].line == line_of(f, "PerRequest")
    assert any("AWS::ECS::Cluster" in w for w in notes(res, "irrelevant"))
