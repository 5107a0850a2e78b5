"""Write a span table (the normalised schema of :mod:`.traces`) as OTLP, Jaeger or Zipkin JSON.

The files open in Jaeger (``Upload JSON``), Zipkin, or any OpenTelemetry tool, and
:func:`~meshsim.calibrate.traces.read_traces` reads them back into the same table:
to the nanosecond for OTLP, to the microsecond (the format's resolution) for
Jaeger and Zipkin. Simulated time starts at 0; ``epoch_s`` shifts it onto the wall
clock (read-back ``start_s`` then includes the shift). Ids should be hex (16 digits
for spans, 32 for traces); other ids are replaced by a stable hash so that the
file stays valid. A path ending in ``.gz`` is written gzip-compressed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pandas as pd

from meshsim.calibrate._traces import SPAN_COLUMNS, coerce_spans
from meshsim.errors import write_output

__all__ = [
    "write_otlp_json",
    "write_jaeger_json",
    "write_zipkin_json",
    "write_traces",
    "otlp_document",
    "jaeger_document",
    "zipkin_document",
]

_KIND_TO_OTLP = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_HEX = set("0123456789abcdef")


def _hex_id(value: Any, width: int) -> str:
    text = str(value).lower()
    if len(text) == width and set(text) <= _HEX:
        return text
    if set(text) <= _HEX and len(text) < width:
        return text.zfill(width)
    return hashlib.blake2b(text.encode(), digest_size=width // 2).hexdigest()


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and v is not pd.NA


def _zone_attrs(location: Any) -> dict[str, str]:
    """``aws/us-east-1/a`` -> OpenTelemetry cloud.* attributes (zone spelled the cloud's way)."""
    if not _present(location):
        return {}
    parts = str(location).split("/")
    out = {"cloud.provider": parts[0]}
    if len(parts) > 1:
        out["cloud.region"] = parts[1]
    if len(parts) > 2:
        sep = "" if parts[0] == "aws" else "-"
        out["cloud.availability_zone"] = f"{parts[1]}{sep}{parts[2]}"
    return out


def _resource(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"service.name": row.service}
    if _present(row.version):
        out["service.version"] = str(row.version)
    if _present(row.instance):
        out["service.instance.id"] = str(row.instance)
    out.update(_zone_attrs(row.location))
    return out


def _span_attrs(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if _present(row.status_code):
        out["http.status_code"] = int(row.status_code)
    if _present(row.request_bytes):
        out["http.request_content_length"] = int(row.request_bytes)
    if _present(row.response_bytes):
        out["http.response_content_length"] = int(row.response_bytes)
    if _present(row.peer_service):
        out["peer.service"] = str(row.peer_service)
    return out


def _needs_explicit_ok(row: Any) -> bool:
    # The readers treat an unmarked 5xx as an error; say OK when the table says otherwise.
    return not row.error and _present(row.status_code) and row.status_code >= 500


def _otlp_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}  # int64 as a string, as proto JSON writes it
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": str(v)}


def _kv(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _otlp_value(v)} for k, v in d.items()]


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def _us(seconds: float) -> int:
    return int(round(seconds * 1e6))


def otlp_document(spans: pd.DataFrame, epoch_s: float = 0.0) -> dict[str, Any]:
    """An OTLP/JSON ``ExportTraceServiceRequest`` with one resource per service instance."""
    df = coerce_spans(spans)
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    resources: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in df.itertuples(index=False):
        key = (row.service, row.version, row.instance, row.location)
        resources.setdefault(key, _resource(row))
        start_ns = _ns(epoch_s + cast(float, row.start_s))
        span: dict[str, Any] = {
            "traceId": _hex_id(row.trace_id, 32),
            "spanId": _hex_id(row.span_id, 16),
        }
        if _present(row.parent_id):
            span["parentSpanId"] = _hex_id(row.parent_id, 16)
        span.update(
            name=row.name,
            kind=_KIND_TO_OTLP.get(cast(str, row.kind), 0) if _present(row.kind) else 0,
            startTimeUnixNano=str(start_ns),
            endTimeUnixNano=str(start_ns + _ns(cast(float, row.duration_s))),
            attributes=_kv(_span_attrs(row)),
            status={"code": 2} if row.error else ({"code": 1} if _needs_explicit_ok(row) else {}),
        )
        groups.setdefault(key, []).append(span)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _kv(resources[key])},
                "scopeSpans": [{"scope": {"name": "meshsim"}, "spans": spans_}],
            }
            for key, spans_ in groups.items()
        ]
    }


def _jaeger_tags(d: dict[str, Any]) -> list[dict[str, Any]]:
    def kind(v: Any) -> str:
        return (
            "bool"
            if isinstance(v, bool)
            else "int64"
            if isinstance(v, int)
            else "float64"
            if isinstance(v, float)
            else "string"
        )

    return [{"key": k, "type": kind(v), "value": v} for k, v in d.items()]


