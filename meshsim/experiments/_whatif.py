"""What-if comparisons: the same scenario before and after a change, with common random numbers.

Both scenarios run with the *base* seed, so replication ``i`` of each draws arrivals,
service times and routing from identically named streams: the change, not luck, is what
differs. Every workload and service metric is then compared replication by replication
(paired differences), with a Student-t interval on the mean difference.

``apply_overrides(source, ["policies.cart.retries.attempts=0"])`` changes a scenario the way
``meshsim compare BASE --set ...`` does: dotted paths into the scenario file, list items by
index or by ``name`` (``workload.browse.rate=900/s``), values read as YAML (``0``, ``true``,
``250ms``, ``{v1: 90, v2: 10}``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from meshsim._types import Progress
from meshsim.errors import InputProblem, MeshsimInputError, read_input_text
from meshsim.results import METRIC_UNITS, Results
from meshsim.scenario import Scenario, load_scenario, scenario_from_dict
from meshsim.stats import mean_ci, paired_p_value
from meshsim.yamlio import read_yaml

__all__ = [
    "compare",
    "Comparison",
    "apply_overrides",
    "overridden_mapping",
    "parse_override",
    "parse_value",
    "paired_table",
    "metric_unit",
    "METRIC_UNITS",
    "MIN_EFFECT",
]

ScenarioSource = Scenario | str | Path | dict[str, Any]


def metric_unit(metric: str) -> str:
    """Unit of a metrics_table metric: ``ms``, ``s``, ``ratio``, ``1/s``, ``USD``, ``x``, ``count``."""
    if metric in METRIC_UNITS:
        return METRIC_UNITS[metric]
    if metric.endswith("_ms"):
        return "ms"
    return "s" if metric.endswith("_s") else ""


_MISSING = object()
MIN_EFFECT = 0.001  # relative change below which a difference is not called significant


# ----- overrides -----
def parse_value(text: str) -> Any:
    """Read an override's value as YAML 1.2: ``0`` -> 0, ``true`` -> True, ``250ms`` -> "250ms"."""
    try:
        return read_yaml(text)
    except MeshsimInputError as exc:
        reason = exc.problems[0].message if exc.problems else "invalid"
        raise MeshsimInputError(f"the value '{text}' is not valid YAML ({reason})", field="--set") from None


def parse_override(expr: str) -> tuple[str, Any]:
    """``"policies.cart.retries.attempts=0"`` -> ``("policies.cart.retries.attempts", 0)``."""
    path, sep, raw = expr.partition("=")
    path = path.strip()
    if not sep or not path:
        raise MeshsimInputError(f"'{expr}': write path=value, e.g. policies.cart.retries.attempts=0", field="--set")
    if any(not part for part in path.split(".")):
        raise MeshsimInputError(f"'{expr}': empty part in the path '{path}'", field="--set")
    return path, parse_value(raw.strip())


def _child(node: Any, key: str, where: str, create: bool) -> Any:
    """Step from ``node`` into ``key`` (a mapping key, a list index or a list item's name)."""
    if isinstance(node, dict):
        for k in (key, _int_or_none(key)):
            if k is not None and k in node:
                if node[k] is None and create:
                    node[k] = {}
                return node[k]
        if not create:
            return _MISSING
        node[key] = {}
        return node[key]
    if isinstance(node, list):
        idx = _int_or_none(key)
        if idx is not None:
            if -len(node) <= idx < len(node):
                return node[idx]
            raise MeshsimInputError(f"{where}: index {idx} is out of range ({len(node)} item(s))")
        named = [item for item in node if isinstance(item, dict) and item.get("name") == key]
        if named:
            return named[0]
        names = [str(item["name"]) for item in node if isinstance(item, dict) and "name" in item]
        hint = f"; items: {', '.join(names)}" if names else "; give an index (0, 1, ...)"
        raise MeshsimInputError(f"{where}: no item named '{key}'{hint}")
    kind = "empty" if node is None else type(node).__name__
    raise MeshsimInputError(f"{where}: cannot go into a {kind} value")


