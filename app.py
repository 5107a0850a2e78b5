"""meshsim what-if: move a knob, run, and see the p99 and the error budget move.

Start with ``make run`` (``streamlit run app.py``). The app draws one widget per knob of
``meshsim.experiments.whatif_knobs``, turns the moved ones into overrides with
``knob_overrides`` and builds the scenario with the library's ``apply_overrides``: the
scenario shown (boxes, change list, downloaded YAML) is the scenario run.

Widget keys live in a namespace of the loaded source and a reset counter, so a model
switch or Reset creates fresh widgets that show the file's values (a browser keeps the
old value of a widget whose key survives). Tests find a knob by its key's tail
(``...:knob:rate.browse``).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

import meshsim
from meshsim import viz
from meshsim.errors import MeshsimInputError, decode_input_text
from meshsim.experiments import (
    FAULT_KINDS,
    apply_overrides,
    check_size,
    compare,
    describe_override,
    estimate_size,
    knob_overrides,
    overridden_mapping,
    paired_table,
    whatif_knobs,
)
from meshsim.results import format_metric
from meshsim.yamlio import dump_yaml, read_yaml

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "online-boutique.yaml"
UI_RUN_REQUESTS = 100_000  # end-user requests per run the default horizon allows (about 10-20 s)
MAX_UI_REQUESTS = 1_000_000  # beyond this (both runs, all replications) a run takes minutes
MAX_UPLOAD_BYTES = 1_000_000  # also .streamlit/config.toml server.maxUploadSize
GROUPS = {
    "traffic": "Traffic",
    "capacity": "Replicas and concurrency",
    "policy": "Timeouts, retries, balancing",
    "canary": "Canary and rollout",
}


# ----------------------------------------------------------------- the scenario source


@st.cache_data(show_spinner=False)
def bundled_models() -> list[str]:
    """Every scenario under models/ (subfolders too), as paths relative to it; mesh configs are left out."""
    found = []
    for path in sorted(MODELS_DIR.rglob("*.y*ml")):
        try:
            data = read_yaml(path.read_text(encoding="utf-8"), str(path))
        except MeshsimInputError:
            continue
        if isinstance(data, dict) and "services" in data and "workload" in data:
            found.append(path.relative_to(MODELS_DIR).as_posix())
    return found


@st.cache_resource(show_spinner=False)
def _upload_root() -> str:
    """An empty folder: an uploaded scenario's mesh.import paths must stay inside it, so it reads nothing."""
    return tempfile.mkdtemp(prefix="meshsim-upload-")


def _problems(exc: MeshsimInputError, label: str) -> str:
    lines = []
    for p in exc.problems:
        where = f"line {p.line}" if p.line is not None else label
        field = f" `{p.field}`" if p.field else ""
        lines.append(f"- **{where}**{field}: {p.message}")
    return f"**{label}** is not a valid scenario:\n\n" + "\n".join(lines)


def _source() -> dict[str, Any] | None:
    """The chosen model or upload: key, label, what apply_overrides reads, import root."""
    with st.sidebar:
        st.header("Scenario")
        kind = st.radio("Source", ["bundled model", "upload a file"], key="source", horizontal=True)
        if kind == "bundled model":
            models = bundled_models()
            index = models.index(DEFAULT_MODEL) if DEFAULT_MODEL in models else 0
            name = st.selectbox("Model (models/)", models, index=index, key="model")
            return {"key": f"model:{name}", "label": f"models/{name}", "source": MODELS_DIR / name, "root": None}
        up = st.file_uploader("Scenario YAML", type=["yaml", "yml"], key="upload")
        if up is None:
            st.info("Upload a scenario file (docs/scenario.md), or pick a bundled model.")
            return None
        data = up.getvalue()
        try:
            text = _upload_text(up.name, data)
        except MeshsimInputError as exc:
            st.error(_problems(exc, up.name), icon="🚫")
            return None
        return {
            "key": f"upload:{up.name}:{hashlib.sha256(data).hexdigest()[:12]}",
            "label": up.name,
            "source": text if "\n" in text else text + "\n",
            "root": _upload_root(),
        }


