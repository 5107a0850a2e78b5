"""What-if knobs: the few values of a scenario people move first, each tied to one override path.

:func:`whatif_knobs` lists them for a scenario with the values the file gives (policy values
as the mesh preset resolves them, so a knob shows what really runs). :func:`knob_overrides`
turns moved knobs into ``(path, value)`` overrides in the file's own syntax (``750ms``,
``600/s``), which :func:`~meshsim.experiments.apply_overrides` applies like
``meshsim compare --set``. Choices (balancers, fault kinds) come from the scenario schema.
A UI draws one widget per knob and never edits the scenario itself.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from meshsim.experiments._knob import Knob, ms, ms_text, parse_profile, profile_text
from meshsim.scenario import BACKOFF_KINDS, CLIENT_MODES, Fault, LoadBalancerSpec, Scenario, Service, resolve_policy

__all__ = [
    "BALANCERS",
    "FAULT_KINDS",
    "Knob",
    "describe_override",
    "knob_overrides",
    "parse_profile",
    "profile_text",
    "whatif_knobs",
]

#: Load balancers a scenario accepts (``LoadBalancerSpec.kind``).
BALANCERS: tuple[str, ...] = typing.get_args(LoadBalancerSpec.model_fields["kind"].annotation)
#: Server disciplines a service accepts (``Service.discipline``).
DISCIPLINES: tuple[str, ...] = typing.get_args(typing.get_args(Service.model_fields["discipline"].annotation)[0])
#: Fault kinds a scenario accepts (``Fault.kind``).
FAULT_KINDS: tuple[str, ...] = typing.get_args(Fault.model_fields["kind"].annotation)


def _traffic(scenario: Scenario) -> list[Knob]:
    out = []
    prioritised = any(
        s.discipline == "priority" or any(v.discipline == "priority" for v in s.versions.values())
        for s in scenario.services.values()
    )
    for i, w in enumerate(scenario.workload):
        out += _closed(w, i) if w.closed else _open(scenario, w, i)
        if prioritised:
            out.append(
                Knob(
                    f"priority.{w.name}",
                    "traffic",
                    f"{w.name}: priority (higher first at discipline: priority)",
                    "int",
                    int(w.priority),
                    f"workload.{i}.priority",
                    encode=int,
                    step=1,
                )
            )
        out += _client(w, i)
    return out


def _open(scenario: Scenario, w: Any, i: int) -> list[Knob]:
    """An open workload: its rate and rate changes."""
    return [
        Knob(
            f"rate.{w.name}",
            "traffic",
            f"{w.name}: rate (requests/s)",
            "number",
            float(w.rate or 0.0),
            f"workload.{i}.rate",
            encode=lambda v: f"{v:g}/s",
            minimum=0.1,
            step=10.0,
        ),
        Knob(
            f"profile.{w.name}",
            "traffic",
            f"{w.name}: rate changes (time: rate, ...)",
            "text",
            profile_text(scenario, i),
            f"workload.{i}.profile",
            encode=parse_profile,
            help="e.g. `20s: 600/s, 25s: 300/s` (times from the start, warm-up included); empty for none",
        ),
    ]


def _closed(w: Any, i: int) -> list[Knob]:
    """A closed population: how many users, and their think time when it is one number to move."""
    out = [
        Knob(
            f"users.{w.name}",
            "traffic",
            f"{w.name}: users",
            "int",
            int(w.users or 0),
            f"workload.{i}.users",
            encode=int,
            minimum=0,
            step=10,
            help="end users who each wait for an answer, think, and send the next (k6 virtual users)",
        )
    ]
    think = w.think_time
    exponential = think is not None and think.dist == "exponential" and think.mean is not None
    if think is not None and not exponential and not (think.dist == "constant" and think.value is not None):
        return out  # another shape: edited in the file
    think_ms = ms(0.0 if think is None else think.mean if exponential else think.value)

    def encode(v: float) -> Any:
        return {"dist": "exponential", "mean": ms_text(v)} if exponential else ms_text(v)

    mean = " mean" if exponential else ""
    out.append(
        Knob(
            f"think.{w.name}",
            "traffic",
            f"{w.name}: think time (ms{mean})",
            "number",
            think_ms,
            f"workload.{i}.think_time",
            encode=encode,
            minimum=0.0,
            step=100.0,
        )
    )
    return out


def _client(w: Any, index: int) -> list[Knob]:
    """The end users' own retries: how many, the AWS SDK retry mode, the back-off kind."""
    c = w.client
    path = f"workload.{index}.client"
    knobs = [
        Knob(
            f"client_retries.{w.name}",
            "traffic",
            f"{w.name}: client retries",
            "int",
            int(c.max_retries),
            f"{path}.retries",
            encode=int,
            minimum=0,
            maximum=10,
            step=1,
            help="the end user's own retries after the first try (docs/scenario.md, client)",
        ),
        Knob(
            f"client_mode.{w.name}",
            "traffic",
            f"{w.name}: client retry mode",
            "choice",
            c.mode or "none",
            f"{path}.mode",
            encode=lambda v: None if v == "none" else v,
            choices=("none", *CLIENT_MODES),
            help="standard / adaptive: the AWS SDKs' retry quota (and client-side rate limiter)",
        ),
    ]
    if not c.jitter:  # a plain duration with jitter cannot take a back-off block beside it
        family = c.backoff_family()
        base_ms, cap_s = family.base * 1e3, family.cap

        def backoff_block(kind: str) -> dict[str, Any]:
            block: dict[str, Any] = {"kind": kind, "base": f"{base_ms or 100:g}ms"}
            if cap_s is not None:
                block["cap"] = f"{cap_s * 1e3:g}ms"
            return block

        knobs.append(
            Knob(
                f"client_backoff.{w.name}",
                "traffic",
                f"{w.name}: client back-off",
                "choice",
                family.kind,
                f"{path}.backoff",
                encode=backoff_block,
                choices=BACKOFF_KINDS,
                help="full / equal / decorrelated jitter or plain exponential (Brooker 2015), from the file's base",
            )
        )
    return knobs


