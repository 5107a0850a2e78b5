"""Per-format span parsers: OTLP/JSON, Jaeger query-API JSON and Zipkin v2 JSON -> row dicts.

Each parser turns one parsed JSON document into dicts with the normalised span
fields (see :data:`meshsim.calibrate.traces.SPAN_COLUMNS`); spans that cannot be
used are counted in a :class:`FileProblems` instead of stopping the read.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from meshsim.calibrate._attrs import span_fields_from_attributes
from meshsim.errors import MeshsimInputError

__all__ = ["FileProblems", "normalise_id", "detect_format", "spans_from_document"]

_OTLP_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_KIND_NAMES = {"internal", "server", "client", "producer", "consumer"}
_MAX_PROBLEMS = 3
_HEX_RE = re.compile(r"[0-9a-f]+")


class FileProblems:
    """Counts spans skipped in one file, keeping the first few reasons."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.skipped = 0
        self.reasons: list[str] = []

    def skip(self, where: str, why: str) -> None:
        """Count one unusable span at ``where`` (a JSON path) and keep the reason."""
        self.skipped += 1
        if len(self.reasons) < _MAX_PROBLEMS:
            self.reasons.append(f"{where}: {why}")


# --------------------------------------------------------------------------- ids


def normalise_id(value: Any, width: int) -> str | None:
    """Return a lower-case hex id left-padded to ``width`` digits, or None if empty.

    OTLP/JSON should carry hex ids, but exporters that follow the generic protobuf
    JSON mapping send base64; 16-byte and 8-byte base64 ids are recognised by their
    length (24 and 12 characters), which hex ids never have.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    low = text.lower()
    if _HEX_RE.fullmatch(low):
        if not low.strip("0"):
            return None  # an all-zero id means "no parent" in every format
        return low.zfill(width) if len(low) <= width else low
    if len(text) in (12, 24):
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return text
        return raw.hex().zfill(width)
    return text


def detect_format(doc: Any) -> str | None:
    """Return ``otlp``, ``jaeger`` or ``zipkin`` for a parsed document, or None."""
    if isinstance(doc, dict):
        if "resourceSpans" in doc:
            return "otlp"
        if isinstance(doc.get("data"), list):
            return "jaeger"
        if "spans" in doc and ("traceID" in doc or "processes" in doc):
            return "jaeger"  # a single trace object, as some tools save it
        return None
    if isinstance(doc, list):
        items = [x for x in doc if not (isinstance(x, list) and not x)]
        if not items:
            return "zipkin"  # [] or [[]]: a Zipkin answer with no traces
        first = items[0][0] if isinstance(items[0], list) else items[0]
        if isinstance(first, dict) and "traceId" in first and "id" in first:
            return "zipkin"
    return None


# --------------------------------------------------------------------------- OTLP


def _otlp_attrs(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(items, list):
        return out
    for kv in items:
        if isinstance(kv, dict) and "key" in kv:
            out[str(kv["key"])] = _otlp_value(kv.get("value"))
    return out


def _otlp_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:  # int64 arrives as a string in proto JSON
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return v["intValue"]
    if "arrayValue" in v:
        return [_otlp_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return _otlp_attrs((v["kvlistValue"] or {}).get("values", []))
    return None


def _otlp_kind(kind: Any) -> str | None:
    if isinstance(kind, int):
        return _OTLP_KINDS.get(kind)
    if isinstance(kind, str):
        name = kind.upper().removeprefix("SPAN_KIND_").lower()
        return name if name in _KIND_NAMES else None
    return None


def _otlp_status(status: Any) -> bool | None:
    """True for ERROR, False for OK, None when unset."""
    if not isinstance(status, dict):
        return None
    code = status.get("code")
    if code in (2, "STATUS_CODE_ERROR", "ERROR"):
        return True
    if code in (1, "STATUS_CODE_OK", "OK"):
        return False
    return None


def _spans_from_otlp(doc: dict[str, Any], problems: FileProblems) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, rs in enumerate(doc.get("resourceSpans") or []):
        if not isinstance(rs, dict):
            continue
        resource = _otlp_attrs((rs.get("resource") or {}).get("attributes"))
        # instrumentationLibrarySpans is the pre-1.0 name of scopeSpans.
        scopes = rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []
        for j, ss in enumerate(scopes):
            for k, span in enumerate((ss or {}).get("spans") or []):
                where = f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}]"
                if not isinstance(span, dict):
                    problems.skip(where, "not an object")
                    continue
                try:
                    start_ns = int(span["startTimeUnixNano"])
                    end_ns = int(span["endTimeUnixNano"])
                except (KeyError, TypeError, ValueError):
                    problems.skip(where, "startTimeUnixNano/endTimeUnixNano missing or not integers")
                    continue
                attrs = {**resource, **_otlp_attrs(span.get("attributes"))}
                row = _row(
                    span.get("traceId"),
                    span.get("spanId"),
                    span.get("parentSpanId"),
                    resource.get("service.name"),
                    span.get("name"),
                    start_ns / 1e9,
                    (end_ns - start_ns) / 1e9,
                    _otlp_kind(span.get("kind")),
                    _otlp_status(span.get("status")),
                    attrs,
                    where,
                    problems,
                )
                if row is not None:
                    rows.append(row)
    return rows


# --------------------------------------------------------------------------- Jaeger


def _jaeger_tags(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(items, list):
        for kv in items:
            if isinstance(kv, dict) and "key" in kv:
                out[str(kv["key"])] = kv.get("value")
    return out


def _explicit_error(attrs: dict[str, Any]) -> bool | None:
    """Error flag from Jaeger/Zipkin tags: ``error`` or OpenTelemetry's ``otel.status_code``."""
    status = attrs.get("otel.status_code")
    if isinstance(status, str) and status.upper() == "ERROR":
        return True
    if "error" in attrs:
        flag = attrs["error"]
        if flag is False or (isinstance(flag, str) and flag.strip().lower() in ("false", "0")):
            return None
        return True
    if isinstance(status, str) and status.upper() == "OK":
        return False
    return None