def _upload_text(name: str, data: bytes) -> str:
    """The upload's text through the library's input gate (size limit, UTF-8, no NUL, bad line named)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise MeshsimInputError(
            f"the upload is {len(data):,} bytes; a scenario file here may be at most {MAX_UPLOAD_BYTES:,}",
            file=name,
        )
    return decode_input_text(data, name)


def _default_horizon(scenario: Any) -> tuple[float, str]:
    """The file's duration, or the part of it that fits the UI's request budget, and why."""
    wanted = estimate_size(scenario).requests  # load faults counted at their factor
    if wanted <= UI_RUN_REQUESTS:
        return float(scenario.duration), ""
    share = UI_RUN_REQUESTS / wanted
    capped = max(10.0, float(int(scenario.duration * share / 10) * 10))
    return capped, (
        f"The file simulates {scenario.duration:g} s (about {wanted:,.0f} requests); the UI starts with the "
        f"first {capped:g} s. Raise it below, or run the whole file with `meshsim run`."
    )


def _load(src: dict[str, Any]) -> Any:
    """Validate the source; a new source (or Reset) gets fresh state and a fresh widget namespace."""
    try:
        scenario = meshsim.load_scenario(src["source"], import_root=src["root"])
    except MeshsimInputError as exc:
        st.error(_problems(exc, src["label"]), icon="🚫")
        return None
    if st.session_state.get("loaded") != src["key"]:
        st.session_state["loaded"] = src["key"]
        _reset(src, scenario)
    return scenario


def _reset(src: dict[str, Any], scenario: Any) -> None:
    """Every knob, the fault list, baseline and results back to the file; new widget keys."""
    state = st.session_state
    horizon, note = _default_horizon(scenario)
    file_faults = [
        dict(f) for f in (overridden_mapping(src["source"], [], import_root=src["root"]).get("faults") or [])
    ]
    state.update(
        values={},
        file_faults=file_faults,
        faults=[dict(f) for f in file_faults],
        baseline=None,
        cache={},
        last=None,
        focus=None,
        horizon=horizon,
        horizon_note=note,
        generation=state.get("generation", 0) + 1,
    )


def _ns(name: str) -> str:
    """A widget key inside the current source's namespace."""
    digest = hashlib.sha256(str(st.session_state["loaded"]).encode()).hexdigest()[:8]
    return f"{digest}.{st.session_state['generation']}:{name}"


# ----------------------------------------------------------------- knobs


def _widget(knob: Any) -> Any:
    """Draw one knob; its value lives in session_state['values'] so hidden knobs keep theirs."""
    values = st.session_state["values"]
    current = values.get(knob.key, knob.value)
    key, label, help_ = _ns(f"knob:{knob.key}"), knob.label, knob.help or None
    if knob.widget == "number":
        value = st.number_input(
            label, value=float(current), min_value=knob.minimum, max_value=knob.maximum, step=knob.step,
            key=key, help=help_,
        )  # fmt: skip
    elif knob.widget == "int":
        lo = None if knob.minimum is None else int(knob.minimum)
        hi = None if knob.maximum is None else int(knob.maximum)
        value = st.number_input(label, value=int(current), min_value=lo, max_value=hi, step=1, key=key, help=help_)
    elif knob.widget == "percent":
        value = st.slider(label, 0.0, 100.0, float(current), step=knob.step or 1.0, key=key, help=help_)
    elif knob.widget == "choice":
        value = st.selectbox(label, knob.choices, index=knob.choices.index(current), key=key, help=help_)
    elif knob.widget == "toggle":
        value = st.checkbox(label, value=bool(current), key=key, help=help_)
    else:
        value = st.text_input(label, value=str(current), key=key, help=help_)
    if knob.moved(value):
        values[knob.key] = value
    else:
        values.pop(knob.key, None)
    return value