def _capacity(scenario: Scenario) -> list[Knob]:
    out = []
    for name, svc in scenario.services.items():
        placed = [(v, ver.placement) for v, ver in svc.versions.items() if ver.placement]
        if placed:
            for v, placement in placed:
                for zone, n in placement.items():
                    out.append(
                        Knob(
                            f"replicas.{name}.{v}.{zone}",
                            "capacity",
                            f"{v}: replicas in {zone}",
                            "int",
                            int(n),
                            f"services.{name}.versions.{v}.placement",
                            scope=name,
                            part=zone,
                            minimum=0,
                            step=1,
                        )
                    )
        elif svc.placement:
            for zone, n in svc.placement.items():
                out.append(
                    Knob(
                        f"replicas.{name}.{zone}",
                        "capacity",
                        f"replicas in {zone}",
                        "int",
                        int(n),
                        f"services.{name}.placement",
                        scope=name,
                        part=zone,
                        minimum=0,
                        step=1,
                    )
                )
        else:
            replicas = svc.replicas if svc.replicas is not None else 1
            out.append(
                Knob(
                    f"replicas.{name}",
                    "capacity",
                    "replicas",
                    "int",
                    int(replicas),
                    f"services.{name}.replicas",
                    scope=name,
                    minimum=0,
                    step=1,
                )
            )
        out.append(
            Knob(
                f"concurrency.{name}",
                "capacity",
                "concurrency per replica (workers)",
                "int",
                int(svc.concurrency or 1),
                f"services.{name}.concurrency",
                scope=name,
                minimum=1,
                step=1,
            )
        )
        out.append(
            Knob(
                f"discipline.{name}",
                "capacity",
                "discipline",
                "choice",
                svc.discipline or "fifo",
                f"services.{name}.discipline",
                scope=name,
                choices=DISCIPLINES,
                help="fifo workers, processor_sharing (the working requests share the cores) or priority",
            )
        )
        out.append(
            Knob(
                f"cores.{name}",
                "capacity",
                "cores the working requests share (processor_sharing)",
                "number",
                float(svc.cores or 1.0),
                f"services.{name}.cores",
                scope=name,
                minimum=0.1,
                step=1.0,
            )
        )
    return out


