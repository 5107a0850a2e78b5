"""The Streamlit what-if UI under streamlit.testing's AppTest (no browser; streamlit.testing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
MAIN_CHARTS = {"slo", "latency", "errors", "retries", "graph", "cost"}


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def _charts(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["meta"]["chart"] for c in at.get("plotly_chart")]


def _metric(at: AppTest, label: str):
    hits = [m for m in at.metric if m.label == label]
    assert hits, f"no metric {label!r} in {[m.label for m in at.metric]}"
    return hits[0]


def _run(at: AppTest, duration: float = 5.0) -> AppTest:
    at.number_input(key="run.duration").set_value(duration)
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_app_loads_the_default_model():
    at = _app()
    assert at.selectbox(key="model").value == "online-boutique.yaml"
    assert at.number_input(key="knob.rate.browse").value == pytest.approx(300.0)
    assert at.number_input(key="run.duration").value == pytest.approx(30.0)  # a short default horizon
    assert not at.error and not at.get("plotly_chart")
    assert any("Run simulation" in i.value for i in at.info)


def test_knob_change_and_run_draws_charts_and_numbers():
    at = _app()
    at.number_input(key="knob.rate.browse").set_value(450.0)
    _run(at)
    assert set(_charts(at)) >= MAIN_CHARTS
    assert at.get("progress")[0].value == 100
    rps = float(_metric(at, "browse throughput (req/s)").value.replace(",", ""))
    assert rps == pytest.approx(450, rel=0.15)  # the knob reached the simulation
    p99 = float(_metric(at, "browse p99 (ms)").value.replace(",", ""))
    p50 = float(_metric(at, "browse p50 (ms)").value.replace(",", ""))
    assert 0 < p50 <= p99
    assert _metric(at, "SLOs met").value.endswith("/2")
    latency = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if json.loads(c.proto.spec)["layout"]["meta"]["chart"] == "latency"
    )
    assert any(t["name"] == "browse p99" for t in latency["data"])


def test_policy_and_service_knobs_reach_the_scenario():
    at = _app()
    at.selectbox(key="knob_pick.service").select("cart")
    at.run()
    at.number_input(key="knob.concurrency.cart").set_value(3)
    at.selectbox(key="knob_pick.policy").select("payment")
    at.run()
    at.number_input(key="knob.retries.payment").set_value(4)
    at.number_input(key="knob.timeout.payment").set_value(750.0)
    at.selectbox(key="knob.lb.payment").select("random")  # Istio's default is least_request
    at.number_input(key="knob.outlier.payment").set_value(5)
    at.number_input(key="knob.budget.payment").set_value(20.0)
    at.run()
    # switching the picker away and back keeps the edits
    at.selectbox(key="knob_pick.service").select("frontend")
    at.run()
    _run(at, duration=2.0)
    last = at.session_state["last"]
    scenario = at.session_state["cache"][last["whatif"]].scenario
    assert scenario.services["cart"].concurrency == 3
    pol = scenario.policies["payment"]
    assert pol.retries.attempts == 4 and pol.retries.per_try_timeout == pytest.approx(0.3)  # kept from the file
    assert pol.timeout == pytest.approx(0.75)
    assert pol.load_balancer.kind == "random"
    assert pol.outlier_detection.consecutive_5xx == 5
    assert pol.retry_budget.budget_percent == pytest.approx(20.0)
    base = at.session_state["cache"][last["baseline"]].scenario
    assert base.services["cart"].concurrency == 16 and base.policies["payment"].retries.attempts == 2


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
    assert not at.error and at.number_input(key="knob.rate.w").value == pytest.approx(10.0)


def test_compare_view_shows_differences():
    at = _app()
    at.number_input(key="run.replications").set_value(2)
    _run(at, duration=4.0)  # the baseline
    assert "Baseline vs what-if" in [t.label for t in at.tabs]
    assert at.session_state["last"]["table"] is None  # nothing changed yet
    at.number_input(key="knob.rate.browse").set_value(600.0)
    _run(at, duration=4.0)
    delta = _metric(at, "browse p99 (ms)").delta  # the headline shows the change against the baseline
    assert delta == "±0" or delta.endswith(" ms")
    diff = next(d.value for d in at.dataframe if "change_pct" in d.value.columns)
    tput = diff[(diff["name"] == "browse") & (diff["metric"] == "throughput")].iloc[0]
    assert tput["change_pct"] == pytest.approx(100.0, abs=10.0)  # 300/s -> 600/s
    assert bool(tput["significant"])  # two paired replications, a doubling
    charts = _charts(at)
    assert {"compare_latency", "compare_bars"} <= set(charts)
    assert charts.count("latency") >= 3  # what-if tab + baseline and what-if side by side


def test_fault_picker_adds_a_fault_that_the_run_uses():
    at = _app()
    at.selectbox(key="fault.kind").select("load").run()
    at.number_input(key="fault.at").set_value(6.0)
    at.number_input(key="fault.duration").set_value(3.0)
    at.number_input(key="fault.factor").set_value(2.0)
    at.button(key="fault.add").click().run()
    assert at.session_state["faults"] == [{"kind": "load", "at": "6s", "duration": "3s", "factor": 2.0}]
    _run(at, duration=5.0)
    scenario = at.session_state["cache"][at.session_state["last"]["whatif"]].scenario
    assert [(f.kind, f.at, f.duration, f.factor) for f in scenario.faults] == [("load", 6.0, 3.0, 2.0)]
    at.button(key="fault.remove.0").click().run()
    assert at.session_state["faults"] == []


def test_too_large_run_asks_for_fewer_requests():
    at = _app()
    at.number_input(key="knob.rate.browse").set_value(100_000.0)
    at.button(key="run").click().run()
    assert not at.exception
    assert any("fewer requests" in e.value for e in at.error)
    assert not at.get("plotly_chart")


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
    assert at.number_input(key="run.duration").value == pytest.approx(40.0)  # long enough for the rollout
    assert at.checkbox(key="knob.rollout.on").value
    at.text_input(key="knob.rollout.steps").set_value("20, 100")
    at.button(key="run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "rollout" in _charts(at)
    last = at.session_state["last"]
    res = at.session_state["cache"][last["whatif"]]
    assert [float(s) for s in res.scenario.rollout.steps] == [20.0, 100.0]
    assert res.to_dict()["rollout"]["outcome"] == "rolled_back"  # v2 fails 20% of its requests
    # no rollout, a fixed 30% split instead: the what-if has more errors than the rollout baseline
    at.checkbox(key="knob.rollout.on").uncheck()
    at.slider(key="knob.split.api.v2").set_value(30.0)
    at.button(key="run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    scenario = at.session_state["cache"][at.session_state["last"]["whatif"]].scenario
    assert scenario.rollout is None
    assert scenario.policies["api"].split == {"v1": 70.0, "v2": 30.0}


def test_every_bundled_model_loads_with_its_knobs():
    at = _app()
    for model in at.selectbox(key="model").options:
        at.selectbox(key="model").select(model).run()
        assert not at.exception, (model, at.exception)
        assert not at.error, (model, [e.value for e in at.error])
        assert at.session_state["loaded"] == f"model:{model}"
        assert at.session_state["edits"] == {}
        # open workloads have a rate knob, closed ones (users) a users knob
        traffic_knobs = [w.key for w in at.number_input if str(w.key).startswith(("knob.rate.", "knob.users."))]
        assert traffic_knobs, model


def test_make_baseline_and_reset():
    at = _app()
    at.number_input(key="knob.rate.browse").set_value(200.0)
    at.button(key="pin_baseline").click().run()
    _run(at, duration=2.0)
    last = at.session_state["last"]
    assert last["baseline"] == last["whatif"] and last["table"] is None  # the pinned settings are the baseline
    assert at.session_state["cache"][last["baseline"]].scenario.workload[0].rate == pytest.approx(200.0)
    at.button(key="reset").click().run()
    assert at.session_state["edits"] == {} and at.session_state["last"] is None
    assert at.number_input(key="knob.rate.browse").value == pytest.approx(300.0)


def test_an_invalid_edit_is_shown_at_once_and_blocks_the_run():
    at = _app()
    at.text_input(key="knob.profile.browse").set_value("10s: 600/s, later: 300/s").run()
    assert not at.exception
    text = at.error[0].value
    assert "edited scenario" in text and "workload.0.profile.at" in text and "later" in text
    assert at.button(key="run").disabled
    at.text_input(key="knob.profile.browse").set_value("10s: 600/s, 20s: 300/s").run()
    assert not at.error and not at.button(key="run").disabled
    _run(at, duration=8.0)
    scenario = at.session_state["cache"][at.session_state["last"]["whatif"]].scenario
    assert [(p.at, p.rate) for p in scenario.workload[0].profile] == [(10.0, 600.0), (20.0, 300.0)]


def test_closed_population_and_processor_sharing_knobs_reach_the_run():
    at = _app()
    at.selectbox(key="model").select("closed-population.yaml").run()
    assert at.number_input(key="knob.users.users").value == 110
    assert at.number_input(key="knob.think.users").value == pytest.approx(1000.0)
    at.number_input(key="knob.users.users").set_value(40)
    at.number_input(key="knob.think.users").set_value(500.0)
    at.selectbox(key="knob_pick.service").select("server")
    at.selectbox(key="knob.discipline.server").select("processor_sharing").run()
    at.number_input(key="knob.cores.server").set_value(4.0)
    _run(at, duration=3.0)
    scenario = at.session_state["cache"][at.session_state["last"]["whatif"]].scenario
    w = scenario.workload[0]
    assert w.users == 40 and w.think_time.mean == pytest.approx(0.5)
    assert scenario.services["server"].discipline == "processor_sharing"
    assert scenario.services["server"].cores == 4.0
