"""``meshsim import``: per-file reports, folders that import what they can, --strict, files of
another mesh, and ``-o`` output that validates as a scenario's policies (issue: unseen configs).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from meshsim.cli import main
from meshsim.meshes import SUPPORTED_FORMATS, import_mesh_config
from meshsim.scenario import load_scenario
from meshsim.yamlio import read_yaml

DATA = Path(__file__).resolve().parents[1] / "data" / "importers"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "conformance"

_ISTIO_VS = (
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\n"
    "spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n    timeout: 2s\n"
)


def test_a_file_of_another_mesh_exits_2_naming_its_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue: `meshsim import appmesh` on an Istio VirtualService exited 0 with no warning."""
    f = tmp_path / "vs.yaml"
    f.write_text(_ISTIO_VS)
    assert main(["import", "appmesh", str(f)]) == 2
    err = capsys.readouterr().err
    assert "vs.yaml:2" in err and "VirtualService is a istio object" in err and "meshsim import istio" in err
    # Formats without a Kubernetes kind are recognised too: a Consul entry given to Kuma.
    hcl = tmp_path / "router.hcl"
    hcl.write_text('Kind = "service-router"\nName = "web"\n')
    assert main(["import", "kuma", str(hcl)]) == 2
    assert "meshsim import consul" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fmt", "path", "owner"),
    [
        ("istio", SAMPLE / "kuma" / "meshtimeout-1.yaml", "kuma"),
        ("kuma", SAMPLE / "istio" / "virtual-service-reviews-80-20.yaml", "istio"),
        ("linkerd", SAMPLE / "consul" / "servicerouter.yaml", "consul"),
        ("consul", DATA / "appmesh" / "good" / "colors-route.json", "appmesh"),
        ("appmesh", DATA / "traefik" / "cases" / "dynamic.yaml", "traefik"),
        ("traefik", DATA / "linkerd" / "good" / "search-profile.json", "linkerd"),
    ],
)
def test_each_format_refuses_the_others_files(fmt: str, path: Path, owner: str) -> None:
    with pytest.raises(Exception) as exc:
        import_mesh_config(fmt, path)
    assert f"meshsim import {owner}" in str(exc.value)