def _policies(scenario: Scenario) -> list[Knob]:
    out = []
    for name in scenario.services:
        pol = resolve_policy(scenario, name)
        file_pol = scenario.policies.get(name)
        base = f"policies.{name}"
        budget = (
            (pol.budget_ratio * 100 if pol.budget_kind == "linkerd" else pol.budget_percent) if pol.budget_kind else 0.0
        )
        linkerd = pol.budget_kind == "linkerd"

        def encode_budget(v: float, linkerd: bool = linkerd) -> Any:
            if v <= 0:
                return None
            return {"ratio": v / 100, "min_per_second": 10, "ttl": "10s"} if linkerd else {"budget_percent": float(v)}

        has_outlier = file_pol is not None and file_pol.outlier_detection is not None
        c5 = pol.outlier.consecutive_5xx if pol.outlier else 0

        def encode_outlier(v: int, has_outlier: bool = has_outlier) -> Any:
            if v <= 0:
                return None
            return (
                int(v) if has_outlier else {"consecutive_5xx": int(v), "interval": "10s", "base_ejection_time": "30s"}
            )

        common: dict[str, Any] = {"group": "policy", "scope": name}
        out += [
            Knob(
                f"timeout.{name}",
                label="route timeout (ms, 0 = none)",
                widget="number",
                value=ms(pol.timeout_s),
                path=f"{base}.timeout",
                encode=ms_text,
                minimum=0.0,
                step=50.0,
                **common,
            ),
            Knob(
                f"retries.{name}",
                label="retries (after the first try)",
                widget="int",
                value=int(pol.retry_attempts),
                path=f"{base}.retries.attempts",
                minimum=0,
                maximum=10,
                step=1,
                **common,
            ),
            Knob(
                f"per_try.{name}",
                label="per-try timeout (ms, 0 = none)",
                widget="number",
                value=ms(pol.per_try_timeout_s),
                path=f"{base}.retries.per_try_timeout",
                encode=lambda v: ms_text(v) if v > 0 else None,
                minimum=0.0,
                step=25.0,
                **common,
            ),
            Knob(
                f"backoff.{name}",
                label="retry back-off base (ms, 0 = none)",
                widget="number",
                value=ms(pol.backoff_base_s),
                path=f"{base}.retries.backoff",
                encode=lambda v: {"base": ms_text(v)} if v > 0 else "none",
                minimum=0.0,
                step=5.0,
                **common,
            ),
            Knob(
                f"budget.{name}",
                label=f"retry budget ({'Linkerd ratio' if linkerd else 'Envoy'}, % of requests; 0 = none)",
                widget="number",
                value=float(budget),
                path=f"{base}.retry_budget",
                encode=encode_budget,
                minimum=0.0,
                maximum=100.0,
                step=5.0,
                **common,
            ),
            Knob(
                f"lb.{name}",
                label="load balancer",
                widget="choice",
                value=str(pol.load_balancer.kind),
                path=f"{base}.load_balancer",
                choices=BALANCERS,
                **common,
            ),
            Knob(
                f"outlier.{name}",
                label="outlier detection: eject after N consecutive 5xx (0 = off)",
                widget="int",
                value=int(c5),
                path=f"{base}.outlier_detection" + (".consecutive_5xx" if has_outlier else ""),
                encode=encode_outlier,
                minimum=0,
                step=1,
                **common,
            ),
        ]
    return out


def _canary(scenario: Scenario) -> list[Knob]:
    out = []
    for name, svc in scenario.services.items():
        versions = list(svc.versions)
        if len(versions) < 2:
            continue
        split = (scenario.policies[name].split if name in scenario.policies else None) or {}
        total = sum(split.values()) or 1.0
        for v in versions[1:]:
            out.append(
                Knob(
                    f"split.{name}.{v}",
                    "canary",
                    f"{name}: % of traffic to {v}",
                    "percent",
                    float(round(100.0 * split.get(v, 0.0) / total, 1)) if split else 0.0,
                    f"policies.{name}.split",
                    encode=float,
                    part=v,
                    rest=versions[0],
                    minimum=0.0,
                    maximum=100.0,
                    step=1.0,
                    help=""
                    if split
                    else f"no split in the file: every version takes traffic by its replicas; "
                    f"moving this sets policies.{name}.split ({versions[0]} gets the rest)",
                )
            )
    multi = [n for n, s in scenario.services.items() if len(s.versions) >= 2]
    r = scenario.rollout
    if r is None and not multi:
        return out
    out.append(Knob("rollout.on", "canary", "progressive rollout", "toggle", r is not None, "rollout"))
    if r is not None and any(not isinstance(s, (int, float)) for s in r.steps):
        return out  # Argo setWeight/pause steps: edit them in the file
    steps = ", ".join(f"{s:g}" for s in r.steps if isinstance(s, (int, float))) if r else "5, 10, 25, 50, 100"
    out += [
        Knob(
            "rollout.steps",
            "canary",
            "canary weights (%)",
            "text",
            steps,
            "rollout.steps",
            encode=lambda t: [float(x) for x in str(t).replace(";", ",").split(",") if x.strip()],
        ),
        Knob(
            "rollout.interval",
            "canary",
            "interval between steps (s)",
            "number",
            float(r.interval if r else 10.0),
            "rollout.interval",
            encode=lambda v: f"{v:g}s",
            minimum=1.0,
            step=5.0,
        ),
        Knob(
            "rollout.max_failed",
            "canary",
            "failed checks before rollback",
            "int",
            int(r.max_failed_checks if r else 2),
            "rollout.max_failed_checks",
            minimum=1,
            step=1,
        ),
    ]
    return out