def _knob_panels(scenario: Any, knobs: list[Any]) -> None:
    by_group: dict[str, list[Any]] = {}
    for k in knobs:
        by_group.setdefault(k.group, []).append(k)
    for group, title in GROUPS.items():
        items = by_group.get(group, [])
        if not items:
            continue
        with st.expander(title, expanded=group == "traffic"):
            scopes = list(dict.fromkeys(k.scope for k in items if k.scope))
            if scopes:
                moved = {k.scope for k in items if k.key in st.session_state["values"]}
                label = "Service" if group == "capacity" else "Calls to service"
                pick = st.selectbox(
                    label, scopes, key=_ns(f"pick:{group}"), format_func=lambda s, m=moved: f"{s} •" if s in m else s
                )
                if group == "policy":
                    preset = (
                        f"over the {scenario.mesh.defaults} mesh preset"
                        if scenario.mesh.defaults
                        else "(no mesh preset)"
                    )
                    st.caption(f"Values shown are what runs: the file {preset}.")
                items = [k for k in items if k.scope in (None, pick)]
            rollout_on = st.session_state["values"].get("rollout.on", scenario.rollout is not None)
            for k in items:
                if k.key.startswith("rollout.") and k.key != "rollout.on" and not rollout_on:
                    continue
                _widget(k)
                if k.key == "rollout.on":
                    rollout_on = st.session_state["values"].get("rollout.on", scenario.rollout is not None)


def _fault_panel(scenario: Any) -> None:
    """The fault list: remove one, or add one of the schema's kinds."""
    faults = st.session_state["faults"]
    for i, f in enumerate(faults):
        where = f.get("target") or " ↔ ".join(f.get("between") or []) or "all"
        cols = st.columns([4, 1])
        cols[0].markdown(f"`{f.get('kind')}` {where} at {f.get('at')} for {f.get('duration', 'ever')}")
        if cols[1].button("✕", key=_ns(f"fault.remove.{i}"), help="remove this fault"):
            faults.pop(i)
            st.rerun()
    kind = st.selectbox("Add a fault: what", FAULT_KINDS, key=_ns("fault.kind"))
    locations = sorted({"/".join(z.split("/")[:n]) for z in scenario.zones() for n in (1, 2, 3)})
    services = list(scenario.services) + [f"{s}/{v}" for s, svc in scenario.services.items() for v in svc.versions]
    new: dict[str, Any] = {"kind": kind}
    if kind == "partition":
        a = st.selectbox("between", locations or ["-"], key=_ns("fault.between_a"))
        b = st.selectbox("and", locations or ["-"], index=min(1, len(locations) - 1), key=_ns("fault.between_b"))
        new["between"] = [a, b]
    elif kind != "load":
        options = locations if kind == "outage" else services + (locations if kind == "latency" else [])
        new["target"] = st.selectbox("where", options, key=_ns("fault.target"))
    horizon = scenario.warmup + st.session_state["values"].get("duration", st.session_state["horizon"])
    at = st.number_input("when (s from start)", 0.0, value=float(round(horizon / 3)), step=5.0, key=_ns("fault.at"))
    dur = st.number_input(
        "how long (s, 0 = until the end)", 0.0, value=float(round(horizon / 3)), step=5.0, key=_ns("fault.duration")
    )
    new["at"] = f"{at:g}s"
    if dur > 0:
        new["duration"] = f"{dur:g}s"
    if kind == "latency":
        new["add"] = f"{st.number_input('added latency (ms)', 0.0, value=200.0, key=_ns('fault.add_ms')):g}ms"
    elif kind == "errors":
        new["rate"] = st.number_input("error rate (0-1)", 0.0, 1.0, 0.5, step=0.05, key=_ns("fault.rate"))
    elif kind == "refuse":
        new["rate"] = st.number_input(
            "share of connections refused (0-1)", 0.0, 1.0, 0.5, step=0.05, key=_ns("fault.refuse_rate")
        )
    elif kind == "crash":
        new["instances"] = int(st.number_input("replicas", 1, 100, 1, key=_ns("fault.instances")))
    elif kind in ("degrade", "load"):
        new["factor"] = st.number_input("factor (x)", 0.1, 100.0, 2.0, step=0.5, key=_ns("fault.factor"))
    if st.button("Add fault", key=_ns("fault.add")):
        faults.append(new)
        st.rerun()


