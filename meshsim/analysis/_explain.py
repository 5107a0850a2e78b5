"""The effective policy of every edge, with the line, import or preset that set each value."""

from __future__ import annotations

from typing import Any

from meshsim.scenario import Scenario, resolve_policy

__all__ = ["explain_rows", "callers_of"]


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
        rows.extend(_client_rows(scenario, name, callers[name]))
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


def _client_rows(scenario: Scenario, name: str, callers: list[str]) -> list[dict[str, Any]]:
    """Rows for the clients that retry around calls to ``name``: the callers' SDK and end users."""
    rows: list[dict[str, Any]] = []
    pol = scenario.policies.get(name)
    if pol is not None and pol.client is not None:
        rows.append(
            {
                "service": name,
                "version": None,
                "callers": callers,
                "field": "sdk_client",
                "value": pol.client.effective(),
                "origin": f"policies.{name}.client",
            }
        )
    for i, w in enumerate(scenario.workload):
        if w.entry == name and w.client.model_fields_set:
            rows.append(
                {
                    "service": name,
                    "version": None,
                    "callers": callers,
                    "field": f"client (workload:{w.name})",
                    "value": w.client.effective(),
                    "origin": f"workload.{i}.client",
                }
            )
    return rows
