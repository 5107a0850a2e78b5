"""Linkerd importer on example files written for these tests (tests/data/importers/linkerd/).

Expected values and defaults follow docs/references.md section 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsim.errors import MeshsimInputError
from meshsim.meshes import ImportResult, import_mesh_config
from meshsim.meshes._linkerd import PROFILE_RETRY_CAP

from .importer_helpers import line_of, notes

GOOD = Path(__file__).resolve().parents[1] / "data" / "importers" / "linkerd" / "good"
BAD = GOOD.parent / "malformed"


@pytest.fixture(scope="module")
def res() -> ImportResult:
    return import_mesh_config("linkerd", GOOD)


def test_route_annotations_replace_service_retry_annotations(res: ImportResult) -> None:
    r = res.policies["orders"]["retries"]
    assert r["attempts"] == 2  # the route's limit, not the Service's "4" [L1]
    assert r["per_try_timeout"] == "300ms"
    assert r["retry_on"] == ["gateway-error", "timeout", "retriable-status-codes"]
    assert r["retriable_status_codes"] == [429, 500, 501, 502]  # "500-502,429"
    assert r["backoff"] == {"base": "25ms", "max": "250ms"}  # annotation back-off [L7]
    f = GOOD / "orders.yaml"
    o = res.origins["policies.orders.retries.attempts"]
    assert o.line == line_of(f, 'retry.linkerd.io/limit: "2"') and o.object == "HTTPRoute/orders-split"
    overridden = [w for w in notes(res, "irrelevant") if "overridden by the route's retry" in w]
    assert len(overridden) == 2  # the Service's http and limit annotations


def test_service_timeout_and_failure_accrual(res: ImportResult) -> None:
    o = res.policies["orders"]
    assert o["timeout"] == "2s"
    assert o["failure_accrual"] == {
        "kind": "consecutive",
        "max_failures": 5,
        "min_penalty": "2s",
        "max_penalty": "30s",
        "jitter": 0.2,
    }
    f = GOOD / "orders.yaml"
    assert res.origins["policies.orders.failure_accrual.jitter"].line == line_of(f, "jitter-ratio")


def test_httproute_weighted_backends(res: ImportResult) -> None:
    assert res.policies["orders"]["split"] == {"v1": 80, "v2": 20}  # orders-v1/-v2 -> versions v1/v2
    assert any("orders.yaml" in w and "rules[0].matches" in w for w in res.warnings)
    assert res.services["orders"]["replicas"] == 3


def test_failure_accrual_defaults(res: ImportResult) -> None:
    assert res.policies["inventory"]["failure_accrual"] == {
        "kind": "consecutive",
        "max_failures": 7,
        "min_penalty": "1s",
        "max_penalty": "60s",
        "jitter": 0.5,
    }  # [L3]
    assert "§2" in res.origins["policies.inventory.failure_accrual.max_failures"].note


def test_service_profile_overrides_annotations(res: ImportResult) -> None:
    p = res.policies["payments"]
    assert p["timeout"] == "300ms"  # the profile's, not the Service annotation's 9s
    assert p["retries"]["attempts"] == PROFILE_RETRY_CAP
    assert p["retries"]["retry_on"] == ["retriable-status-codes"]
    assert p["retries"]["retriable_status_codes"] == [500, 501, 502, 503, 504]
    assert "failure_accrual" not in p
    assert p["retry_budget"] == {"ratio": 0.1, "min_per_second": 5, "ttl": "20s"}
    assert p["split"] == {"v1": 0.9, "v2": 0.1}  # dstOverrides weights 900m / 100m
    ignored = [
        w for w in notes(res, "irrelevant") if "payments.yaml" in w and "annotation ignored: ServiceProfile" in w
    ]
    assert len(ignored) == 3
    f = GOOD / "payments.yaml"
    assert res.origins["policies.payments.retry_budget.ttl"].line == line_of(f, "ttl: 20s")


def test_profile_defaults_budget_and_5xx(res: ImportResult) -> None:
    s = res.policies["search"]
    assert s["retries"] == {"attempts": PROFILE_RETRY_CAP, "retry_on": ["5xx"]}
    assert s["retry_budget"] == {"ratio": 0.2, "min_per_second": 10, "ttl": "10s"}  # [L6]
    assert not any("search-profile.json" in w for w in res.warnings)  # pathRegex /.* is a catch-all


def test_limit_alone_defaults_and_response_timeout(res: ImportResult) -> None:
    c = res.policies["catalog"]
    assert c["retries"]["attempts"] == 3 and c["retries"]["retry_on"] == []
    assert c["timeout"] == "800ms"
    assert "failure_accrual" not in c  # unified mode is not modelled
    assert any("unified" in w for w in res.warnings)
    assert any("success-rate-threshold" in w for w in res.warnings)


def test_grpc_route_annotations_and_timeout(res: ImportResult) -> None:
    g = res.policies["ledger"]
    assert g["timeout"] == "1.5s"
    assert g["retries"]["retry_on"] == ["unavailable", "cancelled", "timeout"]
    assert g["retries"]["attempts"] == 1  # limit unset => 1 [L1]
    assert "split" not in g  # all traffic to the service itself


def test_smi_traffic_split(res: ImportResult) -> None:
    assert res.policies["web"]["split"] == {"v1": 0.75, "v2": 0.25}


def test_server_warns(res: ImportResult) -> None:
    assert any("Server/web-http" in w for w in res.warnings)


@pytest.mark.parametrize(
    "name,line,message",
    [
        ("bad-limit.yaml", 6, "whole number"),
        ("bad-condition.yaml", 6, "unknown retry condition 'sometimes'"),
        ("bad-escape.yaml", 8, "YAML syntax"),
    ],
)
def test_malformed(name: str, line: int, message: str) -> None:
    with pytest.raises(MeshsimInputError) as exc:
        import_mesh_config("linkerd", BAD / name)
    p = exc.value.problems[0]
    assert (p.file, p.line) == (str(BAD / name), line)
    assert message in p.message


def test_route_timeout_field_beats_service_annotation_but_not_route_annotation(tmp_path: Path) -> None:
    svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  annotations: {timeout.linkerd.io/request: 9s}\n---\n"
    route = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: a\n%s"
        "spec:\n  parentRefs: [{name: a, kind: Service, group: core}]\n  rules:\n  - timeouts: {request: 2s}\n"
    )
    f = tmp_path / "a.yaml"
    f.write_text(svc + route % "")
    res = import_mesh_config("linkerd", f)
    assert res.policies["a"]["timeout"] == "2s"
    assert any("overridden by the route's timeouts.request" in w for w in notes(res, "irrelevant"))
    f.write_text(svc + route % "  annotations: {timeout.linkerd.io/request: 4s}\n")
    assert import_mesh_config("linkerd", f).policies["a"]["timeout"] == "4s"  # the annotation wins [L2]


def test_annotation_retries_get_no_retry_budget() -> None:
    """Issue: Linkerd annotation retries were given the ServiceProfile retry budget. Policy (annotation)
    retries are bounded by their limit only; the TpsBudget is on the profile path only
    (linkerd2-proxy linkerd/app/outbound/src/http/retry.rs vs .../logical/policy/route, §2 [L11][L14])."""
    from meshsim.scenario import load_scenario, resolve_policy

    res = import_mesh_config("linkerd", GOOD.parent / "cases" / "annotation-retries.yaml")
    assert res.policies["orders"]["retries"]["attempts"] == 3 and "retry_budget" not in res.policies["orders"]
    scenario = load_scenario(
        {
            "name": "l",
            "mesh": {"defaults": "linkerd"},
            "services": {
                "a": {"replicas": 1, "service_time": "1ms", "calls": ["orders"]},
                "orders": {"replicas": 1, "service_time": "1ms"},
            },
            "policies": {"orders": res.policies["orders"]},
            "workload": [{"name": "w", "entry": "a", "rate": 1}],
        }
    )
    p = resolve_policy(scenario, "orders")
    assert p.retry_attempts == 3 and p.budget_kind is None
    # A ServiceProfile's retries do carry the budget, written by the importer [L6].
    assert res_profile_budget() == {"ratio": 0.2, "min_per_second": 10, "ttl": "10s"}


def res_profile_budget() -> dict[str, object]:
    return import_mesh_config("linkerd", GOOD / "search-profile.json").policies["search"]["retry_budget"]