# ----------------------------------------------------------------- running


def _run(src: dict[str, Any], base_ov: list[Any], whatif_ov: list[Any], reps: int) -> None:
    """Simulate what is not cached yet with one progress bar; pair the two runs as ``compare`` does."""
    cache: dict[str, Any] = st.session_state["cache"]
    keys = {}
    todo = {}
    for label, ov in (("baseline", base_ov), ("what-if", whatif_ov)):
        try:  # the same scenario reached by other edits is the same run
            mapping = overridden_mapping(src["source"], ov, label="knob", import_root=src["root"])
        except MeshsimInputError as exc:
            st.error(_problems(exc, f"the {label} scenario"), icon="🚫")
            return
        key = hashlib.sha256(json.dumps([mapping, reps], sort_keys=True, default=str).encode()).hexdigest()
        keys[label] = key
        if key not in cache and key not in todo:
            try:
                todo[key] = apply_overrides(src["source"], ov, label="knob", import_root=src["root"])
            except MeshsimInputError as exc:
                st.error(_problems(exc, f"the {label} scenario"), icon="🚫")
                return
    try:  # the library's size guard: replicas and attempts per request, as `meshsim run` refuses them
        sizes = [check_size(s, reps) for s in todo.values()]
    except MeshsimInputError as exc:
        st.error("\n\n".join(re.sub(r",? (or )?pass --force", "", p.message) for p in exc.problems), icon="✋")
        return
    total = sum(size.requests for size in sizes) * reps
    if total > MAX_UI_REQUESTS:
        st.error(
            f"This run would simulate about {total:,.0f} requests (the UI stops at {MAX_UI_REQUESTS:,}). "
            "Ask for fewer requests: shorten the duration, lower the rate or the replications.",
            icon="✋",
        )
        return
    bar = st.progress(0.0, text="simulating…")

    def progress(done: float, n: float) -> None:
        # ``done`` counts runs with fractions: the bar moves inside each run (simulated time)
        share = min(1.0, done / max(n, 1))
        bar.progress(share, text=f"simulating: {share:.0%} ({int(done):,} of {int(n):,} run(s) done)")

    jobs = list(todo.items())
    try:
        if len(jobs) == 2:
            cmp = compare(jobs[0][1], jobs[1][1], replications=reps, progress=progress)
            cache[jobs[0][0]], cache[jobs[1][0]] = cmp.base, cmp.changed
        elif jobs:
            cache[jobs[0][0]] = meshsim.simulate(jobs[0][1], replications=reps, progress=progress)
    except MeshsimInputError as exc:
        bar.empty()
        st.error(_problems(exc, "the scenario"), icon="🚫")
        return
    bar.empty()
    for k in [k for k in cache if k not in keys.values()]:
        del cache[k]  # keep memory flat: only the shown pair stays
    kb, kw = keys["baseline"], keys["what-if"]
    table = paired_table(cache[kb], cache[kw]) if kb != kw else None
    st.session_state["last"] = {"baseline": kb, "whatif": kw, "table": table}


# ----------------------------------------------------------------- results


def _delta(d: float | None, unit: str) -> dict[str, Any]:
    """st.metric arguments for a change against the baseline: red when worse, "±0" when nothing moved.

    Latency and errors are worse when they rise; throughput is not.
    """
    if d is None or d != d:
        return {}
    if abs(d) < (5e-6 if unit == "ratio" else 0.05):
        return {"delta": "±0", "delta_color": "off", "delta_arrow": "off"}
    return {"delta": format_metric(d, unit, signed=True), "delta_color": "normal" if unit == "1/s" else "inverse"}


