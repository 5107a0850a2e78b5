"""Real configuration files meshsim was not built against (tests/data/importers/real/SOURCES.md).

Each shows a class of problem the issue on unseen configs found: a valid file refused, or a value
lost. Every file imports (exit 0) with what it carries modelled or noted.
"""

from __future__ import annotations

import re
from pathlib import Path

from meshsim.meshes import import_mesh_config

from .importer_helpers import notes

REAL = Path(__file__).resolve().parents[1] / "data" / "importers" / "real"
LICENCES = {"Apache-2.0": "Apache-2.0.txt", "MIT": "MIT.txt", "MPL-2.0": "MPL-2.0.txt"}


def test_sources_are_recorded_with_an_allowed_licence() -> None:
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in (REAL / "SOURCES.md").read_text().splitlines()
        if line.startswith("| `")
    ]
    files = {p.relative_to(REAL).as_posix() for p in REAL.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    assert {r[0].strip("`") for r in rows} == files
    for _, repo, path, commit, licence, _shows in rows:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", repo) and path
        assert re.fullmatch(r"`[0-9a-f]{40}`", commit)
        assert (REAL.parent.parent / "conformance" / "LICENSES" / LICENCES[licence]).is_file()


def test_kuma_labels_target_and_shadow_policy() -> None:
    res = import_mesh_config("kuma", REAL / "kuma" / "meshtimeout-outbound.input.yaml")
    # kuma.io/effect: shadow: Kuma computes it for inspection only (IsShadowedResource), so nothing applies.
    assert res.policies == {} and res.problems == []
    assert any("shadow policy" in w for w in notes(res, "irrelevant"))


def test_consul_named_files() -> None:
    res = import_mesh_config("consul", REAL / "consul" / "ratelimit.yaml")
    assert res.problems == [] and any("RateLimit" in w for w in notes(res))
    res = import_mesh_config("consul", REAL / "consul" / "static-server-deployment.yaml")
    assert res.services == {"static-server": {"replicas": 1}}


def test_traefik_mesh_dynamic_configuration() -> None:
    res = import_mesh_config("traefik", REAL / "traefik" / "acl-disabled-http-traffic-split-config.json")
    split = res.policies["my-ns-svc-a-split-8080-traffic-split"]["split"]
    assert split == {
        "my-ns-svc-a-split-8080-svc-b-traffic-split-backend": 80,
        "my-ns-svc-a-split-8080-svc-c-traffic-split-backend": 20,
    }


def test_istio_mixer_kind_in_a_named_file() -> None:
    res = import_mesh_config("istio", REAL / "istio" / "deprecation.yaml")
    assert res.problems == [] and any("QuotaSpec not modelled" in w for w in notes(res, "ignored"))
