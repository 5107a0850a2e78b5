"""The Streamlit what-if UI under streamlit.testing's AppTest (no browser; streamlit.testing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
MAIN_CHARTS = {"graph", "red", "latency", "errors", "retries", "cost"}


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def _knob(at: AppTest, kind: str, key: str):
    """The widget of knob ``key`` (its key is namespaced by the loaded file: ``<ns>:knob:<key>``)."""
    hits = [w for w in getattr(at, kind) if str(w.key).endswith(f":knob:{key}")]
    assert len(hits) == 1, (key, [w.key for w in getattr(at, kind)])
    return hits[0]


def _widget(at: AppTest, kind: str, name: str):
    """A namespaced widget that is not a knob (``fault.kind``, ``pick:policy``...)."""
    hits = [w for w in getattr(at, kind) if str(w.key).endswith(f":{name}")]
    assert len(hits) == 1, (name, [w.key for w in getattr(at, kind)])
    return hits[0]


def _charts(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["meta"]["chart"] for c in at.get("plotly_chart")]


def _metric(at: AppTest, label: str):
    hits = [m for m in at.metric if m.label == label]
    assert hits, f"no metric {label!r} in {[m.label for m in at.metric]}"
    return hits[0]


def _run(at: AppTest, duration: float = 5.0) -> AppTest:
    _knob(at, "number_input", "duration").set_value(duration)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def _whatif(at: AppTest):
    return at.session_state["cache"][at.session_state["last"]["whatif"]]


def test_app_loads_the_default_model_with_the_files_values():
    at = _app()
    assert at.selectbox(key="model").value == "online-boutique.yaml"
    assert _knob(at, "number_input", "rate.browse").value == pytest.approx(300.0)
    assert _knob(at, "number_input", "duration").value == pytest.approx(60.0)  # the file's own duration
    assert not at.error and not at.get("plotly_chart")
    assert any("Run simulation" in i.value for i in at.info)
    assert any(c.value.startswith("0 change(s) from models/online-boutique.yaml") for c in at.caption)


def test_every_bundled_model_is_listed_including_subfolders():
    at = _app()
    options = at.selectbox(key="model").options
    assert "bookinfo/scenario.yaml" in options and "metastable.yaml" in options
    assert not any(o.startswith("bookinfo/istio/") for o in options)  # Istio files are not scenarios


def test_knob_change_and_run_draws_charts_and_numbers():
    at = _app()
    _knob(at, "number_input", "rate.browse").set_value(450.0)
    _run(at)
    assert set(_charts(at)) >= MAIN_CHARTS
    assert "slo" not in _charts(at)  # the SLO verdicts are one table, drawn once
    assert len([d for d in at.dataframe if "95% interval" in d.value.columns]) == 1
    rps = float(_metric(at, "browse throughput").value.removesuffix("/s").replace(",", ""))
    assert rps == pytest.approx(450, rel=0.15)  # the knob reached the simulation
    p99 = float(_metric(at, "browse p99").value.removesuffix(" ms").replace(",", ""))
    p50 = float(_metric(at, "browse p50").value.removesuffix(" ms").replace(",", ""))
    assert 0 < p50 <= p99
    assert _metric(at, "browse error rate").value.endswith("%")
    latency = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if json.loads(c.proto.spec)["layout"]["meta"]["chart"] == "latency"
    )
    assert any(t["name"] == "browse p99" for t in latency["data"])
    assert at.get("code")[0].value.splitlines() == ["duration=5s", "workload.0.rate=450/s"]


def test_policy_and_service_knobs_reach_the_scenario():
    at = _app()
    _widget(at, "selectbox", "pick:capacity").select("cart")
    at.run()
    _knob(at, "number_input", "concurrency.cart").set_value(3)
    _widget(at, "selectbox", "pick:policy").select("payment")
    at.run()
    _knob(at, "number_input", "retries.payment").set_value(4)
    _knob(at, "number_input", "timeout.payment").set_value(750.0)
    _knob(at, "selectbox", "lb.payment").select("random")  # Istio's default is least_request
    _knob(at, "number_input", "outlier.payment").set_value(5)
    _knob(at, "number_input", "budget.payment").set_value(20.0)
    at.run()
    # switching the picker away and back keeps the edits
    _widget(at, "selectbox", "pick:capacity").select("frontend")
    at.run()
    _run(at, duration=2.0)
    scenario = _whatif(at).scenario
    assert scenario.services["cart"].concurrency == 3
    pol = scenario.policies["payment"]
    assert pol.retries.attempts == 4 and pol.retries.per_try_timeout == pytest.approx(0.3)  # kept from the file
    assert pol.timeout == pytest.approx(0.75)
    assert pol.load_balancer.kind == "random"
    assert pol.outlier_detection.consecutive_5xx == 5
    assert pol.retry_budget.budget_percent == pytest.approx(20.0)
    base = at.session_state["cache"][at.session_state["last"]["baseline"]].scenario
    assert base.services["cart"].concurrency == 16 and base.policies["payment"].retries.attempts == 2


def test_knob_choices_come_from_the_schema():
    import typing

    from meshsim.scenario import Fault, LoadBalancerSpec

    at = _app()
    _widget(at, "selectbox", "pick:policy").select("payment")
    at.run()
    assert tuple(_knob(at, "selectbox", "lb.payment").options) == typing.get_args(
        LoadBalancerSpec.model_fields["kind"].annotation
    )
    assert tuple(_widget(at, "selectbox", "fault.kind").options) == typing.get_args(
        Fault.model_fields["kind"].annotation
    )


def test_invalid_upload_shows_its_error_with_line_numbers():
    at = _app()
    at.radio(key="source").set_value("upload a file").run()
    bad = (
        b"name: broken\n"
        b"services:\n"
        b"  api:\n"
        b"    replicas: 1\n"
        b"    service_time: 5ms\n"
        b"    calls: [paymnt]\n"
        b"workload:\n"
        b"  - {name: w, entry: api, rate: 10/s}\n"
        b"  - {name: v, entry: api, rat: 10/s}\n"
    )
    at.file_uploader(key="upload").set_value(("broken.yaml", bad, "application/x-yaml")).run()
    assert not at.exception, at.exception
    assert at.error, "the problems are shown"
    text = at.error[0].value
    assert "broken.yaml" in text
    assert "**line 9**" in text and "unknown field 'rat'; did you mean 'rate'?" in text
    assert not at.get("plotly_chart") and "run" not in [b.key for b in at.button]
    # a cross-reference error points at its own line
    fixed = bad.replace(b"rat: 10/s", b"rate: 10/s")
    at.file_uploader(key="upload").set_value(("broken.yaml", fixed, "application/x-yaml")).run()
    text = at.error[0].value
    assert "**line 6**" in text and "unknown service 'paymnt'" in text
    # and a valid upload clears the error
    good = fixed.replace(b"calls: [paymnt]", b"calls: []")
    at.file_uploader(key="upload").set_value(("good.yaml", good, "application/x-yaml")).run()
    assert not at.error and _knob(at, "number_input", "rate.w").value == pytest.approx(10.0)


def test_an_upload_cannot_import_files_of_the_host():
    at = _app()
    at.radio(key="source").set_value("upload a file").run()
    sneaky = (
        b"name: sneaky\nservices:\n  api: {replicas: 1, service_time: 5ms}\n"
        b"workload:\n  - {name: w, entry: api, rate: 10/s}\n"
        b"mesh:\n  import:\n    - {format: istio, path: /etc/}\n"
    )
    at.file_uploader(key="upload").set_value(("sneaky.yaml", sneaky, "application/x-yaml")).run()
    assert not at.exception, at.exception
    assert at.error and "sneaky.yaml" in at.error[0].value
    assert "run" not in [b.key for b in at.button]


def test_compare_view_shows_differences():
    at = _app()
    _knob(at, "number_input", "duration").set_value(4.0)
    _widget(at, "number_input", "run.replications").set_value(2)
    at.button(key="run").click().run()  # the baseline
    assert "Baseline vs what-if" in [t.label for t in at.tabs]
    assert at.session_state["last"]["table"] is None  # nothing changed yet
    _knob(at, "number_input", "rate.browse").set_value(400.0)  # under the frontend's 500/s capacity
    _run(at, duration=4.0)
    delta = _metric(at, "browse p99").delta  # the headline shows the change against the baseline
    assert delta == "±0" or delta.endswith(" ms")
    assert _metric(at, "browse throughput").delta.startswith("+")
    diff = next(d.value for d in at.dataframe if "change_pct" in d.value.columns)
    tput = diff[(diff["name"] == "browse") & (diff["metric"] == "throughput_rps")].iloc[0]
    assert tput["change_pct"] == pytest.approx(33.3, abs=8.0)  # 300/s -> 400/s
    assert bool(tput["significant"])  # two paired replications, a third more
    p99 = diff[(diff["name"] == "browse") & (diff["metric"] == "latency_p99_ms")].iloc[0]
    assert p99["baseline"].endswith(" ms") and p99["change"].endswith(" ms")
    charts = _charts(at)
    assert {"compare_latency", "compare_bars"} <= set(charts)
    assert charts.count("latency") >= 3  # what-if tab + baseline and what-if side by side


def test_client_knobs_reach_the_workload():
    at = _app()
    _knob(at, "number_input", "client_retries.browse").set_value(2)
    _knob(at, "selectbox", "client_mode.browse").select("standard")
    _knob(at, "selectbox", "client_backoff.browse").select("decorrelated")
    at.run()
    _run(at, duration=2.0)
    last = at.session_state["last"]
    client = _whatif(at).scenario.workload[0].client
    assert client.retries == 2 and client.mode == "standard"
    assert client.backoff_family().kind == "decorrelated"
    base = at.session_state["cache"][last["baseline"]].scenario.workload[0].client
    assert base.mode is None and base.max_retries == 0


def test_closed_population_and_processor_sharing_knobs_reach_the_run():
    at = _app()
    at.selectbox(key="model").select("closed-population.yaml").run()
    assert _knob(at, "number_input", "users.users").value == 110
    assert _knob(at, "number_input", "think.users").value == pytest.approx(1000.0)
    _knob(at, "number_input", "users.users").set_value(40)
    _knob(at, "number_input", "think.users").set_value(500.0)
    _widget(at, "selectbox", "pick:capacity").select("server").run()
    _knob(at, "selectbox", "discipline.server").select("processor_sharing")
    _knob(at, "number_input", "cores.server").set_value(4.0)
    at.run()
    _run(at, duration=3.0)
    scenario = _whatif(at).scenario
    w = scenario.workload[0]
    assert w.users == 40 and w.think_time.mean == pytest.approx(0.5)
    assert scenario.services["server"].discipline == "processor_sharing"
    assert scenario.services["server"].cores == 4.0


def test_fault_picker_adds_a_fault_that_the_run_uses():
    at = _app()
    _widget(at, "selectbox", "fault.kind").select("load").run()
    _widget(at, "number_input", "fault.at").set_value(6.0)
    _widget(at, "number_input", "fault.duration").set_value(3.0)
    _widget(at, "number_input", "fault.factor").set_value(2.0)
    _widget(at, "button", "fault.add").click().run()
    assert at.session_state["faults"] == [{"kind": "load", "at": "6s", "duration": "3s", "factor": 2.0}]
    _run(at, duration=5.0)
    scenario = _whatif(at).scenario
    assert [(f.kind, f.at, f.duration, f.factor) for f in scenario.faults] == [("load", 6.0, 3.0, 2.0)]
    _widget(at, "button", "fault.remove.0").click().run()
    assert at.session_state["faults"] == []


def test_every_fault_kind_of_the_schema_can_be_added_as_a_valid_fault():
    """The picker asks for what each kind needs: a fault it adds validates against the schema."""
    from meshsim import load_scenario
    from meshsim.experiments import FAULT_KINDS
    from meshsim.yamlio import read_yaml

    at = _app()
    model = Path(APP).parent / "models" / "online-boutique.yaml"
    for kind in FAULT_KINDS:
        _widget(at, "selectbox", "fault.kind").select(kind).run()
        _widget(at, "button", "fault.add").click().run()
        assert not at.exception, (kind, at.exception)
    added = at.session_state["faults"]
    assert [f["kind"] for f in added] == list(FAULT_KINDS)
    scenario = read_yaml(model.read_text(encoding="utf-8"), str(model))
    loaded = load_scenario({**scenario, "faults": added})  # raises naming the field a kind missed
    assert [f.kind for f in loaded.faults] == list(FAULT_KINDS)


def test_too_large_run_asks_for_fewer_requests():
    at = _app()
    _knob(at, "number_input", "rate.browse").set_value(100_000.0)
    at.button(key="run").click().run()
    assert not at.exception
    assert any("fewer requests" in e.value for e in at.error)
    assert not at.get("plotly_chart")


def test_a_long_file_starts_capped_and_says_so():
    long_file = (
        b"name: long\nseed: 1\nduration: 2h\nservices:\n  api: {replicas: 1, concurrency: 8, service_time: 1ms}\n"
        b"workload:\n  - {name: w, entry: api, rate: 100/s}\n"
    )
    at = _app()
    at.radio(key="source").set_value("upload a file").run()
    at.file_uploader(key="upload").set_value(("long.yaml", long_file, "application/x-yaml")).run()
    duration = _knob(at, "number_input", "duration").value
    assert 0 < duration * 100 <= 100_000 and duration < 7200  # about the UI's request budget
    assert any("The file simulates 7200 s" in c.value for c in at.caption)
    assert at.get("code")[0].value == f"duration={duration:g}s"  # the cap is a shown change


CANARY = b"""name: tiny-canary
seed: 2
duration: 40s
services:
  api:
    replicas: 2
    concurrency: 8
    service_time: 2ms
    versions: {v1: {}, v2: {error_rate: 0.2}}
