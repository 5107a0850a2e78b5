"""Read OpenSLO v1 ``SLO`` documents as meshsim SLOs.

Mapping (all metric sources must be ``type: meshsim`` with
``spec: {workload: NAME | service: NAME, metric: ...}``):

* ``thresholdMetric`` with ``op: lt|lte``, ``value: V`` (milliseconds, or a
  duration string) and ``target`` 0.5 / 0.9 / 0.99 / 0.999 (or ``targetPercent``
  50 / 90 / 99 / 99.9) -> ``latency_p50|p90|p99|p999`` with ``max: V ms``:
  "99% of requests faster than V" is "p99 <= V".
* ``ratioMetric`` ``good``/``total``, or ``raw`` with ``rawType: success`` ->
  ``availability`` with ``min: target``.
* ``ratioMetric`` ``bad``/``total``, or ``raw`` with ``rawType: failure`` ->
  ``error_rate`` with ``max: 1 - target``.

Not supported, reported as warnings naming the field (the SLO is still judged):
``timeWindow`` (meshsim judges the simulated horizon after warm-up),
``budgetingMethod: Timeslices|RatioTimeslices`` (judged as Occurrences),
``timeSliceTarget``, ``timeSliceWindow``, ``compositeWeight``, ``alertPolicies``
and documents of kind ``Service``, ``AlertPolicy``, ``AlertCondition``,
``AlertNotificationTarget``. A metric source of another ``type`` (prometheus,
datadog, ...) cannot be simulated: that SLO is skipped with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from meshsim.errors import InputProblem
from meshsim.scenario import SloSpec
from meshsim.yamlio import is_map, is_seq, item_line, key_line, node_line

__all__ = ["OPENSLO_API", "convert_openslo", "is_openslo"]

OPENSLO_API = "openslo/v1"

_IGNORED_KINDS = ("Service", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")
_DOC_KEYS = {"apiVersion", "kind", "metadata", "spec"}
_META_KEYS = {"name", "displayName", "labels", "annotations"}
_SLO_KEYS = {
    "description",
    "service",
    "indicator",
    "indicatorRef",
    "timeWindow",
    "budgetingMethod",
    "objectives",
    "alertPolicies",
}
_SLI_KEYS = {"description", "thresholdMetric", "ratioMetric"}
_OBJECTIVE_KEYS = {
    "displayName",
    "op",
    "value",
    "target",
    "targetPercent",
    "timeSliceTarget",
    "timeSliceWindow",
    "compositeWeight",
}
_RATIO_KEYS = {"counter", "good", "bad", "total", "raw", "rawType"}
_SOURCE_KEYS = {"metricSourceRef", "type", "spec"}
_MESHSIM_SOURCE_KEYS = {"workload", "service", "metric"}
_QUANTILES = {0.5: "latency_p50", 0.9: "latency_p90", 0.99: "latency_p99", 0.999: "latency_p999"}
# Accepted spellings of ``metric`` in a meshsim metric source, by role.
_ROLE_METRICS = {
    "threshold": {"latency"},
    "good": {"ok", "good", "availability"},
    "bad": {"failed", "bad", "errors", "error_rate"},
    "total": {"requests", "total"},
    "success": {"availability"},
    "failure": {"error_rate"},
}


def is_openslo(doc: object) -> bool:
    """Return True when a YAML document looks like OpenSLO (has ``apiVersion``)."""
    return is_map(doc) and "apiVersion" in doc


class _BadDocumentError(Exception):
    """Abort the current document or objective; carries one located problem."""

    def __init__(self, problem: InputProblem) -> None:
        super().__init__(problem.render())
        self.problem = problem


@dataclass
class _Reader:
    file: str
    errors: list[InputProblem] = field(default_factory=list)
    warnings: list[InputProblem] = field(default_factory=list)
    slis: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)

    def bad(self, message: str, node: object, key: object = None, path: str = "") -> _BadDocumentError:
        line = key_line(node, key) if key is not None else node_line(node)
        return _BadDocumentError(InputProblem(message, file=self.file, line=line, field=path or None))

    def warn(self, message: str, node: object, key: object = None, path: str = "") -> None:
        line = key_line(node, key) if key is not None else node_line(node)
        self.warnings.append(InputProblem(message, file=self.file, line=line, field=path or None))

    def mapping(self, node: object, path: str, parent: object, key: object) -> Any:
        if not is_map(node):
            raise self.bad("expected a mapping", parent, key, path)
        return node

    def text(self, node: Any, key: str, path: str) -> str | None:
        """Return the string at ``node[key]`` (None when absent); anything else is an error."""
        value = node.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self.bad(f"{key} must be a string, got {value!r}", node, key, path)

    def known(self, node: Any, allowed: set[str], path: str, what: str) -> None:
        for key in node:
            if key not in allowed:
                raise self.bad(
                    f"unknown field in {what} (allowed: {', '.join(sorted(allowed))})",
                    node,
                    key,
                    f"{path}.{key}" if path else str(key),
                )

    # -- documents -------------------------------------------------------------

    def header(self, doc: Any) -> tuple[str, str]:
        """Check apiVersion/kind/metadata; return (kind, name)."""
        api = doc.get("apiVersion")
        if api != OPENSLO_API:
            raise self.bad(
                f"apiVersion {api!r} is not supported; meshsim reads {OPENSLO_API}",
                doc,
                "apiVersion",
                "apiVersion",
            )
        self.known(doc, _DOC_KEYS, "", "an OpenSLO document")
        kind = doc.get("kind")
        if not isinstance(kind, str):
            raise self.bad("kind is required (SLO, SLI, DataSource, ...)", doc, "kind", "kind")
        meta = self.mapping(doc.get("metadata"), "metadata", doc, "metadata")
        self.known(meta, _META_KEYS, "metadata", "metadata")
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise self.bad("metadata.name is required", meta, "name", "metadata.name")
        return kind, name

    def index(self, docs: list[tuple[int, Any]]) -> list[tuple[str, Any]]:
        """First pass: register SLI and DataSource documents; return the SLO documents."""
        slos: list[tuple[str, Any]] = []
        for _, doc in docs:
            try:
                kind, name = self.header(doc)
                if kind == "SLO":
                    slos.append((name, doc))
                elif kind in ("SLI", "DataSource"):
                    table = self.slis if kind == "SLI" else self.sources
                    if name in table:
                        raise self.bad(f"duplicate {kind} name {name!r}", doc["metadata"], "name", "metadata.name")
                    table[name] = self.mapping(doc.get("spec"), "spec", doc, "spec")
                elif kind in _IGNORED_KINDS:
                    self.warn(f"kind {kind} {name!r} is not supported by meshsim and was ignored", doc, "kind", "kind")
                else:
                    raise self.bad(f"unknown OpenSLO kind {kind!r}", doc, "kind", "kind")
            except _BadDocumentError as exc:
                self.errors.append(exc.problem)
        return slos

    # -- SLO -------------------------------------------------------------------

    def slo(self, name: str, doc: Any) -> list[tuple[SloSpec, int | None]]:
        """Convert one SLO document into one SloSpec per objective."""
        spec = self.mapping(doc.get("spec"), "spec", doc, "spec")
        self.known(spec, _SLO_KEYS, "spec", "an SLO spec")
        if "timeWindow" in spec:
            self.warn(
                "timeWindow is not supported and was ignored: meshsim judges the whole simulated horizon after warm-up",
                spec,
                "timeWindow",
                "spec.timeWindow",
            )
        method = self.text(spec, "budgetingMethod", "spec.budgetingMethod") or "Occurrences"
        if method in ("Timeslices", "RatioTimeslices"):
            self.warn(
                f"budgetingMethod {method} is not supported: judged as Occurrences (every simulated request counts)",
                spec,
                "budgetingMethod",
                "spec.budgetingMethod",
            )
        elif method != "Occurrences":
            raise self.bad(
                f"budgetingMethod {method!r}: expected Occurrences, Timeslices or RatioTimeslices",
                spec,
                "budgetingMethod",
                "spec.budgetingMethod",
            )
        if spec.get("alertPolicies"):
            self.warn("alertPolicies are not supported and were ignored", spec, "alertPolicies", "spec.alertPolicies")
        sli = self.indicator(spec)
        objectives = spec.get("objectives")
        if not is_seq(objectives) or not objectives:
            raise self.bad("objectives: give at least one objective", spec, "objectives", "spec.objectives")
        out: list[tuple[SloSpec, int | None]] = []
        for i, objective in enumerate(objectives):
            path = f"spec.objectives[{i}]"
            objective = self.mapping(objective, path, objectives, None)
            self.known(objective, _OBJECTIVE_KEYS, path, "an objective")
            for key in ("timeSliceTarget", "timeSliceWindow", "compositeWeight"):
                if key in objective:
                    self.warn(f"{key} is not supported and was ignored", objective, key, f"{path}.{key}")
            label = self.text(objective, "displayName", f"{path}.displayName") or str(i)
            slo_name = name if len(objectives) == 1 else f"{name}/{label}"
            fields = self.objective(slo_name, spec, sli, objective, path)
            if fields is None:
                continue
            try:
                out.append((SloSpec.model_validate(fields), item_line(objectives, i)))
            except ValidationError as exc:
                first = exc.errors()[0]
                message = f"{first['msg']} (SLO {slo_name!r})"
                raise self.bad(message, objective, None, path) from None
        return out

    def indicator(self, spec: Any) -> Any:
        """Return the SLI spec: inline ``indicator``, or ``indicatorRef`` to an SLI document."""
        if ("indicator" in spec) == ("indicatorRef" in spec):
            raise self.bad("give exactly one of indicator or indicatorRef", spec, None, "spec")
        if "indicatorRef" in spec:
            ref = self.text(spec, "indicatorRef", "spec.indicatorRef")
            if ref not in self.slis:
                known = ", ".join(sorted(self.slis)) or "none"
                raise self.bad(
                    f"indicatorRef {ref!r}: no SLI document of that name in this file (SLIs here: {known})",
                    spec,
                    "indicatorRef",
                    "spec.indicatorRef",
                )
            sli = self.slis[ref]
            path = f"SLI {ref}: spec"
        else:
            inline = self.mapping(spec["indicator"], "spec.indicator", spec, "indicator")
            self.known(inline, {"metadata", "spec"}, "spec.indicator", "an inline indicator")
            sli = self.mapping(inline.get("spec"), "spec.indicator.spec", inline, "spec")
            path = "spec.indicator.spec"
        self.known(sli, _SLI_KEYS, path, "an SLI spec")
        if ("thresholdMetric" in sli) == ("ratioMetric" in sli):
            raise self.bad("give exactly one of thresholdMetric or ratioMetric", sli, None, path)
        return sli

    def target(self, objective: Any, path: str) -> float:
        """``target`` in [0, 1) or ``targetPercent`` in [0, 100), as a ratio."""
        has_t, has_p = "target" in objective, "targetPercent" in objective
        if has_t == has_p:
            raise self.bad("give exactly one of target or targetPercent", objective, None, path)
        key = "target" if has_t else "targetPercent"
        raw = objective[key]
        scale = 1.0 if has_t else 100.0
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw < scale:
            raise self.bad(f"{key} must be a number in [0, {scale:g}), got {raw!r}", objective, key, f"{path}.{key}")
        return round(float(raw) / scale, 12)

    def objective(self, slo_name: str, spec: Any, sli: Any, objective: Any, path: str) -> dict[str, Any] | None:
        """SloSpec fields for one objective, or None when its source is not meshsim."""
        ratio = self.target(objective, path)
        key = "target" if "target" in objective else "targetPercent"
        if "thresholdMetric" in sli:
            where = self.source(sli, "thresholdMetric", "threshold", spec, slo_name)
            if where is None:
                return None
            scope, name, metric = where
            op = self.text(objective, "op", f"{path}.op")
            if op not in ("lt", "lte"):
                raise self.bad(
                    f"op {op!r}: a threshold SLO maps onto a latency percentile only with op lt or lte",
                    objective,
                    "op",
                    f"{path}.op",
                )
            quantile = _QUANTILES.get(round(ratio, 9))
            if quantile is None:
                raise self.bad(
                    f"{key} {objective[key]}: a threshold SLO needs a target that is a "
                    "latency percentile meshsim reports: 0.5, 0.9, 0.99 or 0.999 "
                    "(targetPercent 50, 90, 99, 99.9)",
                    objective,
                    key,
                    f"{path}.{key}",
                )
            if metric not in (None, "latency", quantile):
                raise self.bad(
                    f"metric {metric!r} does not match {key} {objective[key]} (that is {quantile})",
                    objective,
                    key,
                    f"{path}.{key}",
                )
            value = objective.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise self.bad(
                    "value: give the latency threshold in milliseconds (e.g. 400)", objective, "value", f"{path}.value"
                )
            limit = f"{value}ms" if isinstance(value, (int, float)) else value
            return {"name": slo_name, scope: name, "metric": quantile, "max": limit}
        for key2 in ("op", "value"):
            if key2 in objective:
                raise self.bad(
                    f"{key2} applies only to thresholdMetric; a ratioMetric uses target alone",
                    objective,
                    key2,
                    f"{path}.{key2}",
                )
        return self.ratio(slo_name, spec, sli, ratio)

    def ratio(self, slo_name: str, spec: Any, sli: Any, target: float) -> dict[str, Any] | None:
        """``good``/``total``, ``bad``/``total`` or ``raw`` + ``rawType``."""
        rm = self.mapping(sli["ratioMetric"], "ratioMetric", sli, "ratioMetric")
        self.known(rm, _RATIO_KEYS, "ratioMetric", "a ratioMetric")
        if "raw" in rm:
            if any(k in rm for k in ("good", "bad", "total")):
                raise self.bad("raw cannot be combined with good, bad or total", rm, "raw", "ratioMetric.raw")
            raw_type = self.text(rm, "rawType", "ratioMetric.rawType")
            if raw_type not in ("success", "failure"):
                raise self.bad(
                    f"rawType {raw_type!r}: expected success or failure",
                    rm,
                    "rawType" if "rawType" in rm else "raw",
                    "ratioMetric.rawType",
                )
            where = self.source(rm, "raw", raw_type, spec, slo_name)
            good = raw_type == "success"
            totals: list[tuple[str, str, str | None]] = []
        else:
            if ("good" in rm) == ("bad" in rm):
                raise self.bad("give exactly one of good or bad (with total), or raw", rm, None, "ratioMetric")
            if "total" not in rm:
                raise self.bad("total is required with good or bad", rm, None, "ratioMetric.total")
            role = "good" if "good" in rm else "bad"
            where = self.source(rm, role, role, spec, slo_name)
            total = self.source(rm, "total", "total", spec, slo_name)
            if where is None or total is None:
                return None
            good = role == "good"
            totals = [total]
        if where is None:
            return None
        scope, name, _ = where
        for t_scope, t_name, _ in totals:
            if (t_scope, t_name) != (scope, name):
                raise self.bad(
                    f"total counts {t_scope} {t_name!r} but the ratio's other side counts {scope} {name!r}",
                    rm,
                    "total",
                    "ratioMetric.total",
                )
        if good:
            return {"name": slo_name, scope: name, "metric": "availability", "min": target}
        return {"name": slo_name, scope: name, "metric": "error_rate", "max": round(1.0 - target, 12)}

    def source(
        self, holder: Any, key: str, role: str, slo_spec: Any, slo_name: str
    ) -> tuple[str, str, str | None] | None:
        """Return (scope, name, metric) of ``holder[key]``'s meshsim source, or None (skipped)."""
        # thresholdMetric and good/bad/total/raw all wrap the source in ``metricSource``.
        path = "thresholdMetric" if role == "threshold" else f"ratioMetric.{key}"
        wrapper = self.mapping(holder[key], path, holder, key)
        self.known(wrapper, {"metricSource"}, path, path)
        path += ".metricSource"
        source = self.mapping(wrapper.get("metricSource"), path, wrapper, "metricSource")
        self.known(source, _SOURCE_KEYS, path, "a metricSource")
        kind = self.text(source, "type", f"{path}.type")
        ref = self.text(source, "metricSourceRef", f"{path}.metricSourceRef")
        if kind is None and ref is not None:
            if ref not in self.sources:
                raise self.bad(
                    f"metricSourceRef {ref!r}: no DataSource of that name in this file",
                    source,
                    "metricSourceRef",
                    f"{path}.metricSourceRef",
                )
            kind = self.text(self.sources[ref], "type", f"DataSource {ref}: spec.type")
        if kind is None:
            raise self.bad("metricSource needs type: meshsim", source, None, path)
        if str(kind).lower() != "meshsim":
            self.warn(
                f"metricSource type {kind!r} cannot be simulated (only type: meshsim); SLO {slo_name!r} skipped",
                source,
                "type" if "type" in source else None,
                f"{path}.type",
            )
            return None
        spec = source.get("spec")
        spec = {} if spec is None else self.mapping(spec, f"{path}.spec", source, "spec")
        if spec:
            self.known(spec, _MESHSIM_SOURCE_KEYS, f"{path}.spec", "a meshsim metric source")
        metric = self.text(spec, "metric", f"{path}.spec.metric") if spec else None
        allowed = _ROLE_METRICS[role]
        if role == "threshold":
            allowed = allowed | set(_QUANTILES.values())
        if metric is not None and metric not in allowed:
            raise self.bad(
                f"metric {metric!r}: for {role} use one of {', '.join(sorted(allowed))} or leave it out",
                spec,
                "metric",
                f"{path}.spec.metric",
            )
        if "workload" in spec and "service" in spec:
            raise self.bad("give workload or service, not both", spec, None, f"{path}.spec")
        for scope in ("workload", "service"):
            if scope in spec:
                if not isinstance(spec[scope], str) or not spec[scope]:
                    raise self.bad(f"{scope} must be a name", spec, scope, f"{path}.spec.{scope}")
                return scope, spec[scope], metric
        # No target in the source: the OpenSLO SLO's own service names the meshsim service.
        service = slo_spec.get("service")
        if isinstance(service, str) and service:
            return "service", service, metric
        raise self.bad("name the workload or service: spec: {workload: NAME} or {service: NAME}", source, None, path)


def convert_openslo(
    docs: list[tuple[int, Any]], file: str
) -> tuple[list[tuple[SloSpec, int | None]], list[InputProblem], list[InputProblem]]:
    """Convert OpenSLO documents ``(index, mapping)`` from one file.

    Returns (SLOs with their 1-based line, errors, warnings).
    """
    reader = _Reader(file)
    out: list[tuple[SloSpec, int | None]] = []
    for name, doc in reader.index(docs):
        try:
            out.extend(reader.slo(name, doc))
        except _BadDocumentError as exc:
            reader.errors.append(exc.problem)
    return out, reader.errors, reader.warnings
