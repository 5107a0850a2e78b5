"""Consul importer on example files written for these tests (HCL, JSON and CRDs).

Expected values and defaults follow docs/references.md sections 0 and 3.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsim.errors import MeshsimInputError
from meshsim.meshes import ImportResult, import_mesh_config
from meshsim.meshes._envoy import OFF

from .importer_helpers import line_of, notes

GOOD = Path(__file__).resolve().parents[1] / "data" / "importers" / "consul" / "good"
BAD = GOOD.parent / "malformed"


@pytest.fixture(scope="module")
def res() -> ImportResult:
    return import_mesh_config("consul", GOOD)


def test_router_in_hcl1(res: ImportResult) -> None:
    w = res.policies["web"]
    assert w["timeout"] == "2s"
    assert w["retries"] == {
        "attempts": 3,
        "retry_on": ["reset", "gateway-error", "connect-failure", "retriable-status-codes"],
        "retriable_status_codes": [503, 429],
        "backoff": {"base": "25ms", "max": "250ms"},
    }
    f = GOOD / "web-router.hcl"
    o = res.origins["policies.web.retries.attempts"]
    assert (o.file, o.line) == (str(f), line_of(f, "NumRetries"))
    assert o.object == "ServiceRouter/web" and o.source_field == "Routes[1].Destination.NumRetries"
    hits = [x for x in res.warnings if "web-router.hcl" in x and "route match" in x]
    assert len(hits) == 1 and f"web-router.hcl:{line_of(f, 'Match {')}" in hits[0]


def test_splitter_json(res: ImportResult) -> None:
    assert res.policies["web"]["split"] == {"v1": 90, "v2": 10}  # the splitter beats DefaultSubset
    f = GOOD / "web-splitter.json"
    assert res.origins["policies.web.split.v2"].line == line_of(f, '"Weight": 10')


def test_resolver(res: ImportResult) -> None:
    w = res.policies["web"]
    assert w["load_balancer"] == {"kind": "least_request", "choice_count": 4}
    assert w["locality"] == {"failover": ["dc2", "dc3"], "prefer": "region"}
    assert w["connection_pool"]["connect_timeout"] == "3s"
    assert w["connection_pool"]["max_connections"] == 1024  # Envoy default kept by Consul [C3]
    assert set(res.services["web"]["versions"]) == {"v1", "v2"}
    # With a router in the chain the resolver's RequestTimeout does not apply [C1].
    assert any("RequestTimeout has no effect" in x for x in notes(res, "irrelevant"))
    c = res.policies["cart"]
    assert c["timeout"] == "5s"  # no router or splitter: the resolver's applies
    assert c["load_balancer"] == {"kind": "ring_hash", "key": "x-user-id"}


def test_service_defaults_crd(res: ImportResult) -> None:
    api = res.policies["api"]
    assert api["connection_pool"] == {
        "connect_timeout": "2.5s",
        "max_connections": 50,
        "max_pending": 20,
        "max_requests": 80,
        "max_retries": 3,
    }
    od = api["outlier_detection"]
    assert (od["consecutive_5xx"], od["interval"], od["base_ejection_time"], od["max_ejection_percent"]) == (
        4,
        "5s",
        "15s",
        30,
    )
    assert od["min_health_percent"] == 0  # panic off [C3]
    assert res.policies["*"]["connection_pool"]["max_connections"] == 200  # UpstreamConfig.Defaults
    assert res.policies["frontend"]["rate_limit"] == {"rate": "100/s", "burst": 50}
    f = GOOD / "frontend-defaults.yaml"
    assert res.origins["policies.api.outlier_detection.consecutive_5xx"].line == line_of(f, "maxFailures")
    assert sum("apply to" in x or "applies to" in x for x in res.warnings) >= 2  # caller scope is said


def test_retry_flag_alone_gets_envoy_one_retry(res: ImportResult) -> None:
    assert res.policies["checkout"]["retries"] == {
        "retry_on": ["connect-failure"],
        "attempts": 1,
        "backoff": {"base": "25ms", "max": "250ms"},
    }  # [C1]
    assert any("ServiceIntentions" in x for x in res.warnings)


def test_agent_bootstrap_entries(res: ImportResult) -> None:
    assert res.policies["search"]["split"] == {"v1": 70, "v2": 30}
    f = GOOD / "agent-bootstrap.hcl"
    o = res.origins["policies.search.split.v1"]
    assert o.line == line_of(f, "weight = 70") and o.object == "ServiceSplitter/search"


def test_negative_request_timeout_means_none(tmp_path: Path) -> None:
    f = tmp_path / "r.json"
    f.write_text('{"Kind": "service-router", "Name": "a", "Routes": [{"Destination": {"RequestTimeout": "-1s"}}]}')
    assert import_mesh_config("consul", f).policies["a"]["timeout"] == "0s"


@pytest.mark.parametrize(
    "name,line,message",
    [
        ("bad-syntax.hcl", 7, "invalid HCL"),
        ("bad-type.hcl", 6, "whole number"),
        ("no-kind.json", 1, "no kind"),
    ],
)
def test_malformed(name: str, line: int, message: str) -> None:
    with pytest.raises(MeshsimInputError) as exc:
        import_mesh_config("consul", BAD / name)
    p = exc.value.problems[0]
    assert (p.file, p.line) == (str(BAD / name), line)
    assert message in p.message


CASES = GOOD.parent / "cases"


def test_passive_health_check_zero_values() -> None:
    """Consul's ToOutlierDetection (agent/xds/config/config.go, §3 [C3][C5]): Interval 0 is unset, so
    Envoy's 10 s applies (issue: it was imported as 0); EnforcingConsecutive5xx 0 is kept for sidecars
    and turns consecutive-5xx ejection off (issue: it was read as 100 %); a partial one is approximated."""
    res = import_mesh_config("consul", CASES / "passive-health.hcl")
    billing = res.policies["billing"]["outlier_detection"]
    assert billing["interval"] == "10s" and "Envoy" in res.origins["policies.billing.outlier_detection.interval"].note
    assert billing["consecutive_5xx"] == OFF
    assert "EnforcingConsecutive5xx 0" in res.origins["policies.billing.outlier_detection.consecutive_5xx"].note
    assert res.policies["search"]["outlier_detection"]["interval"] == "5s"
    assert any("enforcing 60%" in w for w in notes(res, "approximated"))


def test_failover_to_a_namespace_or_another_service_is_noted() -> None:
    """Issue: a failover target given only as a namespace was lost silently (§3 [C3])."""
    res = import_mesh_config("consul", CASES / "failover-namespace.yaml")
    assert res.policies["api"]["locality"]["failover"] == ["dc2"]
    ignored = notes(res, "ignored")
    assert any("another namespace ('api-backup')" in w for w in ignored)
    assert any("another namespace ('api-dr')" in w for w in ignored)
    assert any("another service ('api-legacy')" in w for w in ignored)
    assert any("kind RateLimit has no effect" in w for w in notes(res, "irrelevant"))  # skipped, not an abort


def test_kubernetes_workloads_keep_their_hints_under_consul() -> None:
    """Issue: Deployments read with the consul format lost their replica and version hints."""
    res = import_mesh_config("consul", CASES / "workloads.yaml")
    assert res.services["api"] == {"replicas": 3, "versions": {"v2": {}}}
    assert res.policies["api"]["timeout"] == "4s"


def test_agent_service_definition_upstream_config() -> None:
    """An agent service definition's sidecar upstream ``config`` (connect_timeout_ms, limits,
    passive_health_check) is the UpstreamConfig of that call [C5]: imported for the called service,
    noted as scoped to the calling service only (it was dropped silently)."""
    res = import_mesh_config("consul", CASES / "agent-service.hcl")
    inv = res.policies["inventory"]
    assert inv["connection_pool"]["connect_timeout"] == "1.5s" and inv["connection_pool"]["max_connections"] == 8
    assert inv["outlier_detection"]["interval"] == "15s" and inv["outlier_detection"]["consecutive_5xx"] == 2
    assert any("calls to 'inventory' only" in w for w in notes(res, "approximated"))
    assert "checkout" in res.services