def _int_or_none(key: str) -> int | None:
    try:
        return int(key)
    except ValueError:
        return None


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = data
    for i, key in enumerate(parts[:-1]):
        node = _child(node, key, ".".join(parts[: i + 1]), create=True)
    last = parts[-1]
    if isinstance(node, dict):
        k: Any = last
        if last not in node and _int_or_none(last) in node:
            k = _int_or_none(last)
        node[k] = value
    elif isinstance(node, list):
        idx = _int_or_none(last)
        if idx is None or not -len(node) <= idx < len(node):
            raise MeshsimInputError(f"{path}: a list item is set by its index (0 to {len(node) - 1})")
        node[idx] = value
    else:
        parent = ".".join(parts[:-1]) or path
        raise MeshsimInputError(f"{parent} is a single value ({node!r}), so {path} cannot be set")


def _raw(source: ScenarioSource, import_root: str | Path | None = None) -> tuple[dict[str, Any], str | None, Scenario]:
    """(plain mapping, file for relative paths, validated scenario) of any scenario source."""
    if isinstance(source, dict):
        return copy.deepcopy(source), None, load_scenario(source, import_root=import_root)
    if isinstance(source, Scenario):
        file = source.source_file
        if file and Path(file).is_file():
            again = load_scenario(Path(file), import_root=import_root)
            if again.model_dump() == source.model_dump():
                return read_yaml(read_input_text(file), file), file, source
        data = source.model_dump(mode="json", by_alias=True, exclude_unset=True)
        try:
            scenario_from_dict(data, file=file, import_root=import_root)
        except MeshsimInputError:
            raise MeshsimInputError(
                "this in-memory scenario cannot be changed by path; pass its file or a dict instead"
            ) from None
        return data, file, source
    scenario = load_scenario(source, import_root=import_root)  # errors with file, line and field come from here
    if isinstance(source, Path) or scenario.source_file not in (None, "<string>"):
        text = read_input_text(str(scenario.source_file))
        origin: str | None = str(scenario.source_file)
    else:
        text, origin = str(source), None
    return read_yaml(text, origin), origin, scenario


def _parsed(item: str | tuple[str, Any]) -> tuple[str, Any, str]:
    """(path, value, the override as written) of ``"path=value"`` or a ``(path, value)`` pair."""
    if isinstance(item, tuple):
        path, value = item
        return path, value, f"{path}={value}"
    path, value = parse_override(item)
    return path, value, item


def overridden_mapping(
    source: ScenarioSource,
    overrides: Sequence[str | tuple[str, Any]],
    label: str = "--set",
    *,
    import_root: str | Path | None = None,
) -> dict[str, Any]:
    """The scenario's file as a plain mapping with the overrides applied, ready to save as YAML.

    The same edits :func:`apply_overrides` makes (it validates them; this only applies
    them, so dump the result with :func:`meshsim.yamlio.dump_yaml` after validating).
    """
    data, _, _ = _raw(source, import_root)
    for item in overrides:
        _apply(data, item, label)
    return data


def _apply(data: dict[str, Any], item: str | tuple[str, Any], label: str) -> str:
    """Set one override in ``data`` (an error names it after ``label``); returns its text."""
    path, value, expr = _parsed(item)
    try:
        _set(data, path, copy.deepcopy(value))
    except MeshsimInputError as exc:
        raise MeshsimInputError(f"{label} {expr}: {exc.render()}", field=None) from None
    return expr