def _headline(data: dict[str, Any], base: dict[str, Any] | None, scenario: Any) -> None:
    for name, w in data["workloads"].items():
        b = base["workloads"].get(name) if base else None
        cols = st.columns(4)
        for col, label, value, before, unit in (
            (0, "p99", w["latency_ms"]["p99"], b and b["latency_ms"]["p99"], "ms"),
            (1, "error rate", w["error_rate"], b and b["error_rate"], "ratio"),
            (2, "p50", w["latency_ms"]["p50"], b and b["latency_ms"]["p50"], "ms"),
            (3, "throughput", w["throughput_rps"], b and b["throughput_rps"], "1/s"),
        ):
            d = None if value is None or before is None else value - before
            cols[col].metric(f"{name} {label}", format_metric(value, unit), **_delta(d, unit))
    slos = viz.slo_frame(data, scenario)
    if not slos.empty:
        met = int((slos["status"] == "met").sum())
        st.markdown(f"**SLOs met: {met}/{len(slos)}**")
        table = slos[["name", "target", "metric", "value_text", "ci_text", "limit_text", "status"]]
        table = table.rename(columns={"value_text": "value", "ci_text": "95% interval", "limit_text": "limit"})
        st.dataframe(table, hide_index=True, key="table.slos")


def _plot(fig: Any, key: str, **kw: Any) -> Any:
    return st.plotly_chart(fig, key=key, theme=None, config={"displaylogo": False}, **kw)


def _focus_changed() -> None:
    sel = st.session_state.get("chart.graph")
    points = (sel or {}).get("selection", {}).get("points", []) if isinstance(sel, dict) else []
    ids = [p.get("customdata") for p in points if isinstance(p.get("customdata"), str)]
    if ids:
        st.session_state["focus"] = None if ids[0] == st.session_state.get("focus") else ids[0]


def _results_view(scenario: Any) -> None:
    last = st.session_state.get("last")
    if not last:
        st.info("Set the knobs in the sidebar, then press **Run simulation**.")
        return
    cache = st.session_state["cache"]
    res, base_res = cache.get(last["whatif"]), cache.get(last["baseline"])
    if res is None:
        return
    data = res.to_dict()
    base_data = None if last["whatif"] == last["baseline"] or base_res is None else base_res.to_dict()
    st.subheader("What-if against the baseline" if base_data else "Results")
    _headline(data, base_data, res.scenario)
    focus = st.session_state.get("focus")
    figs = viz.figures(res, data, focus=focus)
    names = ["Service graph", "RED per service", "Latency and errors", "Retries"]
    names += ["Rollout"] if "rollout" in figs else []
    names += ["Cost", "Baseline vs what-if", "Tables"]
    tabs = dict(zip(names, st.tabs(names)))
    with tabs["Service graph"]:
        st.caption("Click a service to focus on it and show its RED panels; click it again to clear.")
        _plot(figs["graph"], "chart.graph", on_select=_focus_changed, selection_mode="points", width="content")
        if focus:
            _plot(figs["red"], "chart.red.focus")
    with tabs["RED per service"]:
        every = viz.red_panels(res.timeseries(), None, viz.fault_frame(res.scenario)) if focus else figs["red"]
        _plot(every, "chart.red")
    with tabs["Latency and errors"]:
        _plot(figs["latency"], "chart.latency")
        _plot(figs["errors"], "chart.errors")
    with tabs["Retries"]:
        _plot(figs["retries"], "chart.retries")
    if "rollout" in figs:
        with tabs["Rollout"]:
            _plot(figs["rollout"], "chart.rollout")
    with tabs["Cost"]:
        _plot(figs["cost"], "chart.cost")
    with tabs["Baseline vs what-if"]:
        if base_data is None:
            st.info("The what-if equals the baseline. Change a knob and run again to compare.")
        else:
            table = last["table"]
            st.caption("Same seeds for both (common random numbers). Intervals and significance need 2+ replications.")
            st.dataframe(
                viz.comparison_frame(table),
                hide_index=True,
                key="table.diff",
                column_config={"change_pct": st.column_config.NumberColumn("change %", format="%+.1f%%")},
            )
            _plot(viz.compare_bars(table), "cmp.bars")
            _plot(viz.compare_latency(base_res.timeseries(), res.timeseries()), "cmp.latency")
            base_figs = viz.figures(base_res, base_data)
            for chart in ("latency", "errors"):
                left, right = st.columns(2)
                left.caption("baseline")
                with left:
                    _plot(base_figs[chart], f"cmp.base.{chart}")
                right.caption("what-if")
                with right:
                    _plot(figs[chart], f"cmp.whatif.{chart}")
            st.caption("baseline")
            _plot(base_figs["graph"], "cmp.base.graph", width="content")
    with tabs["Tables"]:
        st.dataframe(viz.workload_frame(data), hide_index=True, key="table.workloads")
        st.dataframe(viz.service_frame(data), hide_index=True, key="table.services")
        st.dataframe(res.edges(), hide_index=True, key="table.edges")
    with st.sidebar:
        st.download_button(
            "Download results (JSON)", res.to_json(), file_name=f"{scenario.name}-results.json",
            mime="application/json", key="dl_json",
        )  # fmt: skip


