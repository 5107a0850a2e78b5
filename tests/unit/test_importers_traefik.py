"""Traefik Mesh and plain Kubernetes importers on example files written for these tests.

Expected values follow docs/references.md section 6.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsim import load_scenario
from meshsim.errors import MeshsimInputError
from meshsim.meshes import import_mesh_config

from .importer_helpers import line_of, notes

DATA = Path(__file__).resolve().parents[1] / "data" / "importers"


def test_traefik_annotations_and_split() -> None:
    res = import_mesh_config("traefik", DATA / "traefik" / "good")
    s = res.policies["search"]
    # "3" attempts counts every try: 2 retries, no back-off, connection errors only, back through
    # the balancer with no memory of the failed server [T4]
    assert s["retries"] == {
        "attempts": 2,
        "backoff": "none",
        "retry_on": ["connect-failure"],
        "retry_different_host": False,
    }
    assert res.defaults == "traefik-mesh"  # Traefik Mesh annotations and SMI only
    assert s["circuit_breaker"] == {
        "expression": "NetworkErrorRatio() > 0.30",
        "check_period": "100ms",
        "fallback_duration": "10s",
        "recovery_duration": "10s",
    }  # [T5]
    assert s["rate_limit"] == {"rate": "50/s", "burst": 100}
    assert s["split"] == {"v1": 70, "v2": 30}
    assert set(res.policies) == {"search"}  # lonely (average only) and the tcp service get nothing
    f = DATA / "traefik" / "good" / "search.yaml"
    o = res.origins["policies.search.retries.attempts"]
    assert o.line == line_of(f, "retry-attempts") and o.object == "Service/search" and "attempts - 1" in o.note
    assert any("lonely" in w and "are both above 0" in w for w in notes(res, "irrelevant"))
    assert any("cache" in w and "tcp service" in w for w in res.warnings)
    assert any("TrafficTarget/allow-web" in w for w in res.warnings)
    assert res.services["search"]["replicas"] == 4


def test_traefik_malformed() -> None:
    f = DATA / "traefik" / "malformed" / "bad-attempts.yaml"
    with pytest.raises(MeshsimInputError) as exc:
        import_mesh_config("traefik", f)
    p = exc.value.problems[0]
    assert (p.line, p.field) == (6, "metadata.annotations.mesh.traefik.io/retry-attempts")


def test_kubernetes_services_replicas_versions() -> None:
    res = import_mesh_config("kubernetes", DATA / "kubernetes" / "good")
    assert res.defaults is None and res.policies == {}
    assert res.services == {
        "frontend": {"replicas": 3},
        "cart": {"replicas": 3, "versions": {"v1": {}, "v2": {}}},  # 2 + Kubernetes' default 1
        "redis": {"replicas": 1},
        "debug": {"replicas": 1},
    }
    f = DATA / "kubernetes" / "good" / "app.yaml"
    assert res.origins["services.frontend.replicas"].line == line_of(f, "replicas: 3")
    assert any("VirtualService is a istio object" in w for w in notes(res, "irrelevant"))


CASES = DATA / "traefik" / "cases"


def test_legacy_maesh_annotations() -> None:
    """Issue: Traefik Mesh's legacy ``maesh.containo.us/`` annotations were lost silently. Traefik Mesh reads
    ``mesh.traefik.io/`` first, then the maesh prefix (traefik/mesh pkg/annotations/annotations.go:130-134)."""
    res = import_mesh_config("traefik", CASES / "legacy-maesh.yaml")
    ledger = res.policies["ledger"]
    assert ledger["retries"]["attempts"] == 1  # "2" counts every try [T4]
    assert ledger["circuit_breaker"]["expression"] == "LatencyAtQuantileMS(50.0) > 100"
    assert res.defaults == "traefik-mesh"


def test_traefik3_retry_options_are_modelled_or_approximated() -> None:
    """Traefik 3.7 retry middleware (pkg/middlewares/retry/retry.go:98-353, v3.7.9, §6 [T4]): status codes,
    disableRetryOnNetworkError, initialInterval (Traefik's own back-off in the engine) and timeout are
    modelled; the method rule is approximated with a note that says how."""
    res = import_mesh_config("traefik", CASES / "v3-crds.yaml")
    cart = res.policies["cart"]
    assert cart["retries"]["attempts"] == 2
    assert cart["retries"]["retry_on"] == ["connect-failure", "retriable-status-codes"]
    assert cart["retries"]["retriable_status_codes"] == [503, 500, 501, 502]
    assert cart["retries"]["backoff"] == {"base": "10ms"}  # initialInterval, as Traefik's back-off reads it
    assert cart["retries"]["timeout"] == "2s"  # Traefik 3.7's retry timeout
    assert cart["retries"]["retry_different_host"] is False  # back through the balancer [T4]
    assert cart["split"] == {"v1": 9, "v2": 1}  # the weighted TraefikService
    approx = notes(res, "approximated")
    for needle in ("retryNonIdempotentMethod", "answers 502"):
        assert any(needle in w for w in approx), needle
    assert not any("initialInterval" in w or "stops retrying" in w for w in approx)
    assert res.defaults == "traefik"


def test_traefik3_file_provider_and_passive_health_check() -> None:
    """File provider: a router's middlewares apply to its service; p2c is least request; a passive health
    check (v3.6, pkg/healthcheck/healthcheck.go:371-459) is modelled as Traefik runs it."""
    res = import_mesh_config("traefik", CASES / "dynamic.yaml")
    s = res.policies["search"]
    assert s["retries"]["retry_on"] == ["retriable-status-codes"]  # disableRetryOnNetworkError
    assert s["rate_limit"] == {"rate": "10/s", "burst": 50}  # 600 per 1m
    assert s["load_balancer"] == {"kind": "least_request", "choice_count": 2}
    assert s["passive_health_check"] == {"failure_window": "5s", "max_failed_attempts": 3}
    assert "outlier_detection" not in s
    assert not any("retryNonIdempotentMethod" in w for w in notes(res))  # set true: every method retried


@pytest.mark.parametrize(
    ("expression", "kept"),
    [
        ('"NetworkErrorRatio() > 0.30 || ResponseCodeRatio(500, 600, 0, 600) > 0.25"', "NetworkErrorRatio() > 0.30"),
        ('"(LatencyAtQuantileMS(50.0) > 100) && NetworkErrorRatio() > 0.5"', "LatencyAtQuantileMS(50.0) > 100"),
        ('"RequestCount() > 10"', None),
    ],
)
def test_breaker_expressions_meshsim_cannot_evaluate_whole_import_as_what_it_can(tmp_path, expression, kept) -> None:
    """Traefik combines breaker conditions with && and || (§6 [T5]); meshsim evaluates one condition:
    it keeps the first readable one and says so, or leaves the breaker out with a note; the imported
    policies always validate."""
    text = (
        (CASES / "v3-crds.yaml")
        .read_text()
        .replace("expression: NetworkErrorRatio() > 0.3", f"expression: {expression}")
    )
    f = tmp_path / "crds.yaml"
    f.write_text(text)
    res = import_mesh_config("traefik", f)
    breakers = [p["circuit_breaker"] for p in res.policies.values() if "circuit_breaker" in p]
    if kept is None:
        assert not breakers
        assert any("RequestCount" in w for w in notes(res, "ignored"))
    else:
        assert [b["expression"] for b in breakers] == [kept]
        assert any("one condition" in w for w in notes(res, "approximated"))
    breaker_only = {
        name: {"circuit_breaker": p["circuit_breaker"]} for name, p in res.policies.items() if "circuit_breaker" in p
    }
    scenario = {
        "name": "t",
        "mesh": {"defaults": "traefik"},
        "services": {name: {"replicas": 1, "service_time": "1ms"} for name in res.policies},
        "policies": breaker_only,
        "workload": [{"name": "w", "entry": next(iter(res.policies)), "rate": "1/s"}],
    }
    load_scenario(scenario)  # raises if an imported breaker does not validate