workload:
  - {name: users, entry: api, rate: 50/s}
rollout: {service: api, baseline: v1, canary: v2, at: 5s, steps: [20, 50, 100], interval: 10s,
          max_failed_checks: 1}
"""


def test_canary_rollout_and_split_knobs():
    at = _app()
    at.radio(key="source").set_value("upload a file").run()
    at.file_uploader(key="upload").set_value(("canary.yaml", CANARY, "application/x-yaml")).run()
    assert not at.error
    assert _knob(at, "number_input", "duration").value == pytest.approx(40.0)
    assert _knob(at, "checkbox", "rollout.on").value
    _knob(at, "text_input", "rollout.steps").set_value("20, 100")
    at.button(key="run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "rollout" in _charts(at)
    res = _whatif(at)
    assert [float(s) for s in res.scenario.rollout.steps] == [20.0, 100.0]
    assert res.to_dict()["rollout"]["outcome"] == "rolled_back"  # v2 fails 20% of its requests
    # no rollout, a fixed 30% split instead
    _knob(at, "checkbox", "rollout.on").uncheck()
    _knob(at, "slider", "split.api.v2").set_value(30.0)
    at.button(key="run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    scenario = _whatif(at).scenario
    assert scenario.rollout is None
    assert scenario.policies["api"].split == {"v1": 70.0, "v2": 30.0}


def test_every_bundled_model_loads_with_the_files_values():
    from meshsim import load_scenario

    at = _app()
    root = Path(APP).parent / "models"
    for model in at.selectbox(key="model").options:
        at.selectbox(key="model").select(model).run()
        assert not at.exception, (model, at.exception)
        assert not at.error, (model, [e.value for e in at.error])
        assert at.session_state["loaded"] == f"model:{model}"
        assert at.session_state["values"] == {}
        scenario = load_scenario(root / model)
        for w in scenario.workload:  # open workloads show their rate, closed ones their users
            if w.closed:
                assert _knob(at, "number_input", f"users.{w.name}").value == w.users, model
            else:
                assert _knob(at, "number_input", f"rate.{w.name}").value == pytest.approx(w.rate), model
        assert any(c.value.startswith(f"0 change(s) from models/{model}") for c in at.caption), model


def test_make_baseline_and_reset():
    at = _app()
    _knob(at, "number_input", "rate.browse").set_value(200.0)
    at.button(key="pin_baseline").click().run()
    _run(at, duration=2.0)
    last = at.session_state["last"]
    assert last["baseline"] == last["whatif"] and last["table"] is None  # the pinned settings are the baseline
    assert at.session_state["cache"][last["baseline"]].scenario.workload[0].rate == pytest.approx(200.0)
    at.button(key="reset").click().run()
    assert at.session_state["values"] == {} and at.session_state["last"] is None
    assert _knob(at, "number_input", "rate.browse").value == pytest.approx(300.0)
    assert _knob(at, "number_input", "duration").value == pytest.approx(60.0)
    assert not at.get("code")  # no change listed


def test_an_invalid_edit_is_shown_at_once_and_blocks_the_run():
    at = _app()
    _knob(at, "text_input", "profile.browse").set_value("10s: 600/s, later: 300/s").run()
    assert not at.exception
    text = at.error[0].value
    assert "edited scenario" in text and "later" in text
    assert at.button(key="run").disabled
    _knob(at, "text_input", "profile.browse").set_value("10s: 600/s, 20s: 300/s").run()
    assert not at.error and not at.button(key="run").disabled
    _run(at, duration=8.0)
    scenario = _whatif(at).scenario
    assert [(p.at, p.rate) for p in scenario.workload[0].profile] == [(10.0, 600.0), (20.0, 300.0)]


def test_an_upload_that_is_not_utf8_says_which_line():
    at = _app()
    at.radio(key="source").set_value("upload a file").run()
    latin1 = b"name: caf\xe9\nservices: {}\n"
    at.file_uploader(key="upload").set_value(("latin1.yaml", latin1, "application/x-yaml")).run()
    assert not at.exception, at.exception
    text = at.error[0].value
    assert "latin1.yaml" in text and "not UTF-8" in text and "**line 1**" in text