def apply_overrides(
    source: ScenarioSource,
    overrides: Sequence[str | tuple[str, Any]],
    label: str = "--set",
    *,
    import_root: str | Path | None = None,
) -> Scenario:
    """Return the scenario with ``path=value`` overrides applied (raises MeshsimInputError).

    An override is ``"path=value"`` (the value read as YAML) or a ``(path, value)`` pair.
    Each is validated as it is applied, so an error names the override at fault (``label``
    starts its message). ``import_root`` confines ``mesh.import`` paths as in
    :func:`meshsim.load_scenario`.
    """
    data, file, scenario = _raw(source, import_root)
    for item in overrides:
        expr = _apply(data, item, label)
        try:
            scenario = scenario_from_dict(copy.deepcopy(data), file=file, import_root=import_root)
        except MeshsimInputError as exc:
            problems = [
                InputProblem(f"{label} {expr}: " + (f"{p.field}: " if p.field else "") + p.message)
                for p in exc.problems
            ]
            raise MeshsimInputError(problems=problems) from None
    return scenario


# ----- comparison -----
def paired_table(
    base: Results, changed: Results, confidence: float = 0.95, min_effect: float = MIN_EFFECT
) -> pd.DataFrame:
    """Paired per-replication differences (changed - base) of every workload and service metric.

    Columns: scope, name, metric, unit, base_mean, changed_mean, diff, diff_ci_low,
    diff_ci_high, rel_change, p_value, significant, replications. Metrics and units are
    those of :meth:`Results.metrics_table` (``latency_p99_ms`` in ms, ratios as fractions).
    ``significant`` means the Student-t interval on the mean difference excludes zero (needs
    >= 2 paired replications) and the change is at least ``min_effect`` of the base mean:
    with common random numbers a few requests still in flight can make a 0.001% difference
    identical in every replication, which is certain but not worth reporting.
    """
    keys = ["replication", "scope", "name", "metric"]
    a = base.metrics_table().drop(columns="unit").rename(columns={"value": "base"})
    b = changed.metrics_table().drop(columns="unit").rename(columns={"value": "changed"})
    merged = a.merge(b, on=keys, how="outer", sort=False)
    rows = []
    for (scope, name, metric), grp in merged.groupby(["scope", "name", "metric"], sort=False):
        xb = grp["base"].to_numpy(dtype=float)
        xc = grp["changed"].to_numpy(dtype=float)
        both = np.isfinite(xb) & np.isfinite(xc)
        diffs = xc[both] - xb[both]
        bm = float(np.nanmean(xb)) if np.isfinite(xb).any() else math.nan
        cm = float(np.nanmean(xc)) if np.isfinite(xc).any() else math.nan
        d, lo, hi = mean_ci(diffs, confidence) if diffs.size else (math.nan, math.nan, math.nan)
        rel = d / bm if bm and not math.isnan(bm) and not math.isnan(d) else math.nan
        sig = bool(
            diffs.size >= 2
            and not math.isnan(lo)
            and (lo > 0.0 or hi < 0.0)
            and (math.isnan(rel) or abs(rel) >= min_effect)
        )
        rows.append(
            (
                scope,
                name,
                metric,
                metric_unit(str(metric)),
                bm,
                cm,
                d,
                lo,
                hi,
                rel,
                paired_p_value(diffs),
                sig,
                int(diffs.size),
            )
        )
    cols = [
        "scope",
        "name",
        "metric",
        "unit",
        "base_mean",
        "changed_mean",
        "diff",
        "diff_ci_low",
        "diff_ci_high",
        "rel_change",
        "p_value",
        "significant",
        "replications",
    ]
    table = pd.DataFrame(rows, columns=cols)
    order = {"workload": 0, "service": 1}
    table["_o"] = table["scope"].map(order).fillna(2)
    return table.sort_values(["_o"], kind="stable").drop(columns="_o").reset_index(drop=True)


def _clean(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) or math.isinf(x) else round(float(x), 9)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


