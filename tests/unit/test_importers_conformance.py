"""The importers on the public example files of tests/data/conformance/ (and ../shared/conformance when present).

Issue 8: "The importer must also accept the public example files listed in reference
section 9". Every whole file must import without error, and those that carry a
traffic policy meshsim models must yield at least one policy. Files under
``fragments/`` are doc snippets (partial objects, site templating, invalid YAML
as published): each either imports or is refused with a MeshsimInputError naming
the file, never a crash.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsim.errors import MeshsimInputError
from meshsim.meshes import import_mesh_config
from meshsim.scenario import ServicePolicySpec

CONFORMANCE = (Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance").resolve()
MESHES = ("istio", "linkerd", "consul", "appmesh", "kuma", "traefik")

#: Whole files with nothing meshsim models as a policy, and why.
NO_POLICY = {
    "istio/bookinfo.yaml": "Deployments and Services only (service hints)",
    "istio/destination-rule-all.yaml": "subset definitions only (version hints)",
    "linkerd/application.yaml": "Deployments and Services only",
    "linkerd/booksapp.yml": "Deployments and Services only",
    "linkerd/httproute-1.yaml": "route on a Server: inbound authorization",
    "linkerd/httproute-2.yaml": "header-matched rule only; the default rule goes to the service itself",
    "consul/serviceresolver.yaml": "a redirect to another service (not modelled, warned)",
    "consul/servicerouter.yaml": "a path route with no destination: the service itself",
    "consul/servicesplitter.yaml": "100% to the service itself",
    "appmesh/blue-route-no-retry.json": "one weighted target and no retry policy",
    "appmesh/colorteller-route-1.json": "one weighted target",
    "appmesh/colorteller-vr-1.json": "a router's listener only",
    "appmesh/k8s-retry-policy-manifest.yaml.template": "its retry policy is commented out",
    "kuma/mesh-http-route.yaml": "a MeshGateway route (north-south, warned)",
    "kuma/policies.yaml": "Mesh and MeshTrafficPermission only (warned)",
    "traefik/6.traffic-target.yaml": "SMI access control only (warned)",
    "traefik/7.traffic-target-path-filter.yaml": "SMI access control only (warned)",
    "traefik/tcp-1.server.yaml": "a TCP service (warned)",
    "traefik/udp-1.server.yaml": "a UDP service (warned)",
}


def _files(fragments: bool) -> list[tuple[str, Path]]:
    if not CONFORMANCE.is_dir():
        return []
    out = []
    for mesh in MESHES:
        base = CONFORMANCE / mesh
        for f in sorted(base.rglob("*")) if base.is_dir() else []:
            if f.is_file() and (("fragments" in f.relative_to(base).parts) == fragments):
                out.append((mesh, f))
    return out


def _id(item: tuple[str, Path]) -> str:
    return str(item[1].relative_to(CONFORMANCE))


needs_corpus = pytest.mark.skipif(
    not CONFORMANCE.is_dir(), reason=f"conformance corpus not found at {CONFORMANCE} (../shared beside the checkout)"
)


@needs_corpus
@pytest.mark.parametrize("item", _files(fragments=False), ids=_id)
def test_whole_file_imports(item: tuple[str, Path]) -> None:
    mesh, f = item
    res = import_mesh_config(mesh, f)
    key = _id(item)
    if key in NO_POLICY:
        return
    assert res.policies, f"{key}: no policy imported; warnings: {res.warnings}"
    for path, origin in res.origins.items():
        if path.startswith("policies."):
            assert origin.file == str(f) and origin.line is not None


@needs_corpus
@pytest.mark.parametrize("item", _files(fragments=True), ids=_id)
def test_fragment_imports_or_is_refused_clearly(item: tuple[str, Path]) -> None:
    mesh, f = item
    try:
        import_mesh_config(mesh, f)
    except MeshsimInputError as exc:
        assert exc.problems[0].file == str(f)
        assert exc.problems[0].line is not None


@needs_corpus
def test_no_policy_list_is_current() -> None:
    present = {_id(item) for item in _files(fragments=False)}
    assert set(NO_POLICY) <= present


@needs_corpus
@pytest.mark.parametrize("mesh", ["istio", "consul", "traefik"])
def test_whole_folders_import(mesh: str) -> None:
    res = import_mesh_config(mesh, CONFORMANCE / mesh)
    assert res.policies


@needs_corpus
def test_bookinfo_reference_values() -> None:
    """Spot checks against the files' own text (Istio Bookinfo samples)."""
    res = import_mesh_config("istio", CONFORMANCE / "istio" / "virtual-service-reviews-80-20.yaml")
    assert res.policies["reviews"]["split"] == {"v1": 80, "v2": 20}
    res = import_mesh_config("istio", CONFORMANCE / "istio" / "fault-injection-details-v1.yaml")
    assert res.policies["details"]["fault"]["abort"] == {"status": 555, "percent": 100}
    res = import_mesh_config("istio", CONFORMANCE / "istio" / "bookinfo.yaml")
    assert res.services["reviews"] == {"replicas": 3, "versions": {"v1": {}, "v2": {}, "v3": {}}}


@needs_corpus
@pytest.mark.parametrize("item", _files(fragments=False), ids=_id)
def test_conformance_policies_validate(item: tuple[str, Path]) -> None:
    res = import_mesh_config(*item)
    for pol in res.policies.values():
        ServicePolicySpec.model_validate(pol)
