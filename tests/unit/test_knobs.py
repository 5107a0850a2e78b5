"""What-if knobs: file values in, overrides out, applied by the library's apply_overrides."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

import meshsim
from meshsim.errors import MeshsimInputError
from meshsim.experiments import (
    BALANCERS,
    FAULT_KINDS,
    apply_overrides,
    describe_override,
    knob_overrides,
    overridden_mapping,
    parse_override,
    parse_profile,
    whatif_knobs,
)
from meshsim.scenario import Fault, LoadBalancerSpec
from meshsim.yamlio import read_yaml

MODELS = Path(__file__).resolve().parents[2] / "models"


def _is_scenario(path: Path) -> bool:
    try:
        data = read_yaml(path.read_text(encoding="utf-8"))
    except MeshsimInputError:  # a multi-document mesh configuration, not a scenario
        return False
    return isinstance(data, dict) and {"services", "workload"} <= set(data)


BUNDLED = sorted(p for p in MODELS.rglob("*.yaml") if _is_scenario(p))


def _knobs(scenario):
    return {k.key: k for k in whatif_knobs(scenario)}


@pytest.mark.parametrize("path", BUNDLED, ids=[str(p.relative_to(MODELS)) for p in BUNDLED])
def test_untouched_knobs_make_no_override_and_show_the_files_values(path: Path) -> None:
    scenario = meshsim.load_scenario(path)
    knobs = whatif_knobs(scenario)
    assert knob_overrides(scenario, knobs, {}) == []
    # the file's value itself is not a change either
    assert knob_overrides(scenario, knobs, {k.key: k.value for k in knobs}) == []
    by_key = {k.key: k for k in knobs}
    assert by_key["duration"].value == scenario.duration
    for i, w in enumerate(scenario.workload):  # an open workload's rate, a closed one's users
        key, field = (f"users.{w.name}", "users") if w.closed else (f"rate.{w.name}", "rate")
        assert by_key[key].value == getattr(w, field) and by_key[key].path == f"workload.{i}.{field}"
    for name, svc in scenario.services.items():
        assert by_key[f"concurrency.{name}"].value == (svc.concurrency or 1)
        pol = meshsim.resolve_policy(scenario, name)
        assert by_key[f"retries.{name}"].value == pol.retry_attempts  # what runs: the preset under the file
        assert by_key[f"lb.{name}"].value == pol.load_balancer.kind


def test_choices_come_from_the_schema() -> None:
    assert typing.get_args(LoadBalancerSpec.model_fields["kind"].annotation) == BALANCERS
    assert typing.get_args(Fault.model_fields["kind"].annotation) == FAULT_KINDS
    scenario = meshsim.load_scenario(MODELS / "online-boutique.yaml")
    assert _knobs(scenario)["lb.cart"].choices == BALANCERS


def test_moved_knobs_become_overrides_that_apply_overrides_turns_into_the_scenario() -> None:
    path = MODELS / "online-boutique.yaml"
    scenario = meshsim.load_scenario(path)
    knobs = whatif_knobs(scenario)
    values = {
        "duration": 20.0,
        "rate.browse": 450.0,
        "profile.browse": "10s: 900/s, 15s: 450/s",
        "replicas.frontend.aws/us-east-1/a": 3,
        "concurrency.cart": 3,
        "timeout.payment": 750.0,
        "retries.payment": 4,
        "per_try.payment": 0.0,
        "backoff.cart": 0.0,
        "budget.payment": 20.0,
        "lb.payment": "random",
        "outlier.payment": 5,
    }
    overrides = knob_overrides(scenario, knobs, values)
    assert len(overrides) == len(values)  # one override per knob here (placement is one mapping)
    edited = apply_overrides(path, overrides)
    assert edited.duration == 20.0 and edited.workload[0].rate == 450.0
    assert [(p.at, p.rate) for p in edited.workload[0].profile] == [(10.0, 900.0), (15.0, 450.0)]
    assert edited.services["frontend"].placement == {"aws/us-east-1/a": 3, "aws/us-east-1/b": 1}
    assert edited.services["cart"].concurrency == 3
    pay = meshsim.resolve_policy(edited, "payment")
    assert pay.timeout_s == pytest.approx(0.75) and pay.retry_attempts == 4 and pay.per_try_timeout_s is None
    assert pay.budget_kind == "envoy" and pay.budget_percent == 20.0
    assert pay.load_balancer.kind == "random" and pay.outlier is not None and pay.outlier.consecutive_5xx == 5
    assert meshsim.resolve_policy(edited, "cart").backoff_base_s is None
    # the knobs now read back what was set
    again = _knobs(edited)
    assert again["timeout.payment"].value == 750.0 and again["rate.browse"].value == 450.0


def test_the_yaml_a_ui_saves_is_the_file_plus_exactly_the_listed_overrides() -> None:
    path = MODELS / "minimal.yaml"
    scenario = meshsim.load_scenario(path)
    overrides = knob_overrides(scenario, whatif_knobs(scenario), {"rate.users": 60.0, "timeout.api": 250.0})
    lines = [describe_override(p, v) for p, v in overrides]
    assert lines == ["workload.0.rate=60/s", "policies.api.timeout=250ms"]
    mapping = overridden_mapping(path, overrides)
    # the --set lines, read back by the CLI's parser, give the same mapping
    assert overridden_mapping(path, [parse_override(line) for line in lines]) == mapping
    expected = read_yaml(path.read_text(encoding="utf-8"))
    expected["workload"][0]["rate"] = "60/s"
    expected.setdefault("policies", {}).setdefault("api", {})["timeout"] = "250ms"
    assert mapping == expected
    assert meshsim.load_scenario(mapping).model_dump() == apply_overrides(path, overrides).model_dump()


def test_split_and_rollout_knobs() -> None:
    scenario = meshsim.load_scenario(MODELS / "canary.yaml")
    knobs = whatif_knobs(scenario)
    off = knob_overrides(scenario, knobs, {"rollout.on": False, "split.productcatalog.v2": 30.0})
    assert off == [("policies.productcatalog.split", {"v1": 70.0, "v2": 30.0}), ("rollout", None)]
    edited = apply_overrides(MODELS / "canary.yaml", off)
    assert edited.rollout is None and edited.policies["productcatalog"].split == {"v1": 70.0, "v2": 30.0}
    steps = knob_overrides(scenario, knobs, {"rollout.steps": "20, 100", "rollout.interval": 15.0})
    assert steps == [("rollout.steps", [20.0, 100.0]), ("rollout.interval", "15s")]
    # a file without a rollout gets a whole block when the knob turns it on
    plain = apply_overrides(MODELS / "canary.yaml", [("rollout", None)])
    on = knob_overrides(plain, whatif_knobs(plain), {"rollout.on": True})
    assert on[0][0] == "rollout" and on[0][1]["service"] == "productcatalog" and on[0][1]["canary"] == "v2"


def test_a_capped_duration_is_a_shown_change() -> None:
    scenario = meshsim.load_scenario(MODELS / "canary.yaml")
    knobs = whatif_knobs(scenario, duration_s=60.0)
    assert knobs[0].value == 60.0 and knobs[0].file_value == 240.0
    assert knob_overrides(scenario, knobs, {}) == [("duration", "60s")]


def test_bad_profile_text_is_a_clear_input_error() -> None:
    assert parse_profile("") == []
    assert parse_profile("20s: 600/s, 25s: 300") == [{"at": "20s", "rate": "600/s"}, {"at": "25s", "rate": "300/s"}]
    with pytest.raises(MeshsimInputError):
        parse_profile("20s: [600")


def test_overrides_of_an_upload_cannot_reach_outside_its_import_root(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    text = (
        "name: up\nservices:\n  api: {replicas: 1, service_time: 5ms}\n"
        "workload:\n  - {name: w, entry: api, rate: 10/s}\n"
    )
    assert apply_overrides(text, [("workload.0.rate", "20/s")], import_root=root).workload[0].rate == 20.0
    sneaky = text + "mesh:\n  import:\n    - {format: istio, path: /etc/}\n"
    with pytest.raises(MeshsimInputError):
        apply_overrides(sneaky, [], import_root=root)
    with pytest.raises(MeshsimInputError):  # nor can an override add such an import
        apply_overrides(text, [("mesh.import", [{"format": "istio", "path": "/etc/"}])], import_root=root)