@dataclass
class Comparison:
    """A what-if result: both runs and the paired table (see :func:`paired_table`)."""

    base: Results
    changed: Results
    table: pd.DataFrame
    confidence: float = 0.95
    overrides: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def significant(self) -> pd.DataFrame:
        """Only the rows whose difference is significant."""
        return self.table[self.table["significant"]].reset_index(drop=True)

    def row(self, scope: str, name: str, metric: str) -> dict[str, Any]:
        """One metric's row as a dict (KeyError when absent)."""
        t = self.table
        hit = t[(t["scope"] == scope) & (t["name"] == name) & (t["metric"] == metric)]
        if hit.empty:
            raise KeyError(f"{scope} {name} {metric}")
        return {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in hit.iloc[0].items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, metric names and units as in the table (``latency_p99_ms`` in ms)."""
        metrics = []
        for rec in self.table.to_dict("records"):
            item = {
                "scope": rec["scope"],
                "name": rec["name"],
                "metric": rec["metric"],
                "unit": rec["unit"],
                "base": _clean(rec["base_mean"]),
                "changed": _clean(rec["changed_mean"]),
                "diff": _clean(rec["diff"]),
                "diff_ci": [_clean(rec["diff_ci_low"]), _clean(rec["diff_ci_high"])],
                "relative_change": _clean(rec["rel_change"]),
                "p_value": _clean(rec["p_value"]),
                "significant": bool(rec["significant"]),
                "replications": int(rec["replications"]),
            }
            metrics.append(item)
        out: dict[str, Any] = {
            "base": self.base.scenario.name,
            "changed": self.changed.scenario.name,
            "seed": self.base.scenario.seed,
            "replications": len(self.base.replications),
            "confidence": self.confidence,
            "overrides": list(self.overrides),
            "notes": list(self.notes),
            "metrics": metrics,
        }
        rollouts = {}
        for label, res in (("base", self.base), ("changed", self.changed)):
            for r in res.replications[:1]:
                if "rollout" in r.extras:
                    ro = r.extras["rollout"]
                    rollouts[label] = {k: ro[k] for k in ("outcome", "at_s", "failed_requests") if k in ro}
        if rollouts:
            out["rollout"] = rollouts
        return out


def compare(
    base: ScenarioSource,
    changed: ScenarioSource | None = None,
    replications: int = 5,
    *,
    overrides: Sequence[str] = (),
    executor: str = "auto",
    workers: int | None = None,
    confidence: float = 0.95,
    min_effect: float = MIN_EFFECT,
    progress: Progress | None = None,
    force: bool = False,
) -> Comparison:
    """Run ``base`` and ``changed`` (or ``base`` with ``overrides``) with common random numbers.

    ``changed`` runs with the base seed (a note says so when its own seed differs), and
    replication i of both is paired. Overrides apply to ``changed`` when it is given,
    else to ``base``.
    """
    from meshsim._version import __version__
    from meshsim.experiments._executors import map_jobs
    from meshsim.experiments._simulate import replication_job
    from meshsim.experiments._size import check_sizes

    if replications < 1:
        raise MeshsimInputError("replications must be at least 1", field="replications")
    base_s = base if isinstance(base, Scenario) else load_scenario(base)
    target = changed if changed is not None else base
    if overrides:
        changed_s = apply_overrides(target, list(overrides))
    else:
        changed_s = target if isinstance(target, Scenario) else load_scenario(target)
    notes = []
    if changed_s.seed != base_s.seed:
        notes.append(
            f"changed scenario's seed {changed_s.seed} replaced by the base seed {base_s.seed} (common random numbers)"
        )
        changed_s = changed_s.model_copy(update={"seed": base_s.seed})
    check_sizes([base_s, changed_s], replications, force, what="comparison")
    jobs = [(base_s, r, 0.0) for r in range(replications)] + [(changed_s, r, 0.0) for r in range(replications)]
    results = map_jobs(replication_job, jobs, executor, workers=workers, progress=progress)
    base_res = Results(base_s, results[:replications], __version__)
    changed_res = Results(changed_s, results[replications:], __version__)
    table = paired_table(base_res, changed_res, confidence, min_effect)
    return Comparison(base_res, changed_res, table, confidence, list(overrides), notes)