def _spans_from_jaeger(doc: dict[str, Any], problems: FileProblems) -> list[dict[str, Any]]:
    traces: list[Any] = doc["data"] if isinstance(doc.get("data"), list) else [doc]
    rows: list[dict[str, Any]] = []
    for i, trace in enumerate(traces):
        if not isinstance(trace, dict):
            continue
        processes = trace.get("processes") or {}
        for k, span in enumerate(trace.get("spans") or []):
            where = f"data[{i}].spans[{k}]"
            if not isinstance(span, dict):
                problems.skip(where, "not an object")
                continue
            try:
                start_us = int(span["startTime"])
                dur_us = int(span["duration"])
            except (KeyError, TypeError, ValueError):
                problems.skip(where, "startTime/duration missing or not integers")
                continue
            process = span.get("process") or processes.get(span.get("processID")) or {}
            attrs = {**_jaeger_tags(process.get("tags")), **_jaeger_tags(span.get("tags"))}
            parent = span.get("parentSpanID")  # the pre-references field
            refs = [r for r in span.get("references") or [] if isinstance(r, dict)]
            same_trace = [r for r in refs if r.get("traceID", span.get("traceID")) == span.get("traceID")]
            child_of = [r for r in same_trace if r.get("refType", "CHILD_OF") == "CHILD_OF"]
            if child_of or same_trace:
                parent = (child_of or same_trace)[0].get("spanID")
            kind = attrs.get("span.kind")
            kind = kind.lower() if isinstance(kind, str) and kind.lower() in _KIND_NAMES else None
            row = _row(
                span.get("traceID"),
                span.get("spanID"),
                parent,
                process.get("serviceName"),
                span.get("operationName"),
                start_us / 1e6,
                dur_us / 1e6,
                kind,
                _explicit_error(attrs),
                attrs,
                where,
                problems,
            )
            if row is not None:
                rows.append(row)
    return rows


# --------------------------------------------------------------------------- Zipkin