def whatif_knobs(scenario: Scenario, duration_s: float | None = None) -> list[Knob]:
    """Every what-if knob of ``scenario``, run length first.

    ``duration_s`` is the run length to start at when it differs from the file's (a UI
    caps a long file); the knob still counts as moved until it equals the file's value.
    """
    run = Knob(
        "duration",
        "run",
        "simulated duration (s, after warm-up)",
        "number",
        float(duration_s if duration_s is not None else scenario.duration),
        "duration",
        encode=lambda v: f"{v:g}s",
        minimum=1.0,
        step=10.0,
        file_value=float(scenario.duration),
    )
    return [run, *_traffic(scenario), *_capacity(scenario), *_policies(scenario), *_canary(scenario)]


def _rollout_block(scenario: Scenario, knobs: Mapping[str, Knob], values: Mapping[str, Any]) -> dict[str, Any]:
    svc = next(n for n, s in scenario.services.items() if len(s.versions) >= 2)
    versions = list(scenario.services[svc].versions)
    block: dict[str, Any] = {"service": svc, "baseline": versions[0], "canary": versions[-1]}
    for key, field_name in (
        ("rollout.steps", "steps"),
        ("rollout.interval", "interval"),
        ("rollout.max_failed", "max_failed_checks"),
    ):
        if key in knobs:
            block[field_name] = knobs[key].encode(values.get(key, knobs[key].value))
    return block


def knob_overrides(scenario: Scenario, knobs: Sequence[Knob], values: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(path, value)`` overrides for the knobs whose value moved from the file's, in knob order.

    ``values`` maps knob keys to widget values; a missing key means the knob did not move.
    """
    by_key = {k.key: k for k in knobs}
    current = {k.key: values.get(k.key, k.value) for k in knobs}
    rollout_on = current.get("rollout.on", scenario.rollout is not None)
    out: list[tuple[str, Any]] = []
    done: set[str] = set()
    for k in knobs:
        if k.path in done:
            continue
        if k.key.startswith("rollout."):
            done.add(k.path)
            if k.key == "rollout.on" and k.moved(rollout_on):
                out.append(("rollout", _rollout_block(scenario, by_key, current) if rollout_on else None))
            elif k.key != "rollout.on" and rollout_on and scenario.rollout is not None and k.moved(current[k.key]):
                out.append((k.path, k.encode(current[k.key])))
            continue
        group = [g for g in knobs if g.path == k.path] if k.part is not None else [k]
        done.add(k.path)
        if not any(g.moved(current[g.key]) for g in group):
            continue
        if k.part is None:
            out.append((k.path, k.encode(current[k.key])))
            continue
        mapping = {str(g.part): g.encode(current[g.key]) for g in group}
        if k.rest is not None:
            mapping = {k.rest: max(0.0, 100.0 - sum(mapping.values())), **mapping}
        out.append((k.path, mapping))
    return out


def describe_override(path: str, value: Any) -> str:
    """One override as ``meshsim compare --set`` takes it: ``policies.cart.timeout=750ms``."""
    if value is None:
        return f"{path}=null"
    if isinstance(value, (dict, list)):
        return f"{path}={json.dumps(value)}"  # JSON is YAML flow style, which --set reads
    return f"{path}={value}"