def jaeger_document(spans: pd.DataFrame, epoch_s: float = 0.0) -> dict[str, Any]:
    """A Jaeger query-API document (``{"data": [trace, ...]}``), as the UI downloads it."""
    df = coerce_spans(spans)
    by_trace: dict[str, list[Any]] = {}
    for row in df.itertuples(index=False):  # one pass: per-group itertuples is slow
        by_trace.setdefault(cast(str, row.trace_id), []).append(row)
    traces = []
    for trace_id, rows in by_trace.items():
        tid = _hex_id(trace_id, 32)
        processes: dict[str, dict[str, Any]] = {}
        pid_of: dict[tuple[Any, ...], str] = {}
        out_spans = []
        for row in rows:
            key = (row.service, row.version, row.instance, row.location)
            if key not in pid_of:
                pid_of[key] = f"p{len(pid_of) + 1}"
                res = _resource(row)
                name = res.pop("service.name")
                if "service.instance.id" in res:
                    res["hostname"] = res.pop("service.instance.id")
                processes[pid_of[key]] = {"serviceName": name, "tags": _jaeger_tags(res)}
            tags = {}
            if _present(row.kind):
                tags["span.kind"] = row.kind
            tags.update(_span_attrs(row))
            if row.error:
                tags["error"] = True
            elif _needs_explicit_ok(row):
                tags["otel.status_code"] = "OK"
            refs = []
            if _present(row.parent_id):
                refs.append({"refType": "CHILD_OF", "traceID": tid, "spanID": _hex_id(row.parent_id, 16)})
            out_spans.append(
                {
                    "traceID": tid,
                    "spanID": _hex_id(row.span_id, 16),
                    "flags": 1,
                    "operationName": row.name,
                    "references": refs,
                    "startTime": _us(epoch_s + row.start_s),
                    "duration": _us(row.duration_s),
                    "tags": _jaeger_tags(tags),
                    "logs": [],
                    "processID": pid_of[key],
                    "warnings": None,
                }
            )
        traces.append({"traceID": tid, "spans": out_spans, "processes": processes, "warnings": None})
    return {"data": traces, "total": 0, "limit": 0, "offset": 0, "errors": None}


def zipkin_document(spans: pd.DataFrame, epoch_s: float = 0.0) -> list[dict[str, Any]]:
    """A Zipkin v2 span list (client and server as separate spans, not B3 shared ids)."""
    df = coerce_spans(spans)
    out = []
    for row in df.itertuples(index=False):
        span: dict[str, Any] = {"traceId": _hex_id(row.trace_id, 32), "id": _hex_id(row.span_id, 16)}
        if _present(row.parent_id):
            span["parentId"] = _hex_id(row.parent_id, 16)
        if _present(row.kind) and row.kind != "internal":
            span["kind"] = str(row.kind).upper()
        span.update(
            name=row.name,
            timestamp=_us(epoch_s + cast(float, row.start_s)),
            duration=_us(cast(float, row.duration_s)),
            localEndpoint={"serviceName": row.service},
        )
        attrs = {k: v for k, v in _resource(row).items() if k != "service.name"}
        attrs.update(_span_attrs(row))
        peer = attrs.pop("peer.service", None)
        if peer is not None:
            span["remoteEndpoint"] = {"serviceName": peer}
        if row.error:
            attrs["error"] = "true"
        elif _needs_explicit_ok(row):
            attrs["otel.status_code"] = "OK"
        span["tags"] = {k: str(v) for k, v in attrs.items()}
        out.append(span)
    return out


def _write(doc: Any, path: str | Path) -> Path:
    p = Path(path)
    data = json.dumps(doc, separators=(",", ":")).encode()
    write_output(p, gzip.compress(data, mtime=0) if p.name.endswith(".gz") else data, what="traces")
    return p


def write_otlp_json(spans: pd.DataFrame, path: str | Path, epoch_s: float = 0.0) -> Path:
    """Write ``spans`` as OTLP/JSON (gzip when ``path`` ends in .gz)."""
    return _write(otlp_document(spans, epoch_s), path)


def write_jaeger_json(spans: pd.DataFrame, path: str | Path, epoch_s: float = 0.0) -> Path:
    """Write ``spans`` as Jaeger query-API JSON (gzip when ``path`` ends in .gz)."""
    return _write(jaeger_document(spans, epoch_s), path)


def write_zipkin_json(spans: pd.DataFrame, path: str | Path, epoch_s: float = 0.0) -> Path:
    """Write ``spans`` as Zipkin v2 JSON (gzip when ``path`` ends in .gz)."""
    return _write(zipkin_document(spans, epoch_s), path)


_WRITERS: dict[str, Callable[[pd.DataFrame, str | Path, float], Path]] = {
    "otlp": write_otlp_json,
    "jaeger": write_jaeger_json,
    "zipkin": write_zipkin_json,
}


def write_traces(spans: pd.DataFrame, path: str | Path, format: str = "otlp", epoch_s: float = 0.0) -> Path:
    """Write ``spans`` in ``format`` (``otlp``, ``jaeger`` or ``zipkin``)."""
    if format not in _WRITERS:
        raise ValueError(f"unknown trace format {format!r}; use one of {', '.join(_WRITERS)}")
    missing = [c for c in ("trace_id", "span_id", "service", "start_s", "duration_s") if c not in spans.columns]
    if missing:
        raise ValueError(
            f"span table lacks column(s) {', '.join(missing)} (see SPAN_COLUMNS: {', '.join(SPAN_COLUMNS)})"
        )
    return _WRITERS[format](spans, path, epoch_s)