# ----------------------------------------------------------------- page


def main() -> None:
    """Draw the what-if page: pick a scenario, change knobs, run and compare with the baseline."""
    st.set_page_config(page_title="meshsim what-if", layout="wide")
    st.title("meshsim what-if")
    st.caption("A discrete-event simulation of a service mesh. Change a knob, run, compare with the baseline.")
    src = _source()
    if src is None:
        return
    scenario = _load(src)
    if scenario is None:
        return
    state = st.session_state
    knobs = whatif_knobs(scenario, state["horizon"])
    with st.sidebar:
        st.header("Run")
        _widget(knobs[0])
        if state["horizon_note"]:
            st.caption(state["horizon_note"])
        reps = int(st.number_input("replications", 1, 20, 1, step=1, key=_ns("run.replications")))
        st.header("What-if knobs")
        _knob_panels(scenario, knobs[1:])
        with st.expander("Faults"):
            _fault_panel(scenario)
    overrides = knob_overrides(scenario, knobs, state["values"])
    if state["faults"] != state["file_faults"]:
        overrides.append(("faults", [dict(f) for f in state["faults"]]))
    try:
        apply_overrides(src["source"], overrides, label="knob", import_root=src["root"])
        invalid = False
    except MeshsimInputError as exc:
        st.error(_problems(exc, "The edited scenario"), icon="🚫")
        invalid = True
    with st.sidebar:
        run = st.button("Run simulation", key="run", type="primary", disabled=invalid)
        c1, c2 = st.columns(2)
        if c1.button(
            "Make baseline", key="pin_baseline", help="the current knobs become the baseline", disabled=invalid
        ):
            state["baseline"] = [ov for ov in overrides if ov[0] != "duration"]
        if c2.button("Reset knobs", key="reset", help="every knob back to the file's value"):
            _reset(src, scenario)
            st.rerun()
        st.caption(f"{len(overrides)} change(s) from {src['label']}")
        if overrides:
            st.code("\n".join(describe_override(p, v) for p, v in overrides), language=None)
        if not invalid:
            edited = overridden_mapping(src["source"], overrides, label="knob", import_root=src["root"])
            st.download_button(
                "Download scenario (YAML)", dump_yaml(edited), file_name=f"{scenario.name}-whatif.yaml",
                mime="application/x-yaml", key="dl_yaml",
            )  # fmt: skip
    if run:
        duration = [ov for ov in overrides if ov[0] == "duration"]
        _run(src, (state["baseline"] or []) + duration, overrides, reps)
    _results_view(scenario)


main()
