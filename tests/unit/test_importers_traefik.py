"""Traefik Mesh and plain Kubernetes importers on example files written for these tests.

Expected values follow docs/references.md section 6.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
