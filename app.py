"""meshsim what-if: move a knob, run, and see the p99 and the error budget move.

Start with ``make run`` (``streamlit run app.py``). The app only reads widgets, edits a
plain copy of the scenario file, and calls the meshsim library and ``meshsim.viz``.
Every widget has a ``key`` so tests (streamlit AppTest, Playwright) can find it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any, get_args

import streamlit as st

import meshsim
from meshsim import viz
from meshsim.errors import MeshsimInputError
from meshsim.experiments import compare, paired_table
from meshsim.scenario import Service
from meshsim.yamlio import dump_yaml, read_yaml

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "online-boutique.yaml"
DEFAULT_HORIZON_S = 30.0  # simulated seconds of a UI run: a few seconds of wall time
MAX_UI_REQUESTS = 1_000_000  # beyond this a run takes minutes: ask for fewer requests
BALANCERS = ("round_robin", "random", "least_request", "ewma", "ring_hash")
FAULT_KINDS = ("latency", "errors", "outage", "crash", "partition", "degrade", "load")
# the server disciplines the schema allows (services.<name>.discipline)
DISCIPLINES: tuple[str, ...] = get_args(get_args(Service.model_fields["discipline"].annotation)[0])


# ----------------------------------------------------------------- scenario source


def _problem_lines(exc: MeshsimInputError, label: str) -> str:
    lines = []
    for p in exc.problems:
        where = f"line {p.line}" if p.line is not None else label
        field = f" `{p.field}`" if p.field else ""
        lines.append(f"- **{where}**{field}: {p.message}")
    return f"**{label}** is not a valid scenario:\n\n" + "\n".join(lines)


def _source() -> tuple[str, str, str] | None:
    """(state key, YAML text, label) of the chosen model or upload; None while nothing is chosen."""
    models = sorted(p.name for p in MODELS_DIR.glob("*.yaml"))
    with st.sidebar:
        st.header("Scenario")
        kind = st.radio("Source", ["bundled model", "upload a file"], key="source", horizontal=True)
        if kind == "bundled model":
            index = models.index(DEFAULT_MODEL) if DEFAULT_MODEL in models else 0
            name = st.selectbox("Model (models/)", models, index=index, key="model")
            text = (MODELS_DIR / name).read_text(encoding="utf-8")
            return f"model:{name}", text, f"models/{name}"
        up = st.file_uploader("Scenario YAML", type=["yaml", "yml"], key="upload")
        if up is None:
            st.info("Upload a scenario file (docs/scenario.md), or pick a bundled model.")
            return None
        data = up.getvalue()
        return f"upload:{up.name}:{hashlib.sha256(data).hexdigest()[:12]}", data.decode("utf-8", "replace"), up.name


def _load(key: str, text: str, label: str) -> tuple[Any, dict[str, Any]] | None:
    """Validate the source; on a new source, reset knobs, faults, baseline and results."""
    try:
        scenario = meshsim.load_scenario(text if "\n" in text else text + "\n")
        raw = read_yaml(text, label)
    except MeshsimInputError as exc:
        st.error(_problem_lines(exc, label), icon="🚫")
        return None
    if st.session_state.get("loaded") != key:
        for k in [k for k in st.session_state if str(k).startswith(("knob.", "fault."))]:
            del st.session_state[k]
        st.session_state.update(
            loaded=key,
            edits={},
            faults=list(raw.get("faults") or []),
            baseline_raw=copy.deepcopy(raw),
            cache={},
            last=None,
        )
        st.session_state["run.duration"] = _default_horizon(scenario)
    return scenario, raw


def _default_horizon(scenario: Any) -> float:
    """Simulated seconds of a first run: short, but long enough to see every fault and the rollout."""
    last = 0.0
    for f in scenario.faults:
        last = max(last, f.at + (f.duration or 0.0))
    r = scenario.rollout
    if r is not None:
        start = r.at if r.at is not None else scenario.warmup
        last = max(last, start + (len(r.steps) + 1) * r.interval)
    wanted = max(DEFAULT_HORIZON_S, last - scenario.warmup + 5.0 if last else 0.0)
    return float(min(scenario.duration, wanted))


# ----------------------------------------------------------------- knobs


def _knob(widget: Any, key: str, label: str, default: Any, **kw: Any) -> Any:
    """Render a knob whose value survives being hidden (edits live in session_state['edits'])."""
    edits = st.session_state["edits"]
    value = widget(label, value=edits.get(key, default), key=key, **kw)
    if value != default:
        edits[key] = value
    else:
        edits.pop(key, None)
    return value


def _think_default_ms(w: Any) -> float | None:
    """The think time a knob can set (a constant, or an exponential's mean), in ms; None for other shapes."""
    think = w.think_time
    if think is None:
        return 0.0
    if think.dist == "constant" and think.value is not None:
        return float(think.value) * 1e3
    if think.dist == "exponential" and think.mean is not None:
        return float(think.mean) * 1e3
    return None


def _traffic_knobs(base: Any) -> None:
    for w in base.workload:
        if any(
            s.discipline == "priority" or any(v.discipline == "priority" for v in s.versions.values())
            for s in base.services.values()
        ):
            _knob(
                st.number_input,
                f"knob.priority.{w.name}",
                f"{w.name}: priority (higher first at discipline: priority)",
                int(w.priority),
                step=1,
            )
        if w.closed:  # a closed population: users and their think time
            _knob(st.number_input, f"knob.users.{w.name}", f"{w.name}: users", int(w.users), min_value=0, step=10)
            think_ms = _think_default_ms(w)
            if think_ms is None:
                st.caption(f"{w.name}: the think time's shape ({w.think_time.dist}) is edited in the file")
            else:
                _knob(
                    st.number_input,
                    f"knob.think.{w.name}",
                    f"{w.name}: think time (ms" + (", mean)" if think_ms and w.think_time.dist != "constant" else ")"),
                    think_ms,
                    min_value=0.0,
                    step=100.0,
                )
            continue
        _knob(
            st.number_input,
            f"knob.rate.{w.name}",
            f"{w.name}: rate (requests/s)",
            float(w.rate),
            min_value=0.1,
            step=50.0,
        )
        prof = ", ".join(f"{p.at:g}s: {p.rate:g}/s" for p in w.profile)
        _knob(
            st.text_input,
            f"knob.profile.{w.name}",
            f"{w.name}: rate changes (at: rate, ...)",
            prof,
            help="e.g. `20s: 600/s, 25s: 300/s` (times from the start, warm-up included)",
        )


def _service_knobs(base: Any) -> None:
    svc_name = st.selectbox("Service", list(base.services), key="knob_pick.service")
    svc = base.services[svc_name]
    if svc.placement:
        for zone, n in svc.placement.items():
            _knob(
                st.number_input, f"knob.replicas.{svc_name}.{zone}", f"replicas in {zone}", int(n), min_value=0, step=1
            )
    else:
        _knob(st.number_input, f"knob.replicas.{svc_name}", "replicas", int(svc.replicas or 1), min_value=0, step=1)
    _knob(
        st.number_input,
        f"knob.concurrency.{svc_name}",
        "concurrency per replica",
        int(svc.concurrency or 1),
        min_value=1,
        step=1,
    )
    _discipline_knob(svc_name, svc.discipline or "fifo")
    if st.session_state["edits"].get(f"knob.discipline.{svc_name}", svc.discipline) == "processor_sharing":
        _knob(
            st.number_input,
            f"knob.cores.{svc_name}",
            "cores the working requests share",
            float(svc.cores or 1.0),
            min_value=0.1,
            step=1.0,
        )


def _discipline_knob(svc: str, default: str) -> None:
    edits = st.session_state["edits"]
    key = f"knob.discipline.{svc}"
    current = edits.get(key, default)
    value = st.selectbox(
        "discipline", DISCIPLINES, index=DISCIPLINES.index(current), key=key, help="docs/scenario.md, discipline"
    )
    if value != default:
        edits[key] = value
    else:
        edits.pop(key, None)


def _policy_knobs(base: Any) -> None:
    svc = st.selectbox("Calls to service", list(base.services), key="knob_pick.policy")
    st.caption(f"Defaults shown are the effective values ({base.mesh.defaults or 'no'} mesh preset)")
    pol = meshsim.resolve_policy(base, svc)

    def ms(s):
        return float(round(s * 1e3, 3)) if s else 0.0

    _knob(st.number_input, f"knob.timeout.{svc}", "timeout (ms, 0 = none)", ms(pol.timeout_s), min_value=0.0, step=50.0)
    _knob(
        st.number_input,
        f"knob.retries.{svc}",
        "retries (after the first try)",
        int(pol.retry_attempts),
        min_value=0,
        max_value=10,
        step=1,
    )
    _knob(
        st.number_input,
        f"knob.per_try.{svc}",
        "per-try timeout (ms, 0 = none)",
        ms(pol.per_try_timeout_s),
        min_value=0.0,
        step=25.0,
    )
    _knob(
        st.number_input,
        f"knob.backoff.{svc}",
        "retry back-off base (ms)",
        ms(pol.backoff_base_s),
        min_value=0.0,
        step=5.0,
    )
    budget = (
        (pol.budget_ratio * 100 if pol.budget_kind == "linkerd" else pol.budget_percent) if pol.budget_kind else 0.0
    )
    _knob(
        st.number_input,
        f"knob.budget.{svc}",
        "retry budget (% of requests, 0 = none)",
        float(budget),
        min_value=0.0,
        max_value=100.0,
        step=5.0,
    )
    _lb_knob(svc, pol.load_balancer.kind)
    c5 = pol.outlier.consecutive_5xx if pol.outlier else 0
    _knob(
        st.number_input,
        f"knob.outlier.{svc}",
        "outlier detection: eject after N 5xx (0 = off)",
        int(c5),
        min_value=0,
        step=1,
    )


def _lb_knob(svc: str, default: str) -> None:
    edits = st.session_state["edits"]
    key = f"knob.lb.{svc}"
    current = edits.get(key, default)
    value = st.selectbox("load balancer", BALANCERS, index=BALANCERS.index(current), key=key)
    if value != default:
        edits[key] = value
    else:
        edits.pop(key, None)


def _canary_knobs(base: Any) -> None:
    multi = [n for n, s in base.services.items() if len(s.versions) >= 2]
    if not multi:
        st.caption("No service has two versions (services.<name>.versions) to split traffic between.")
        return
    for name in multi:
        versions = list(base.services[name].versions)
        split = (base.policies[name].split if name in base.policies else None) or {}
        total = sum(split.values()) or 1.0
        if not split:
            st.caption(
                f"{name}: no split in the file, so every replica of every version takes traffic; "
                f"a slider sets policies.{name}.split ({versions[0]} gets the rest)."
            )
        for v in versions[1:]:
            pct = 100.0 * split.get(v, 0.0) / total if split else 0.0
            _knob(
                st.slider,
                f"knob.split.{name}.{v}",
                f"{name}: % of traffic to {v}",
                float(round(pct, 1)),
                min_value=0.0,
                max_value=100.0,
                step=1.0,
            )
    r = base.rollout
    on = _knob(st.checkbox, "knob.rollout.on", "progressive rollout", r is not None)
    if on:
        svc = r.service if r else multi[0]
        vers = list(base.services[svc].versions)
        steps = ", ".join(f"{s:g}" for s in r.steps if isinstance(s, (int, float))) if r else "5, 10, 25, 50, 100"
        _knob(st.text_input, "knob.rollout.steps", "canary weights (%)", steps)
        _knob(
            st.number_input,
            "knob.rollout.interval",
            "interval (s)",
            float(r.interval if r else 10.0),
            min_value=1.0,
            step=5.0,
        )
        _knob(
            st.number_input,
            "knob.rollout.max_failed",
            "failed checks before rollback",
            int(r.max_failed_checks if r else 2),
            min_value=1,
            step=1,
        )
        st.caption(f"{svc}: {r.baseline if r else vers[0]} → {r.canary if r else vers[-1]}")


def _fault_knobs(base: Any) -> None:
    faults = st.session_state["faults"]
    for i, f in enumerate(faults):
        where = f.get("target") or " ↔ ".join(f.get("between") or [])
        cols = st.columns([4, 1])
        cols[0].markdown(f"`{f.get('kind')}` {where} at {f.get('at')} for {f.get('duration', 'ever')}")
        if cols[1].button("✕", key=f"fault.remove.{i}", help="remove this fault"):
            faults.pop(i)
            st.rerun()
    kind = st.selectbox("Add a fault: what", FAULT_KINDS, key="fault.kind")
    locations = sorted({"/".join(z.split("/")[:n]) for z in base.zones() for n in (1, 2, 3)})
    services = list(base.services) + [f"{s}/{v}" for s, svc in base.services.items() for v in svc.versions]
    new: dict[str, Any] = {"kind": kind}
    if kind == "partition":
        a = st.selectbox("between", locations or ["-"], key="fault.between_a")
        b = st.selectbox("and", locations or ["-"], index=min(1, len(locations) - 1), key="fault.between_b")
        new["between"] = [a, b]
    elif kind != "load":
        options = locations if kind == "outage" else services + (locations if kind == "latency" else [])
        new["target"] = st.selectbox("where", options, key="fault.target")
    horizon = base.warmup + st.session_state.get("run.duration", base.duration)
    at = st.number_input(
        "when (s from start)", min_value=0.0, value=float(round(horizon / 3)), step=5.0, key="fault.at"
    )
    dur = st.number_input(
        "how long (s, 0 = until the end)",
        min_value=0.0,
        value=float(round(horizon / 3)),
        step=5.0,
        key="fault.duration",
    )
    new["at"] = f"{at:g}s"
    if dur > 0:
        new["duration"] = f"{dur:g}s"
    if kind == "latency":
        new["add"] = f"{st.number_input('added latency (ms)', min_value=0.0, value=200.0, key='fault.add_ms'):g}ms"
    elif kind == "errors":
        new["rate"] = st.number_input("error rate (0-1)", 0.0, 1.0, 0.5, step=0.05, key="fault.rate")
    elif kind == "crash":
        new["instances"] = int(st.number_input("replicas", 1, 100, 1, key="fault.instances"))
    elif kind in ("degrade", "load"):
        new["factor"] = st.number_input("factor (x)", 0.1, 100.0, 2.0, step=0.5, key="fault.factor")
    if st.button("Add fault", key="fault.add"):
        faults.append(new)
        st.rerun()


# ----------------------------------------------------------------- edits -> scenario dict


def _ms_text(v: float) -> str:
    return f"{v:g}ms"


def _apply_edits(raw: dict[str, Any], base: Any) -> dict[str, Any]:
    """A copy of the file's mapping with every knob edit and the fault list applied."""
    out = copy.deepcopy(raw)
    wl = {w["name"]: w for w in out["workload"]}
    services, policies = out["services"], out.setdefault("policies", {}) or {}
    out["policies"] = policies
    for key, v in st.session_state["edits"].items():
        parts = key.split(".")
        kind, name = parts[1], parts[2] if len(parts) > 2 else ""
        if kind == "rate":
            wl[name]["rate"] = f"{v:g}/s"
        elif kind == "users":
            wl[name]["users"] = int(v)
        elif kind == "priority":
            wl[name]["priority"] = int(v)
        elif kind == "think":
            think = wl[name].get("think_time")
            if isinstance(think, dict) and think.get("dist") == "exponential":
                wl[name]["think_time"] = {**think, "mean": _ms_text(v)}
            else:
                wl[name]["think_time"] = _ms_text(v)
        elif kind == "discipline":
            services[name]["discipline"] = v
        elif kind == "cores":
            services[name]["cores"] = float(v)
        elif kind == "profile":
            steps = []
            for item in filter(None, (s.strip() for s in str(v).split(","))):
                at, _, rate = item.partition(":")
                steps.append({"at": at.strip(), "rate": rate.strip()})
            wl[name]["profile"] = steps
        elif kind == "replicas":
            zone = ".".join(parts[3:])
            if zone:
                services[name]["placement"][zone] = int(v)
            else:
                services[name]["replicas"] = int(v)
        elif kind == "concurrency":
            services[name]["concurrency"] = int(v)
        elif kind in ("timeout", "retries", "per_try", "backoff", "budget", "lb", "outlier"):
            pol = policies.setdefault(name, {}) or {}
            policies[name] = pol
            if kind == "timeout":
                pol["timeout"] = _ms_text(v)
            elif kind == "lb":
                pol["load_balancer"] = v
            elif kind == "budget":
                if v <= 0:
                    pol.pop("retry_budget", None)
                else:
                    kind_b = meshsim.resolve_policy(base, name).budget_kind
                    pol["retry_budget"] = (
                        {"ratio": v / 100, "min_per_second": 10, "ttl": "10s"}
                        if kind_b == "linkerd"
                        else {"budget_percent": float(v)}
                    )
            elif kind == "outlier":
                od = dict(pol.get("outlier_detection") or {})
                if v <= 0:
                    pol.pop("outlier_detection", None)
                else:
                    od["consecutive_5xx"] = int(v)
                    od.setdefault("interval", "10s")
                    od.setdefault("base_ejection_time", "30s")
                    pol["outlier_detection"] = od
            else:
                retries = dict(pol.get("retries") or {})
                if kind == "retries":
                    retries["attempts"] = int(v)
                elif kind == "per_try":
                    retries["per_try_timeout"] = _ms_text(v)
                else:
                    retries["backoff"] = (
                        {**dict(retries.get("backoff") or {}), "base": _ms_text(v)}
                        if isinstance(retries.get("backoff"), dict) or retries.get("backoff") is None
                        else {"base": _ms_text(v)}
                    )
                pol["retries"] = retries
        elif kind == "split":
            versions = list(base.services[name].versions)
            pol = policies.setdefault(name, {}) or {}
            policies[name] = pol
            edits = st.session_state["edits"]
            weights = {}
            for ver in versions[1:]:
                current = (base.policies[name].split or {}) if name in base.policies else {}
                total = sum(current.values()) or 1.0
                weights[ver] = float(edits.get(f"knob.split.{name}.{ver}", 100 * current.get(ver, 0) / total))
            weights[versions[0]] = max(0.0, 100.0 - sum(weights.values()))
            pol["split"] = {ver: weights[ver] for ver in versions}
        elif kind == "rollout":
            _apply_rollout(out, base)
    if (out.get("faults") or []) != st.session_state["faults"]:
        out["faults"] = copy.deepcopy(st.session_state["faults"])
    if not policies:
        out.pop("policies", None)
    return out


def _apply_rollout(out: dict[str, Any], base: Any) -> None:
    edits = st.session_state["edits"]
    on = edits.get("knob.rollout.on", base.rollout is not None)
    if not on:
        out.pop("rollout", None)
        return
    r = dict(out.get("rollout") or {})
    if not r:
        svc = next(n for n, s in base.services.items() if len(s.versions) >= 2)
        vers = list(base.services[svc].versions)
        r = {"service": svc, "baseline": vers[0], "canary": vers[-1], "interval": "10s"}
    if "knob.rollout.steps" in edits:
        r["steps"] = [float(s) for s in str(edits["knob.rollout.steps"]).replace(";", ",").split(",") if s.strip()]
        for flagger_key in ("maxWeight", "stepWeight", "stepWeights", "max_weight", "step_weight", "step_weights"):
            r.pop(flagger_key, None)  # the weights listed by hand replace Flagger's computed ones
    if "knob.rollout.interval" in edits:
        r["interval"] = f"{edits['knob.rollout.interval']:g}s"
    if "knob.rollout.max_failed" in edits:
        r["max_failed_checks"] = int(edits["knob.rollout.max_failed"])
    out["rollout"] = r


# ----------------------------------------------------------------- running


def _with_run_settings(raw: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    out["duration"] = f"{st.session_state['run.duration']:g}s"
    return out


def _cache_key(raw: dict[str, Any], reps: int) -> str:
    return hashlib.sha256(json.dumps([raw, reps], sort_keys=True, default=str).encode()).hexdigest()


def _run(base_raw: dict[str, Any], whatif_raw: dict[str, Any], reps: int) -> None:
    """Simulate what is not cached yet, with one progress bar.

    A new pair runs through ``meshsim.compare`` (common random numbers); when the
    baseline is already cached only the what-if runs, and ``paired_table`` pairs the two
    exactly as ``compare`` does (same seed, same replications).
    """
    cache: dict[str, Any] = st.session_state["cache"]
    kb, kw = _cache_key(base_raw, reps), _cache_key(whatif_raw, reps)
    scenarios = {}
    for label, key, raw in (("baseline", kb, base_raw), ("what-if", kw, whatif_raw)):
        if key in cache or key in scenarios:
            continue
        try:
            scenarios[key] = meshsim.load_scenario(raw)
        except MeshsimInputError as exc:
            st.error(_problem_lines(exc, f"the {label} scenario"), icon="🚫")
            return
    total = sum(s.expected_requests() for s in scenarios.values()) * reps
    if total > MAX_UI_REQUESTS:
        st.error(
            f"This run would simulate about {total:,.0f} requests (the UI stops at {MAX_UI_REQUESTS:,}). "
            "Ask for fewer requests: shorten the duration, lower the rate or the replications.",
            icon="✋",
        )
        return
    bar = st.progress(0.0, text="simulating…")
    jobs = list(scenarios.items())

    def progress(done: int, n: int) -> None:
        bar.progress(min(1.0, done / n), text=f"simulating: {done} of {n} run(s) done")

    try:
        if len(jobs) == 2:
            cmp = compare(jobs[0][1], jobs[1][1], replications=reps, progress=progress)
            cache[kb], cache[kw] = cmp.base, cmp.changed
        elif jobs:
            key, scenario = jobs[0]
            cache[key] = meshsim.simulate(scenario, replications=reps, progress=progress)
    except MeshsimInputError as exc:
        bar.empty()
        st.error(_problem_lines(exc, "the scenario"), icon="🚫")
        return
    bar.progress(1.0, text="done")
    for k in [k for k in cache if k not in (kb, kw)]:
        del cache[k]  # keep memory flat: only the shown pair stays
    table = paired_table(cache[kb], cache[kw]) if kb != kw else None
    st.session_state["last"] = {"baseline": kb, "whatif": kw, "table": table}


# ----------------------------------------------------------------- results


def _fmt_ms(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:,.1f}"


def _delta(d: float | None, fmt: str, tiny: float) -> dict[str, Any]:
    """Return st.metric arguments for a change against the baseline.

    Red when it got worse, a plain "±0" when it rounds to nothing.
    """
    if d is None or math.isnan(d):
        return {}
    if abs(d) < tiny:
        return {"delta": "±0", "delta_color": "off", "delta_arrow": "off"}
    return {"delta": fmt.format(d), "delta_color": "inverse"}


def _headline(data: dict[str, Any], base: dict[str, Any] | None, scenario: Any) -> None:
    for name, w in data["workloads"].items():
        b = base["workloads"].get(name) if base else None
        cols = st.columns(4)
        p99 = w["latency_ms"]["p99"]
        d99 = None if not b or b["latency_ms"]["p99"] is None or p99 is None else p99 - b["latency_ms"]["p99"]
        cols[0].metric(f"{name} p99 (ms)", _fmt_ms(p99), **_delta(d99, "{:+.1f} ms", 0.05))
        err = (w["error_rate"] or 0.0) * 100
        derr = None if not b else err - (b["error_rate"] or 0.0) * 100
        cols[1].metric(f"{name} error rate (%)", f"{err:.3f}", **_delta(derr, "{:+.3f} pp", 0.0005))
        cols[2].metric(f"{name} p50 (ms)", _fmt_ms(w["latency_ms"]["p50"]))
        cols[3].metric(f"{name} throughput (req/s)", f"{w['throughput_rps'] or 0:,.1f}")
    slos = viz.slo_frame(data, scenario)
    if not slos.empty:
        met = int((slos["status"] == "met").sum())
        st.metric("SLOs met", f"{met}/{len(slos)}")
        table = slos[["name", "target", "metric", "value_text", "limit_text", "status"]].rename(
            columns={"value_text": "value", "limit_text": "limit"}
        )
        st.dataframe(table, hide_index=True, key="table.slos")


def _results_view(scenario: Any) -> None:
    last = st.session_state.get("last")
    if not last:
        st.info("Set the knobs in the sidebar, then press **Run simulation**.")
        return
    cache = st.session_state["cache"]
    res, base_res = cache.get(last["whatif"]), cache.get(last["baseline"])
    if res is None:
        return
    same = last["whatif"] == last["baseline"]
    data = res.to_dict()
    base_data = None if same or base_res is None else base_res.to_dict()
    st.subheader("What-if" if base_data else "Results")
    _headline(data, base_data, res.scenario)
    figs = viz.figures(res, data)
    tabs = st.tabs(["Charts", "Baseline vs what-if", "Tables"])
    with tabs[0]:
        for chart, fig in figs.items():
            st.plotly_chart(fig, key=f"chart.{chart}")
    with tabs[1]:
        if base_data is None:
            st.info("The what-if equals the baseline. Change a knob and run again to compare.")
        else:
            table = last["table"]
            st.caption(
                "Same seeds for both (common random numbers). Intervals and significance need 2 or more replications."
            )
            st.dataframe(
                viz.comparison_frame(table),
                hide_index=True,
                key="table.diff",
                column_config={"change_pct": st.column_config.NumberColumn("change %", format="%+.1f%%")},
            )
            st.plotly_chart(viz.compare_bars(table), key="cmp.bars")
            st.plotly_chart(viz.compare_latency(base_res.timeseries(), res.timeseries()), key="cmp.latency")
            base_figs = viz.figures(base_res, base_data)
            for chart in ("latency", "errors", "retries", "graph"):
                left, right = st.columns(2)
                left.caption("baseline")
                left.plotly_chart(base_figs[chart], key=f"cmp.base.{chart}")
                right.caption("what-if")
                right.plotly_chart(figs[chart], key=f"cmp.whatif.{chart}")
    with tabs[2]:
        st.dataframe(viz.workload_frame(data), hide_index=True, key="table.workloads")
        st.dataframe(viz.service_frame(data), hide_index=True, key="table.services")
        st.dataframe(res.edges(), hide_index=True, key="table.edges")
    with st.sidebar:
        st.download_button(
            "Download results (JSON)",
            res.to_json(),
            file_name=f"{scenario.name}-results.json",
            mime="application/json",
            key="dl_json",
        )


# ----------------------------------------------------------------- page


def main() -> None:
    """Draw the what-if page: pick a scenario, change knobs, run and compare with the baseline."""
    st.set_page_config(page_title="meshsim what-if", layout="wide")
    st.title("meshsim what-if")
    st.caption("A discrete-event simulation of a service mesh. Change a knob, run, compare with the baseline.")
    src = _source()
    if src is None:
        return
    loaded = _load(*src)
    if loaded is None:
        return
    base, raw = loaded
    with st.sidebar:
        st.header("Run")
        st.number_input("simulated duration (s, after warm-up)", min_value=1.0, step=10.0, key="run.duration")
        reps = int(st.number_input("replications", min_value=1, max_value=20, value=1, step=1, key="run.replications"))
        st.header("What-if knobs")
        with st.expander("Traffic", expanded=True):
            _traffic_knobs(base)
        with st.expander("Replicas and concurrency"):
            _service_knobs(base)
        with st.expander("Timeouts, retries, balancing"):
            _policy_knobs(base)
        with st.expander("Canary and rollout"):
            _canary_knobs(base)
        with st.expander("Faults"):
            _fault_knobs(base)
    edited = _apply_edits(raw, base)
    n_edits = len(st.session_state["edits"]) + ((edited.get("faults") or []) != (raw.get("faults") or []))
    try:
        meshsim.load_scenario(_with_run_settings(edited))  # about a millisecond: check every edit at once
        invalid = False
    except MeshsimInputError as exc:
        st.error(_problem_lines(exc, "The edited scenario"), icon="🚫")
        invalid = True
    with st.sidebar:
        run = st.button("Run simulation", key="run", type="primary", disabled=invalid)
        c1, c2 = st.columns(2)
        if c1.button(
            "Make baseline", key="pin_baseline", help="use the current knobs as the new baseline", disabled=invalid
        ):
            st.session_state["baseline_raw"] = copy.deepcopy(edited)
        if c2.button("Reset knobs", key="reset"):
            st.session_state["loaded"] = None
            st.rerun()
        st.caption(f"{n_edits} change(s) from {src[2]}")
        st.download_button(
            "Download scenario (YAML)",
            dump_yaml(edited),
            file_name=f"{base.name}-whatif.yaml",
            mime="application/x-yaml",
            key="dl_yaml",
        )
    if run:
        _run(_with_run_settings(st.session_state["baseline_raw"]), _with_run_settings(edited), reps)
    _results_view(base)


main()
