"""Istio importer on example files written for these tests (tests/data/importers/istio/).

Expected values and defaults follow docs/references.md sections 0 and 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsim.errors import MeshsimInputError
from meshsim.meshes import ImportResult, import_mesh_config

from .importer_helpers import notes

GOOD = Path(__file__).resolve().parents[1] / "data" / "importers" / "istio" / "good"
BAD = GOOD.parent / "malformed"


def line_of(path: Path, needle: str, after: int = 0) -> int:
    """1-based line of the first line after ``after`` that contains ``needle``."""
    for i, text in enumerate(path.read_text().splitlines(), start=1):
        if i > after and needle in text:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.fixture(scope="module")
def res() -> ImportResult:
    return import_mesh_config("istio", GOOD)


def test_weighted_route_timeout_retries_and_mirror(res: ImportResult) -> None:
    r = res.policies["reviews"]
    assert r["split"] == {"v1": 80, "v2": 20}  # the jason header route is not modelled
    assert r["timeout"] == "2s"
    assert r["retries"] == {
        "attempts": 3,
        "per_try_timeout": "500ms",
        "retry_on": ["5xx", "reset", "retriable-status-codes"],  # "503" becomes a status code [S3]
        "retriable_status_codes": [503],
        "retry_different_host": False,
        "backoff": {"base": "50ms", "max": "500ms"},  # max = 10 x base [E1]
    }
    assert r["mirror"] == {"to": "v3", "percent": 25}


def test_destination_rule_fields(res: ImportResult) -> None:
    r = res.policies["reviews"]
    assert r["load_balancer"] == "least_request"
    # Only the 'to' regions, in order: each rule is for callers in its 'from' region [S5] (approximated).
    assert r["locality"] == {"failover": ["gcp/us-central1"], "prefer": "zone"}
    assert any("'from' region only" in w for w in notes(res, "approximated"))
    assert r["connection_pool"] == {
        "max_connections": 100,
        "connect_timeout": "3s",
        "max_pending": 10,
        "max_requests": 200,
        "max_retries": 5,
    }
    od = r["outlier_detection"]
    assert od["consecutive_5xx"] == 3
    assert od["consecutive_gateway_errors"] == 2 and od["enforcing_consecutive_gateway_errors"] == 100
    assert od["interval"] == "5s" and od["base_ejection_time"] == "20s"
    assert od["max_ejection_percent"] == 50 and od["min_health_percent"] == 10
    assert od["max_ejection_time"] == "300s"
    assert r["retry_budget"] == {"budget_percent": 25, "min_retry_concurrency": 5}


def test_subset_policies_become_version_blocks(res: ImportResult) -> None:
    versions = res.policies["reviews"]["versions"]
    assert versions["v2"] == {"load_balancer": "round_robin"}
    assert versions["v3"] == {"load_balancer": {"kind": "ring_hash", "key": "x-user"}}
    assert "v1" not in versions  # a subset without trafficPolicy inherits the service's
    assert set(res.services["reviews"]["versions"]) == {"v1", "v2", "v3"}


def test_origins_name_file_line_object_and_field(res: ImportResult) -> None:
    f = GOOD / "reviews.yaml"
    o = res.origins["policies.reviews.retries.attempts"]
    assert (o.file, o.line) == (str(f), line_of(f, "attempts: 3"))
    assert o.object == "VirtualService/reviews" and o.source_field == "spec.http[1].retries.attempts"
    o = res.origins["policies.reviews.split.v2"]
    assert o.line == line_of(f, "weight: 20") and o.source_field == "spec.http[1].route[1].weight"
    o = res.origins["policies.reviews.versions.v3.load_balancer.key"]
    assert o.line == line_of(f, "httpHeaderName: x-user") and o.object == "DestinationRule/reviews"
    o = res.origins["policies.reviews.connection_pool.max_pending"]
    assert o.line == line_of(f, "http1MaxPendingRequests")
    assert res.origins["policies.reviews.outlier_detection.max_ejection_time"].note  # a default, noted


def test_fault_route_has_no_timeout_or_retries(res: ImportResult) -> None:
    r = res.policies["ratings"]
    assert r["fault"] == {"delay": {"fixed": "7s", "percent": 10}, "abort": {"status": 503, "percent": 5}}
    assert r["timeout"] == "0s" and r["retries"] == {"attempts": 0}  # [S1]
    f = GOOD / "ratings.yaml"
    no_effect = [w for w in notes(res, "irrelevant") if "ratings.yaml" in w and "route with a fault" in w]
    assert len(no_effect) == 2
    assert f"ratings.yaml:{line_of(f, 'timeout: 1s')}" in no_effect[0]


def test_partial_blocks_get_istio_defaults(res: ImportResult) -> None:
    d = res.policies["details"]
    assert d["retries"]["attempts"] == 2
    assert d["retries"]["retry_on"] == [
        "connect-failure",
        "refused-stream",
        "unavailable",
        "cancelled",
        "retriable-status-codes",
    ]  # [S3]
    assert d["retries"]["retry_different_host"] is True
    assert d["retries"]["backoff"] == {"base": "25ms", "max": "250ms"}
    assert d["connection_pool"] == {
        "max_retries": 7,
        "max_connections": 2**32 - 1,
        "max_pending": 2**32 - 1,
        "max_requests": 2**32 - 1,
        "connect_timeout": "10s",
    }  # [S4][S8]
    od = d["outlier_detection"]
    assert od["consecutive_5xx"] == 5 and od["enforcing_consecutive_gateway_errors"] == 0
    assert od["max_ejection_percent"] == 10 and od["min_health_percent"] == 0  # panic off [S4]
    assert od["max_ejection_time"] == "400s"  # max(300 s, base) [E4]
    note = res.origins["policies.details.retries.retry_on"].note
    assert "§1" in note and "[S3]" in note


def test_fault_without_percentage_injects_nothing(res: ImportResult) -> None:
    p = res.policies["productpage"]
    assert p["fault"] == {"delay": {"fixed": "100ms", "percent": 0}}
    assert p["load_balancer"] == "random"  # from the JSON DestinationRule
    assert p["outlier_detection"]["consecutive_5xx"] == 2**32 - 1  # consecutive5xxErrors: 0 disables it
    o = res.origins["policies.productpage.load_balancer"]
    assert o.file.endswith("productpage-dr.json") and o.line == line_of(GOOD / "productpage-dr.json", "RANDOM")


def test_retries_without_attempts_disable_retries(res: ImportResult) -> None:
    assert res.policies["noretry"] == {"retries": {"attempts": 0}}


def test_gateway_api_route(res: ImportResult) -> None:
    assert res.policies["orders"] == {"split": {"v1": 90, "v2": 10}, "timeout": "3s"}


def test_workload_hints(res: ImportResult) -> None:
    assert res.services["reviews"]["replicas"] == 5


def test_every_unmodelled_field_warns_once(res: ImportResult) -> None:
    f = GOOD / "unmodelled.yaml"
    expected = {
        "spec.tcp": "tcp:",
        "spec.http[0].redirect": "redirect:",
        "retryOn": "retryOn: reset-before-request",
        "retryRemoteLocalities": "retryRemoteLocalities",
        "maxRequestsPerConnection": "maxRequestsPerConnection",
        "distribute": "distribute:",
        "portLevelSettings": "portLevelSettings",
        "ServiceEntry": "kind: ServiceEntry",
    }
    for field, needle in expected.items():
        hits = [w for w in res.warnings if "unmodelled.yaml" in w and field in w]
        assert len(hits) == 1, (field, hits)
        line = line_of(f, needle) if field != "ServiceEntry" else line_of(f, "apiVersion", line_of(f, needle) - 2)
        assert f"unmodelled.yaml:{line}:" in hits[0], (field, hits[0])
    assert res.policies["legacy"]["retries"]["retry_on"] == ["connect-failure"]
    assert not any("ConfigMap" in w for w in res.warnings)  # not traffic config: skipped silently


def test_header_match_warns(res: ImportResult) -> None:
    hits = [w for w in res.warnings if "reviews.yaml" in w and "match on headers" in w]
    assert len(hits) == 1 and "default route spec.http[1] used" in hits[0]


def test_consistent_hash_drops_retry_on_other_host(tmp_path: Path) -> None:
    f = tmp_path / "hash.yaml"
    f.write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: s}\nspec:\n"
        "  hosts: [s]\n  http:\n  - route: [{destination: {host: s}}]\n    retries: {attempts: 2}\n---\n"
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: s}\nspec:\n"
        "  host: s\n  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}\n"
    )
    pol = import_mesh_config("istio", f).policies["s"]
    assert pol["retries"]["retry_different_host"] is False  # [S3]
    assert pol["load_balancer"] == {"kind": "ring_hash", "key": "source-ip"}


@pytest.mark.parametrize(
    "name,line,field,message",
    [
        ("bad-syntax.yaml", 7, None, "YAML syntax"),
        ("bad-type.yaml", 11, "spec.http[0].retries.attempts", "whole number"),
        ("bad-duration.yaml", 10, "spec.http[0].timeout", "give a unit"),
        ("other-mesh.yaml", 3, "kind", "MeshRetry is a kuma object, not istio: import it with `meshsim import kuma`"),
        ("bad.json", 4, None, "invalid JSON"),
    ],
)
def test_malformed(name: str, line: int, field: str | None, message: str) -> None:
    with pytest.raises(MeshsimInputError) as exc:
        import_mesh_config("istio", BAD / name)
    p = exc.value.problems[0]
    assert (p.file, p.line, p.field) == (str(BAD / name), line, field)
    assert message in p.message


CASES = GOOD.parent / "cases"


def test_hosts_in_different_namespaces_stay_different_services() -> None:
    """Issue: Istio hosts in different namespaces collapsed to one service name. A short host is in its
    object's namespace; ``reviews.staging.svc.cluster.local`` names namespace staging."""
    res = import_mesh_config("istio", CASES / "namespaces.yaml")
    assert res.policies == {"reviews-prod": {"timeout": "2s"}, "reviews-staging": {"load_balancer": "random"}}
    assert any("'reviews-prod', 'reviews-staging'" in w for w in notes(res, "approximated"))
    # One namespace only: the plain name, as before.
    single = import_mesh_config("istio", GOOD / "reviews.yaml")
    assert "reviews" in single.policies


