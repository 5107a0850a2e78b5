"""The importer API, the readers (YAML/JSON/HCL/templates), origins and the YAML rendering."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshsim.errors import MeshsimInputError
from meshsim.meshes import (
    MESHES,
    PRESET_FOR_FORMAT,
    SUPPORTED_FORMATS,
    ImportResult,
    Origin,
    import_mesh_config,
)
from meshsim.meshes._cursor import parse_go_duration, service_name
from meshsim.meshes._files import substitute_placeholders
from meshsim.scenario import ServicePolicySpec
from meshsim.yamlio import read_hcl as parse_hcl

from .importer_helpers import notes

DATA = Path(__file__).resolve().parents[1] / "data" / "importers"


def test_supported_formats_and_presets() -> None:
    assert SUPPORTED_FORMATS == ("istio", "linkerd", "consul", "appmesh", "kuma", "traefik", "kubernetes")
    for fmt in SUPPORTED_FORMATS:
        res = import_mesh_config(fmt, DATA / fmt / "good")
        assert isinstance(res, ImportResult)
        # Traefik Mesh annotations imply its own preset; Traefik 3.x objects imply "traefik".
        assert res.defaults == ("traefik-mesh" if fmt == "traefik" else PRESET_FOR_FORMAT[fmt])
        assert res.format == fmt
    assert PRESET_FOR_FORMAT["kubernetes"] is None


def test_unknown_format_and_missing_path() -> None:
    with pytest.raises(MeshsimInputError, match="unknown mesh format 'nginx'"):
        import_mesh_config("nginx", DATA)
    with pytest.raises(MeshsimInputError, match="no such file or folder") as exc:
        import_mesh_config("istio", DATA / "does-not-exist")
    assert exc.value.problems[0].file is not None


def test_empty_folder_warns(tmp_path: Path) -> None:
    res = import_mesh_config("istio", tmp_path)
    assert res.policies == {}
    assert any("no configuration files" in w for w in res.warnings)


def test_origin_describe() -> None:
    o = Origin("a.yaml", 12, "VirtualService/reviews", "spec.http[0].timeout")
    assert o.describe() == "a.yaml:12 VirtualService/reviews spec.http[0].timeout"
    noted = Origin("a.yaml", 3, "X/y", "spec", "a default")
    assert noted.describe().endswith("(a default)")


def test_service_name_strips_kubernetes_suffixes() -> None:
    assert service_name("reviews.default.svc.cluster.local") == "reviews"
    assert service_name("reviews.default.svc") == "reviews"
    assert service_name("reviews.default") == "reviews"
    assert service_name("payments-v1.shop.svc.cluster.local:80") == "payments-v1"
    assert service_name("api.example.com") == "api.example.com"
    assert service_name("reviews") == "reviews"


def test_go_durations() -> None:
    assert parse_go_duration("1m30s") == 90.0
    assert parse_go_duration("250ms") == pytest.approx(0.25)
    assert parse_go_duration("0.025s") == pytest.approx(0.025)
    assert parse_go_duration("soon") is None
    assert parse_go_duration("10") is None


def test_hcl_reader_keeps_lines_and_hcl1_blocks() -> None:
    text = (
        'Kind = "service-router"  # comment\n'
        "Routes = [\n"
        "  {\n"
        '    Match { HTTP { PathPrefix = "/a" } }\n'
        "    Destination {\n"
        "      NumRetries = 2\n"
        "      Codes = [503, 504]\n"
        "    }\n"
        "  },\n"
        "]\n"
        "/* block\n comment */\n"
        "x {\n  y = true\n}\n"
        "x {\n  y = false\n}\n"
        "doc = <<EOF\nhello\nEOF\n"
    )
    d = parse_hcl(text, "t.hcl")
    assert d["Kind"] == "service-router"
    dest = d["Routes"][0]["Destination"]
    assert dest["NumRetries"] == 2 and dest["Codes"] == [503, 504]
    assert dest.lines["NumRetries"] == 6
    assert d["Routes"][0]["Match"]["HTTP"]["PathPrefix"] == "/a"
    assert d["x"] == [{"y": True}, {"y": False}]  # repeated blocks become a list
    assert d["doc"] == "hello\n"
    assert d.lines["doc"] == 19


@pytest.mark.parametrize("text,line", [("a = [1, 2\n\nb = 3\n", 3), ('a = "x\n', 1), ("a = \n}\n", 2)])
def test_hcl_errors_name_the_line(text: str, line: int) -> None:
    with pytest.raises(MeshsimInputError) as exc:
        parse_hcl(text, "bad.hcl")
    problem = exc.value.problems[0]
    assert problem.file == "bad.hcl" and problem.line == line


def test_placeholder_substitution_keeps_lines() -> None:
    yml, names = substitute_placeholders("a: ${APP_NAMESPACE}\nb: x.${MESH}.svc\n", is_json=False)
    assert yml == "a: app-namespace\nb: x.mesh.svc\n"
    assert names == ["APP_NAMESPACE", "MESH"]
    js, names = substitute_placeholders('{"h": $DNS_HOSTNAME,\n "n": "a.${NS}"}', is_json=True)
    assert js == '{"h": "dns-hostname",\n "n": "a.ns"}'
    assert names == ["DNS_HOSTNAME", "NS"]


def test_multi_document_yaml_and_json_list(tmp_path: Path) -> None:
    f = tmp_path / "list.json"
    f.write_text(
        '[{"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "a"},\n'
        '  "spec": {"host": "a", "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}}},\n'
        ' {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "b"},\n'
        '  "spec": {"host": "b", "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}}}]\n'
    )
    res = import_mesh_config("istio", f)
    assert res.policies == {"a": {"load_balancer": "random"}, "b": {"load_balancer": "round_robin"}}
    assert res.origins["policies.b.load_balancer"].line == 4


def test_folder_is_recursive_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".git").mkdir()
    dr = (
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: %s}\n"
        "spec:\n  host: %s\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"
    )
    (tmp_path / "sub" / "a.yml").write_text(dr % ("a", "a"))
    (tmp_path / ".git" / "b.yaml").write_text(dr % ("b", "b"))
    (tmp_path / "notes.txt").write_text("not config")
    res = import_mesh_config("istio", tmp_path)
    assert set(res.policies) == {"a"}
    assert res.files == [str(tmp_path / "sub" / "a.yml")]


def test_unknown_kinds_are_skipped_with_a_note_in_a_folder_and_in_a_named_file(tmp_path: Path) -> None:
    """Issue: unknown kinds inside a named file (MeshGatewayInstance, APIService, QuotaSpec) aborted the import."""
    f = tmp_path / "x.yaml"
    f.write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n"
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a}\n"
        "spec: {host: a, trafficPolicy: {loadBalancer: {simple: RANDOM}}}\n"
    )
    for path in (tmp_path, f):
        res = import_mesh_config("istio", path)
        assert res.policies == {"a": {"load_balancer": "random"}}
        assert [w for w in notes(res, "ignored") if "kind Widget" in w and "skipped" in w]
        assert res.problems == []


def test_later_object_replaces_earlier_with_a_warning(tmp_path: Path) -> None:
    vs = (
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: %s}\nspec:\n"
        "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n    timeout: %s\n"
    )
    (tmp_path / "a.yaml").write_text(vs % ("first", "1s"))
    (tmp_path / "b.yaml").write_text(vs % ("second", "2s"))
    res = import_mesh_config("istio", tmp_path)
    assert res.policies["reviews"]["timeout"] == "2s"
    assert res.origins["policies.reviews.timeout"].object == "VirtualService/second"
    assert any("VirtualService/first" in w and "timeout" in w for w in res.warnings)


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_to_yaml_round_trips_and_comments_every_value(fmt: str) -> None:
    res = import_mesh_config(fmt, DATA / fmt / "good")
    text = res.to_yaml()
    data = yaml.safe_load(text)
    assert (data.get("policies") or {}) == res.policies
    assert (data.get("services") or {}) == res.services
    value_lines = [
        ln
        for ln in text.splitlines()
        if not ln.lstrip().startswith("#")
        and ":" in ln
        and not ln.rstrip().endswith(":")
        and not ln.startswith(("policies", "services"))
    ]
    for ln in value_lines:
        assert "# from " in ln, ln


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_every_policy_value_has_an_origin_in_a_real_file(fmt: str) -> None:
    res = import_mesh_config(fmt, DATA / fmt / "good")

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{prefix}.{k}")
        else:
            origin = res.origins[prefix]
            assert Path(origin.file).exists()
            assert origin.line is not None and origin.line >= 1
            assert origin.object and origin.source_field

    if fmt == "kubernetes":
        assert res.policies == {}  # plain Kubernetes sets no policy
        return
    assert res.policies
    walk(res.policies, "policies")


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_imported_policies_validate_as_scenario_policies(fmt: str) -> None:
    res = import_mesh_config(fmt, DATA / fmt / "good")
    for pol in res.policies.values():
        ServicePolicySpec.model_validate(pol)


def test_defaults_table_cites_the_reference() -> None:
    for mesh, unit in MESHES.items():
        for block, (values, note) in unit.block_defaults.items():
            assert values, (mesh, block)
            assert "§" in note, (mesh, block)


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_malformed_examples_fail_with_file_and_line(fmt: str) -> None:
    bad = sorted((DATA / fmt / "malformed").iterdir())
    assert bad
    for f in bad:
        with pytest.raises(MeshsimInputError) as exc:
            import_mesh_config(fmt, f)
        problem = exc.value.problems[0]
        assert problem.file == str(f)
        assert problem.line is not None and problem.line >= 1


def test_apply_mesh_wide_merges_field_by_field() -> None:
    from meshsim.meshes import MESH_WIDE, apply_mesh_wide

    res = import_mesh_config("kuma", DATA / "kuma" / "good")
    assert MESH_WIDE in res.policies
    merged = apply_mesh_wide(res.policies, ["backend", "web"])
    assert MESH_WIDE not in merged
    assert merged["web"]["timeout"] == "5s"  # only the mesh-wide MeshTimeout applies to web
    assert merged["backend"]["timeout"] == "1.5s"  # the MeshService entry wins
    assert merged["backend"]["connection_pool"]["connect_timeout"] == "2s"  # filled from "*"
    assert merged["backend"]["connection_pool"]["max_connections"] == 100  # kept from backend
    assert merged["payments"] == res.policies["payments"]  # not named: left as imported
    assert res.policies[MESH_WIDE]["timeout"] == "5s"  # the input is not modified
