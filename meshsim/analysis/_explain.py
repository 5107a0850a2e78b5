"""The effective policy of every edge, with the line, import or preset that set each value.

Two views of :func:`~meshsim.scenario.resolve_policy`: :func:`explain_rows`, every field
with its raw value (seconds, ratios; for ``meshsim explain --json``), and
:func:`explain_table` / :func:`policy_summary`, the settings an SRE reads (``300 ms``,
``2 retries on 5xx``) with where each came from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, is_dataclass
from typing import Any

from meshsim.errors import MeshsimInputError, read_input_text
from meshsim.meshes import preset
from meshsim.scenario import EffectivePolicy, Scenario, resolve_policy
from meshsim.yamlio import locate, read_yaml

__all__ = ["callers_of", "explain_rows", "explain_table", "policy_summary", "setting_rows", "SUMMARY_COLUMNS"]

#: Columns of :func:`policy_summary`, after ``service``, ``version`` and ``callers``.
SUMMARY_COLUMNS = ("timeout", "retries", "retry budget", "load balancer", "circuit breaker", "outlier detection")


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


def _targets(scenario: Scenario, only: str | None) -> list[tuple[str, str | None]]:
    """(service, version) pairs to explain: every called service, and each version with its own block."""
    if only is not None and only not in scenario.services:
        known = ", ".join(scenario.services)
        raise MeshsimInputError(f"no service '{only}' in the scenario; there are: {known}", field="--service")
    callers = callers_of(scenario)
    out: list[tuple[str, str | None]] = []
    for name in scenario.services:
        if (only and name != only) or (not callers[name] and not only):
            continue
        out.append((name, None))
        pol = scenario.policies.get(name)
        out += [(name, v) for v in (pol.versions if pol is not None else {})]
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_none=True)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def explain_rows(scenario: Scenario, only: str | None = None) -> list[dict[str, Any]]:
    """Rows (service, version, callers, field, value, origin) for every called service.

    Values are plain JSON (times in seconds, as the field names say); ``origin`` is the
    file path (``policies.cart.timeout``), the import (``file:line (imported)``) or preset.
    """
    callers = callers_of(scenario)
    rows: list[dict[str, Any]] = []
    for name, version in _targets(scenario, only):
        if version is None:
            rows.extend(_client_rows(scenario, name, callers[name]))
        eff = resolve_policy(scenario, name, version)
        for field, value, origin in eff.as_rows():
            rows.append(
                {
                    "service": name,
                    "version": version,
                    "callers": callers[name],
                    "field": field,
                    "value": _plain(value),
                    "origin": origin,
                }
            )
    return rows


# ----- as people read them


def _dur(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "none"
    if seconds >= 1:
        return f"{seconds:g} s"
    return f"{seconds * 1e3:g} ms"


def _timeout(p: EffectivePolicy) -> str:
    return _dur(p.timeout_s) if p.timeout_s else "none"


def _retries(p: EffectivePolicy) -> str:
    if p.retry_attempts <= 0:
        return "none"
    on = ", ".join(sorted(p.retry_on | {str(c) for c in p.retriable_status_codes}))
    per_try = f", {_dur(p.per_try_timeout_s)} per try" if p.per_try_timeout_s else ""
    return f"{p.retry_attempts}{per_try}, on {on or 'nothing'}"


def _backoff(p: EffectivePolicy) -> str:
    if p.backoff_base_s is None:
        return "none"
    return f"{_dur(p.backoff_base_s)} base, up to {_dur(p.backoff_max_s)} (jittered)"


def _budget(p: EffectivePolicy) -> str:
    if p.budget_kind == "envoy":
        return f"{p.budget_percent:g}% of active requests (at least {p.budget_min_concurrency})"
    if p.budget_kind == "linkerd":
        return f"{p.budget_ratio:g} per request, {p.budget_min_per_second:g}/s floor, {_dur(p.budget_ttl_s)} window"
    return "none"


def _balancer(p: EffectivePolicy) -> str:
    lb = p.load_balancer
    if lb.kind == "least_request":
        return f"least_request (P2C of {lb.choice_count})"
    if lb.kind == "ring_hash":
        return f"ring_hash on {lb.key}"
    if lb.kind == "ewma":
        return f"ewma (decay {_dur(lb.decay)})"
    return str(lb.kind)


_UNLIMITED = 2**31 - 1  # Envoy and Istio write "no limit" as 2^32 - 1 (or 2^31 - 1)


def _pool(p: EffectivePolicy) -> str:
    limits = [
        f"{label} {value:,}"
        for label, value in (
            ("connections", p.max_connections),
            ("pending", p.max_pending),
            ("requests", p.max_requests),
            ("retries", p.max_retries),
        )
        if value is not None and value < _UNLIMITED
    ]
    return ", ".join(limits) or "none"


def _retries_short(p: EffectivePolicy) -> str:
    if p.retry_attempts <= 0:
        return "none"
    return f"{p.retry_attempts}" + (f", {_dur(p.per_try_timeout_s)} per try" if p.per_try_timeout_s else "")


def _outlier(p: EffectivePolicy) -> str:
    o = p.outlier
    if o is None:
        return "off"
    return (
        f"eject after {o.consecutive_5xx} consecutive 5xx for {_dur(o.base_ejection_time)}+ "
        f"(every {_dur(o.interval)}, at most {o.max_ejection_percent:g}% of endpoints)"
    )


def _block_text(value: Any) -> str:
    if value is None:
        return "none"
    data = _plain(value)
    if isinstance(data, dict):
        return ", ".join(f"{k} {v}" for k, v in data.items())
    return str(data)


# (setting, how to print it, the EffectivePolicy field whose origin it shows)
_SETTINGS = (
    ("route timeout", _timeout, "timeout_s"),
    ("retries", _retries, "retry_attempts"),
    ("retry back-off", _backoff, "backoff_base_s"),
    ("retry budget", _budget, "budget_kind"),
    ("hedging", lambda p: _block_text(p.hedging), "hedging"),
    ("load balancer", _balancer, "load_balancer"),
    ("connection pool", _pool, "max_requests"),
    ("connect timeout", lambda p: _dur(p.connect_timeout_s), "connect_timeout_s"),
    ("outlier detection", _outlier, "outlier"),
    ("panic threshold", lambda p: f"{p.panic_percent:g}%" + (" (off)" * (p.panic_percent == 0)), "panic_percent"),
    ("failure accrual", lambda p: _block_text(p.failure_accrual), "failure_accrual"),
    ("circuit breaker", lambda p: _block_text(p.circuit_breaker), "circuit_breaker"),
    ("rate limit", lambda p: _block_text(p.rate_limit), "rate_limit"),
    ("fault injection", lambda p: _block_text(p.fault), "fault"),
    ("locality", lambda p: _block_text(p.locality), "locality"),
    ("mirror", lambda p: _block_text(p.mirror), "mirror"),
)


class _Lines:
    """Adds ``file:line`` to origins that name a field of the scenario file (read once)."""

    def __init__(self, scenario: Scenario) -> None:
        self.file = scenario.source_file if scenario.source_file not in (None, "<string>") else None
        self.tree: Any = None
        if self.file:
            try:
                self.tree = read_yaml(read_input_text(self.file), self.file)
            except MeshsimInputError:
                self.tree = None

    def __call__(self, origin: str) -> str:
        path = origin.split(" ", 1)[0]
        if self.tree is None or not path.startswith(("policies.", "workload.")) or "(" in origin:
            return origin
        line = locate(self.tree, tuple(int(p) if p.isdigit() else p for p in path.split(".")))[0]
        return f"{origin} ({self.file}:{line})" if line else origin


def explain_table(scenario: Scenario, service: str, version: str | None = None) -> list[dict[str, str]]:
    """The settings of calls to one service as people read them: ``setting``, ``value``, ``set_by``."""
    eff = resolve_policy(scenario, service, version)
    where = _Lines(scenario)
    rows = [
        {"setting": setting, "value": show(eff), "set_by": where(eff.origins.get(field, ""))}
        for setting, show, field in _SETTINGS
    ]
    if version is None:  # the clients retrying around these calls: the callers' SDK, the end users
        for row in _client_rows(scenario, service, []):
            sdk = row["field"] == "sdk_client"
            who = "callers' SDK retries" if sdk else f"end users' retries ({row['field'][8:-1]})"
            rows.append({"setting": who, "value": _client_text(row["value"]), "set_by": where(row["origin"])})
    return rows


def _client_text(client: dict[str, Any]) -> str:
    """A client's effective retries (:meth:`ClientSpec.effective`) in one line."""
    if not client["retries"]:
        return "none"
    backoff = client["backoff"]
    wait = "no wait" if backoff["kind"] == "none" or not backoff["base_s"] else f"{backoff['kind']} back-off"
    if wait != "no wait":
        wait += f" from {_dur(backoff['base_s'])}" + (f" up to {_dur(backoff['cap_s'])}" if backoff["cap_s"] else "")
    parts = [f"{client['retries']} on {client['retry_on']}", wait]
    if "mode" in client:
        quota = client["retry_quota"]
        parts.append(f"{client['mode']} mode: retry quota {quota['tokens']} tokens, {quota['cost']} per retry")
    for key, label in (("retry_throttling", "throttling"), ("retry_breaker", "breaker"), ("retry_bucket", "bucket")):
        if key in client:
            parts.append(f"{label} " + ", ".join(f"{k} {v:g}" for k, v in client[key].items()))
    if client.get("timeout_s"):
        parts.append(f"timeout {_dur(client['timeout_s'])}")
    return "; ".join(parts)


