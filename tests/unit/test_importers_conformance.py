"""The importers on real public mesh configuration files.

Issue 8: "The importer must also accept the public example files listed in reference
section 9". Every whole file must import without error, and those that carry a
traffic policy meshsim models must yield at least one policy. Files under
``fragments/`` are doc snippets (partial objects, site templating, invalid YAML
as published): each either imports or is refused with a MeshsimInputError naming
the file, never a crash.

Two sets of files, laid out alike (``<mesh>/<file>``, ``<mesh>/fragments/<file>``):

- ``sample``: the small sample bundled in ``tests/data/conformance/``, always run, so a
  fresh clone runs every test here. Its ``SOURCES.md`` records each file's repository,
  path, commit and licence (Apache-2.0, MIT or MPL-2.0 only); a test keeps it current.
- ``corpus``: the full conformance corpus, ``../shared/conformance`` beside the checkout
  (or the folder named by ``MESHSIM_CONFORMANCE_CORPUS``). When that folder exists,
  every test also runs on it, and the sample is checked to be byte for byte the
  corpus's file; when it does not, those cases are simply not generated (nothing is
  skipped).

Test ids name the set and the file, e.g. ``sample/istio/bookinfo.yaml``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

import pytest

from meshsim.errors import MeshsimInputError
from meshsim.meshes import import_mesh_config
from meshsim.scenario import ServicePolicySpec

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "tests" / "data" / "conformance"
CORPUS = Path(os.environ.get("MESHSIM_CONFORMANCE_CORPUS") or REPO / ".." / "shared" / "conformance").resolve()
#: The sets of files the tests run on: the bundled sample always, the full corpus when present.
ROOTS = {"sample": SAMPLE} | ({"corpus": CORPUS} if CORPUS.is_dir() else {})
MESHES = ("istio", "linkerd", "consul", "appmesh", "kuma", "traefik")
#: Licences a bundled sample file may carry (SPDX ids).
SAMPLE_LICENCES = {"Apache-2.0": "Apache-2.0.txt", "MIT": "MIT.txt", "MPL-2.0": "MPL-2.0.txt"}

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
    "kuma/meshfaultinjection-3.yaml": "a fault for calls from frontend only: not applied to every caller (noted)",
    "traefik/6.traffic-target.yaml": "SMI access control only (warned)",
    "traefik/7.traffic-target-path-filter.yaml": "SMI access control only (warned)",
    "traefik/tcp-1.server.yaml": "a TCP service (warned)",
    "traefik/udp-1.server.yaml": "a UDP service (warned)",
}


class Case(NamedTuple):
    """One file of one set: ``key`` is its path in the set (``istio/bookinfo.yaml``)."""

    root: str
    mesh: str
    file: Path
    key: str


def _files(root: str, fragments: bool) -> list[Case]:
    base_dir = ROOTS[root]
    out = []
    for mesh in MESHES:
        base = base_dir / mesh
        for f in sorted(base.rglob("*")) if base.is_dir() else []:
            if f.is_file() and (("fragments" in f.relative_to(base).parts) == fragments):
                out.append(Case(root, mesh, f, f.relative_to(base_dir).as_posix()))
    return out


def _cases(fragments: bool) -> list[Case]:
    return [case for root in ROOTS for case in _files(root, fragments)]


def _id(case: Case) -> str:
    return f"{case.root}/{case.key}"


@pytest.mark.parametrize("case", _cases(fragments=False), ids=_id)
def test_whole_file_imports(case: Case) -> None:
    res = import_mesh_config(case.mesh, case.file)
    key = case.key
    if key in NO_POLICY:
        return
    assert res.policies, f"{key}: no policy imported; warnings: {res.warnings}"
    for path, origin in res.origins.items():
        if path.startswith("policies."):
            assert origin.file == str(case.file) and origin.line is not None


@pytest.mark.parametrize("case", _cases(fragments=True), ids=_id)
def test_fragment_imports_or_is_refused_clearly(case: Case) -> None:
    try:
        import_mesh_config(case.mesh, case.file)
    except MeshsimInputError as exc:
        assert exc.problems[0].file == str(case.file)
        assert exc.problems[0].line is not None


@pytest.mark.parametrize(
    ("root", "mesh"), [pytest.param(r, m, id=f"{r}/{m}") for r in ROOTS for m in ("istio", "consul", "traefik")]
)
def test_whole_folders_import(root: str, mesh: str) -> None:
    res = import_mesh_config(mesh, ROOTS[root] / mesh)
    assert res.policies


@pytest.mark.parametrize("root", list(ROOTS))
def test_bookinfo_reference_values(root: str) -> None:
    """Spot checks against the files' own text (Istio Bookinfo samples)."""
    istio = ROOTS[root] / "istio"
    res = import_mesh_config("istio", istio / "virtual-service-reviews-80-20.yaml")
    assert res.policies["reviews"]["split"] == {"v1": 80, "v2": 20}
    res = import_mesh_config("istio", istio / "fault-injection-details-v1.yaml")
    assert res.policies["details"]["fault"]["abort"] == {"status": 555, "percent": 100}
    res = import_mesh_config("istio", istio / "bookinfo.yaml")
    assert res.services["reviews"] == {"replicas": 3, "versions": {"v1": {}, "v2": {}, "v3": {}}}


@pytest.mark.parametrize("case", _cases(fragments=False), ids=_id)
def test_conformance_policies_validate(case: Case) -> None:
    res = import_mesh_config(case.mesh, case.file)
    for pol in res.policies.values():
        ServicePolicySpec.model_validate(pol)


def _sources_rows() -> dict[str, list[str]]:
    """The sample's SOURCES.md: ``{"istio/bookinfo.yaml": [file, repository, path, commit, licence, ...]}``."""
    text = (SAMPLE / "SOURCES.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\w+)/", text, flags=re.M)
    rows = {}
    for mesh, body in zip(parts[1::2], parts[2::2], strict=True):
        for line in body.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| `") and len(cells) >= 5:
                rows[f"{mesh}/{cells[0].strip('`')}"] = cells
    return rows


def test_sample_sources_are_recorded() -> None:
    """Every bundled file has its repository, path, commit and an allowed licence in SOURCES.md."""
    rows = _sources_rows()
    files = {c.key for c in _files("sample", fragments=False) + _files("sample", fragments=True)}
    assert files, "the bundled sample is empty"
    assert set(rows) == files, "tests/data/conformance/SOURCES.md and the bundled files disagree"
    for key, (_, repo, path, commit, licence, *_) in rows.items():
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", repo) and path, key
        assert re.fullmatch(r"`[0-9a-f]{40}`", commit), f"{key}: commit {commit}"
        assert licence in SAMPLE_LICENCES, f"{key}: licence {licence} may not be bundled"
        assert (SAMPLE / "LICENSES" / SAMPLE_LICENCES[licence]).is_file(), f"{key}: no {licence} text"


# With the full corpus only: checks about the corpus itself, and the sample against it.
if "corpus" in ROOTS:

    def test_no_policy_list_is_current() -> None:
        present = {case.key for case in _files("corpus", fragments=False)}
        assert set(NO_POLICY) <= present

    @pytest.mark.parametrize("case", _files("sample", fragments=False) + _files("sample", fragments=True), ids=_id)
    def test_sample_is_a_copy_of_the_corpus(case: Case) -> None:
        assert case.file.read_bytes() == (CORPUS / case.key).read_bytes()