def test_an_unknown_kind_in_a_named_file_is_skipped() -> None:
    """Issue: unknown kinds inside a named file (an Istio QuotaSpec) aborted the import."""
    res = import_mesh_config("istio", CASES / "namespaces.yaml")
    assert res.problems == [] and any("QuotaSpec not modelled" in w for w in notes(res, "ignored"))


def test_locality_failover_regions_match_scenario_locations(tmp_path: Path) -> None:
    """Issue: Istio locality failover regions never matched scenario locations (cloud/region/zone) and were
    dropped at load. An Istio region is a scenario region of any cloud [S5]."""
    import shutil

    from meshsim.meshes import match_localities
    from meshsim.scenario import load_scenario, resolve_policy

    assert match_localities(
        ["europe-west1", "us-east1/us-east1-b/sub"],
        ["gcp", "gcp/europe-west1", "gcp/us-east1", "gcp/us-east1/us-east1-b"],
    ) == (
        ["gcp/europe-west1", "gcp/us-east1/us-east1-b"],
        [
            "locality 'europe-west1' matched scenario location 'gcp/europe-west1'",
            "locality 'us-east1/us-east1-b/sub' matched scenario location 'gcp/us-east1/us-east1-b'",
        ],
    )
    shutil.copy(CASES / "locality.yaml", tmp_path / "dr.yaml")
    scenario = load_scenario(
        {
            "name": "loc",
            "locations": {"gcp": {"us-east1": ["us-east1-b"], "europe-west1": ["europe-west1-b"]}},
            "mesh": {"import": [{"format": "istio", "path": str(tmp_path / "dr.yaml")}]},
            "services": {
                "web": {"placement": {"gcp/us-east1/us-east1-b": 1}, "service_time": "1ms", "calls": ["api"]},
                "api": {
                    "placement": {"gcp/us-east1/us-east1-b": 1, "gcp/europe-west1/europe-west1-b": 1},
                    "service_time": "1ms",
                },
            },
            "workload": [{"name": "w", "entry": "web", "rate": 1}],
        },
        import_root=tmp_path,
    )
    loc = resolve_policy(scenario, "api").locality
    assert loc is not None and loc.failover == ["gcp/europe-west1"]