def _spans_from_zipkin(doc: list[Any], problems: FileProblems) -> list[dict[str, Any]]:
    # /api/v2/traces answers a list of traces (lists); a plain export is a list of spans.
    flat: list[Any] = []
    for item in doc:
        flat.extend(item if isinstance(item, list) else [item])
    rows: list[dict[str, Any]] = []
    for k, span in enumerate(flat):
        where = f"[{k}]"
        if not isinstance(span, dict):
            problems.skip(where, "not an object")
            continue
        try:
            start_us = int(span["timestamp"])
            dur_us = int(span.get("duration", 0))
        except (KeyError, TypeError, ValueError):
            # Zipkin allows spans without a timestamp (late or incomplete data).
            problems.skip(where, "no timestamp")
            continue
        tags = span.get("tags")
        attrs: dict[str, Any] = dict(tags) if isinstance(tags, dict) else {}
        kind = span.get("kind")
        kind = kind.lower() if isinstance(kind, str) and kind.lower() in _KIND_NAMES else None
        remote = (span.get("remoteEndpoint") or {}).get("serviceName")
        if remote and kind in ("client", "producer"):
            attrs.setdefault("peer.service", remote)
        local = span.get("localEndpoint") or {}
        if local.get("ipv4") or local.get("ipv6"):
            attrs.setdefault("zipkin.instance", local.get("ipv4") or local.get("ipv6"))
        row = _row(
            span.get("traceId"),
            span.get("id"),
            span.get("parentId"),
            local.get("serviceName"),
            span.get("name"),
            start_us / 1e6,
            dur_us / 1e6,
            kind,
            _explicit_error(attrs),
            attrs,
            where,
            problems,
        )
        if row is not None:
            row["_shared"] = bool(span.get("shared"))
            rows.append(row)
    return _split_shared_spans(rows)


def _split_shared_spans(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give the two halves of a B3 shared span (client and server, same id) distinct ids.

    The server half keeps the id, because the callee's own children name it as
    their parent; the client half gets ``<id>-c`` and becomes the server half's parent.
    """
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        by_key.setdefault((r["trace_id"], r["span_id"]), []).append(r)
    for (_, span_id), group in by_key.items():
        if len(group) < 2:
            continue
        servers = [r for r in group if r["_shared"] or r["kind"] in ("server", "consumer")]
        clients = [r for r in group if r not in servers]
        if len(servers) == 1 and len(clients) == 1:
            client_id = f"{span_id}-c"
            clients[0]["span_id"] = client_id
            servers[0]["parent_id"] = client_id
    for r in rows:
        r.pop("_shared", None)
    return rows


# --------------------------------------------------------------------------- common


def _row(
    trace_id: Any,
    span_id: Any,
    parent_id: Any,
    service: Any,
    name: Any,
    start_s: float,
    duration_s: float,
    kind: str | None,
    explicit_error: bool | None,
    attrs: dict[str, Any],
    where: str,
    problems: FileProblems,
) -> dict[str, Any] | None:
    tid = normalise_id(trace_id, 32)
    sid = normalise_id(span_id, 16)
    if tid is None or sid is None:
        problems.skip(where, "no trace id or span id")
        return None
    fields = span_fields_from_attributes(attrs, kind)
    status = fields["status_code"]
    # Instrumentation that predates span status marks failures only by code.
    error = bool(status == status and status >= 500) if explicit_error is None else explicit_error
    return {
        "trace_id": tid,
        "span_id": sid,
        "parent_id": normalise_id(parent_id, 16),
        "service": str(service) if service not in (None, "") else "unknown",
        "name": str(name) if name is not None else "",
        "start_s": float(start_s),
        "duration_s": float(duration_s),
        "kind": kind,
        "error": error,
        **fields,
    }


def spans_from_document(doc: Any, fmt: str, file: str = "<data>") -> tuple[list[dict[str, Any]], list[str]]:
    """Normalise one parsed document of format ``fmt``; returns (rows, warnings)."""
    problems = FileProblems(file)
    if fmt == "otlp":
        rows = _spans_from_otlp(doc, problems)
    elif fmt == "jaeger":
        rows = _spans_from_jaeger(doc, problems)
    else:
        rows = _spans_from_zipkin(doc, problems)
    notes = []
    if problems.skipped:
        if not rows:
            raise MeshsimInputError(
                f"no usable spans ({problems.skipped} skipped; first: {problems.reasons[0]})",
                file=file,
                field=problems.reasons[0].split(":", 1)[0],
            )
        notes.append(f"{file}: skipped {problems.skipped:,} malformed span(s), e.g. " + "; ".join(problems.reasons))
    return rows, notes