def policy_summary(scenario: Scenario, only: str | None = None) -> list[dict[str, Any]]:
    """One row per called service (and version with its own block): the settings that matter most.

    Keys ``service``, ``version``, ``callers``, then :data:`SUMMARY_COLUMNS` as text, and
    ``from_file``: the settings the file (or an import) set, the rest being the preset's.
    """
    callers = callers_of(scenario)
    shown = {
        "timeout": ("timeout_s", _timeout),
        "retries": ("retry_attempts", _retries_short),
        "retry budget": ("budget_kind", _budget),
        "load balancer": ("load_balancer", lambda p: str(p.load_balancer.kind)),
        "circuit breaker": ("max_requests", _pool),
        "outlier detection": ("outlier", lambda p: "off" if p.outlier is None else f"{p.outlier.consecutive_5xx}x 5xx"),
    }
    preset_label = preset(scenario.mesh.defaults).source.split(" (", 1)[0]  # "istio preset", "no preset"
    rows = []
    for name, version in _targets(scenario, only):
        eff = resolve_policy(scenario, name, version)
        row: dict[str, Any] = {"service": name, "version": version, "callers": callers[name]}
        for column, (_, show) in shown.items():
            row[column] = show(eff)
        row["from_file"] = [
            setting for setting, _, field in _SETTINGS if not eff.origins.get(field, "").startswith(preset_label)
        ]
        rows.append(row)
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
