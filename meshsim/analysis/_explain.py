"""The effective policy of every edge, with the line, import or preset that set each value."""

from __future__ import annotations

from typing import Any

from meshsim.scenario import Scenario, resolve_policy

__all__ = ["explain_rows", "callers_of", "setting_rows"]


def callers_of(scenario: Scenario) -> dict[str, list[str]]:
    """Service -> the services and workloads that call it."""
    callers: dict[str, list[str]] = {name: [] for name in scenario.services}
    for w in scenario.workload:
        callers[w.entry].append(f"workload:{w.name}")
    for name, _svc in scenario.services.items():
        for _, c in scenario.written_calls(name):
            if name not in callers[c.to]:
                callers[c.to].append(name)
    return callers


def explain_rows(scenario: Scenario, only: str | None = None) -> list[dict[str, Any]]:
    """Rows (service, version, callers, field, value, origin) for every called service."""
    callers = callers_of(scenario)
    rows: list[dict[str, Any]] = []
    for name, _svc in scenario.services.items():
        if only and name != only:
            continue
        if not callers[name] and not only:
            continue
        versions: list[str | None] = [None]
        pol = scenario.policies.get(name)
        if pol is not None and pol.versions:
            versions += list(pol.versions)
        for v in versions:
            eff = resolve_policy(scenario, name, v)
            for field, value, origin in eff.as_rows():
                rows.append(
                    {
                        "service": name,
                        "version": v,
                        "callers": callers[name],
                        "field": field,
                        "value": value,
                        "origin": origin,
                    }
                )
    return rows


def _setting(
    rows: list[dict[str, Any]], section: str, field: str, value: Any, path: str, given: bool, default: str
) -> None:
    # the keys of an edge row too (service: the service the setting concerns), plus the section
    service, _, version = section.split(" ", 1)[1].partition("/")
    rows.append(
        {
            "section": section,
            "service": service,
            "version": version or None,
            "callers": [],
            "field": field,
            "value": value,
            "origin": path if given else default,
        }
    )


def setting_rows(scenario: Scenario, only: str | None = None) -> list[dict[str, Any]]:
    """Rows (section, field, value, origin) of the servers' disciplines, the workloads and the rollout's weights.

    ``origin`` is the field's path in the scenario when it was written, else the default's
    place in docs/scenario.md. ``only`` keeps the service of that name (and its workloads).
    """
    rows: list[dict[str, Any]] = []
    for name, svc in scenario.services.items():
        if only and name != only:
            continue
        variants: list[tuple[str, Any, str]] = [(f"service {name}", svc, f"services.{name}")]
        variants += [(f"service {name}/{v}", ver, f"services.{name}.versions.{v}") for v, ver in svc.versions.items()]
        if all(fields.discipline is None and fields.cores is None for _, fields, _ in variants):
            continue  # FIFO workers everywhere, as by default: nothing to explain
        for section, fields, path in variants:
            for field, default, default_origin in (
                ("discipline", "fifo", "default (docs/scenario.md)"),
                ("cores", 1.0, "default 1 (docs/scenario.md)"),
            ):
                own, inherited = getattr(fields, field), getattr(svc, field)
                value = own if own is not None else (inherited if inherited is not None else default)
                origin = f"{path}.{field}" if own is not None else f"services.{name}.{field}"
                if own is None and inherited is None:
                    origin = default_origin
                if field == "cores" and (fields.discipline or svc.discipline) != "processor_sharing":
                    continue
                _setting(rows, section, field, value, origin, True, "")
    for i, w in enumerate(scenario.workload):
        if only and w.entry != only:
            continue
        section, path = f"workload {w.name}", f"workload.{i}"  # its rows' service: the workload's name
        if w.closed:
            _setting(rows, section, "users", w.users, f"{path}.users", True, "")
            think = w.think_time.model_dump(exclude_none=True) if w.think_time is not None else 0.0
            _setting(
                rows,
                section,
                "think_time",
                think,
                f"{path}.think_time",
                w.think_time is not None,
                "default 0 (docs/scenario.md)",
            )
            if w.stages:
                stages = [(s.duration, s.target) for s in w.stages]
                _setting(rows, section, "stages (duration s, users)", stages, f"{path}.stages", True, "")
        else:
            _setting(rows, section, "rate_per_s", w.rate, f"{path}.rate", True, "")
            _setting(
                rows,
                section,
                "arrival",
                w.arrival,
                f"{path}.arrival",
                "arrival" in w.model_fields_set,
                "default (docs/scenario.md)",
            )
    r = scenario.rollout
    if r is not None and r.style == "flagger" and (not only or r.service == only):
        computed = [r.max_weight, r.step_weight, r.step_weights] != [None, None, None]
        origin = "computed from maxWeight/stepWeight/stepWeights as Flagger does (docs/references.md §14)"
        weights = [float(s) for s in r.steps if isinstance(s, (int, float))]
        _setting(rows, f"rollout {r.service}", "weights", weights, "rollout.steps", not computed, origin)
    return rows