def test_a_folder_imports_what_it_can_and_strict_fails_on_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: one bad file (a CloudFormation template in an App Mesh folder) lost the whole folder."""
    shutil.copy(DATA / "istio" / "good" / "reviews.yaml", tmp_path / "reviews.yaml")
    (tmp_path / "broken.yaml").write_text("apiVersion: networking.istio.io/v1\nkind: VirtualService\n  bad: [\n")
    (tmp_path / "kuma.yaml").write_text((SAMPLE / "kuma" / "meshtimeout-1.yaml").read_text())
    res = import_mesh_config("istio", tmp_path)
    assert res.policies["reviews"]["timeout"] == "2s"  # the good file is imported
    problems = {Path(p.file or "").name: p.text for p in res.problems}
    assert set(problems) == {"broken.yaml", "kuma.yaml"}
    assert "YAML syntax" in problems["broken.yaml"] and "meshsim import kuma" in problems["kuma.yaml"]
    assert main(["import", "istio", str(tmp_path)]) == 0
    assert "2 file(s) or object(s) could not be imported" in capsys.readouterr().err
    assert main(["import", "istio", str(tmp_path), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "broken.yaml" in err


def test_a_malformed_object_is_undone_and_the_rest_of_its_file_kept(tmp_path: Path) -> None:
    dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: %s}\nspec: %s\n"
    (tmp_path / "two.yaml").write_text(
        dr % ("a", "{host: a, trafficPolicy: {loadBalancer: {simple: RANDOM}}}")
        + "---\n"
        + dr % ("b", "{host: b, trafficPolicy: {connectionPool: {tcp: {maxConnections: many}}}}")
    )
    res = import_mesh_config("istio", tmp_path)
    assert res.policies == {"a": {"load_balancer": "random"}}
    assert len(res.problems) == 1 and res.problems[0].line == 9  # the second object's spec


def test_report_lists_modelled_approximated_and_ignored_per_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "traefik", str(DATA / "traefik" / "cases"), "--report"]) == 0
    out = capsys.readouterr().out
    assert "v3-crds.yaml:" in out and "dynamic.yaml:" in out and "legacy-maesh.yaml:" in out
    block = out.split("v3-crds.yaml:")[1].split("\n\n")[0]
    assert "modelled" in block and "policies.cart.retries.attempts <- line" in block
    assert "approximated" in block and "initialInterval" in block
    assert out.rstrip().splitlines()[-1].startswith("total:")
    # The policies still go to -o when asked for with the report.
    assert "policies:" not in out


def test_report_and_output_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.yaml"
    assert main(["import", "kuma", str(DATA / "kuma" / "good"), "-o", str(out), "--report"]) == 0
    assert "policies:" in out.read_text() and "modelled (" in capsys.readouterr().out


def _scenario_for(res: Any, text: str) -> dict[str, Any]:
    """A scenario that uses an import's ``-o`` output as its policies and ``services`` hints."""
    data = read_yaml(text, "imported.yaml") or {}
    policies = dict(data.get("policies") or {})
    names = {n for n in policies if n != "*"} | set(data.get("services") or {}) | {"client"}
    for pol in policies.values():
        mirror = pol.get("mirror") if isinstance(pol, dict) else None
        if isinstance(mirror, dict) and mirror.get("to") and mirror["to"] not in _versions(pol):
            names.add(mirror["to"])
    services: dict[str, Any] = {}
    for name in sorted(names):
        versions = _versions(policies.get(name) or {}) | set(
            ((data.get("services") or {}).get(name) or {}).get("versions") or {}
        )
        body: dict[str, Any] = {"service_time": "1ms"}
        if versions:
            body["versions"] = {v: {"replicas": 1} for v in sorted(versions)}
        else:
            body["replicas"] = 1
        services[name] = body
    # Locations for every failover name: a mesh's own (an Istio region, a Consul datacenter, a
    # Kuma zone) as a region of some cloud, a scenario-style cloud/region as itself.
    locations: dict[str, dict[str, list[str]]] = {"cloud": {"region": ["zone"]}}
    for pol in policies.values():
        for name in (pol.get("locality") or {}).get("failover", []) if isinstance(pol, dict) else []:
            parts = str(name).split("/")
            cloud, region = (parts[0], parts[1]) if len(parts) > 1 else ("cloud", parts[0])
            locations.setdefault(cloud, {}).setdefault(region, [parts[2] if len(parts) > 2 else f"{region}-a"])
    return {
        "name": "pasted",
        "locations": locations,
        "mesh": {"defaults": res.defaults} if res.defaults else {},
        "services": services,
        "policies": policies,
        "workload": [{"name": "w", "entry": "client", "rate": 1}],
    }


def _versions(pol: dict[str, Any]) -> set[str]:
    out = set(pol.get("split") or {}) | set(pol.get("versions") or {})
    mirror = pol.get("mirror") or {}
    if mirror.get("to"):
        out.add(mirror["to"])
    return out


_CASES = [
    (fmt, DATA / folder / fmt if folder == "real" else DATA / fmt / folder)
    for fmt in SUPPORTED_FORMATS
    for folder in ("good", "cases", "real")
    if (DATA / folder / fmt if folder == "real" else DATA / fmt / folder).is_dir()
] + [(fmt, SAMPLE / fmt) for fmt in SUPPORTED_FORMATS if (SAMPLE / fmt).is_dir()]


@pytest.mark.parametrize(("fmt", "path"), _CASES, ids=[f"{f}/{p.parent.name}/{p.name}" for f, p in _CASES])
def test_output_validates_as_a_scenarios_policies(fmt: str, path: Path) -> None:
    """Issue: `-o` output with a mesh-wide '*' policy failed `validate` once pasted into a scenario."""
    res = import_mesh_config(fmt, path)
    scenario = load_scenario(_scenario_for(res, res.to_yaml()))
    assert "*" not in scenario.policies
    if "*" in res.policies:
        # The mesh-wide policy is folded under every service, field by field.
        assert all(name in scenario.policies for name in scenario.services)


def test_a_bare_consul_entry_in_lower_case_is_refused_by_the_others(tmp_path: Path) -> None:
    """An HCL entry written ``kind = "service-router"`` (agent bootstrap style) is Consul's, whatever the case."""
    f = tmp_path / "router.hcl"
    f.write_text('kind = "service-router"\nname = "web"\n')
    for fmt in ("istio", "kuma", "appmesh"):
        with pytest.raises(Exception, match="meshsim import consul"):
            import_mesh_config(fmt, f)
    assert import_mesh_config("consul", f).problems == []
