"""Read OTLP JSON, Jaeger JSON and Zipkin v2 JSON traces into one span table.

The table (:data:`SPAN_COLUMNS`) has one row per span; times are float seconds
(``start_s`` since the Unix epoch as the file gives it, ``duration_s``), sizes are
bytes, and anything the file does not carry is ``NaN``. Problems that still leave
usable data (spans naming a parent that is not in the input, children outside
their parent's interval, spans without timestamps) are not raised: they are
counted and returned as sentences in ``df.attrs["warnings"]`` (a ``list[str]``).
Input that cannot be used (not a trace file, empty, invalid JSON or gzip) raises
:class:`~meshsim.errors.MeshsimInputError` naming the file, and the line when the
JSON decoder knows it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from meshsim.calibrate._formats import detect_format, normalise_id, spans_from_document
from meshsim.errors import MAX_INPUT_BYTES, MeshsimInputError, read_input_bytes

__all__ = [
    "SPAN_COLUMNS",
    "FORMATS",
    "read_traces",
    "spans_from_document",
    "detect_format",
    "check_spans",
    "normalise_id",
]

#: Columns of the normalised span table, in order.
SPAN_COLUMNS = (
    "trace_id",  # 32 lower-case hex digits (shorter ids are left-padded with zeros)
    "span_id",  # 16 lower-case hex digits
    "parent_id",  # NaN on a root span
    "service",
    "name",
    "start_s",  # float seconds (epoch as in the file)
    "duration_s",  # float seconds
    "kind",  # server | client | internal | producer | consumer | NaN
    "error",  # bool
    "status_code",  # HTTP status as float, NaN if absent
    "request_bytes",  # float, NaN if absent
    "response_bytes",  # float, NaN if absent
    "version",  # service version (service.version, istio.canonical_revision, k8s labels)
    "instance",  # pod / host / service.instance.id, NaN if absent
    "location",  # cloud/region/zone from cloud.* resource attributes, NaN if absent
    "peer_service",  # peer.service (or Zipkin remoteEndpoint) on client spans
)

FORMATS = ("otlp", "jaeger", "zipkin")


# --------------------------------------------------------------------------- files


def _gunzip(data: bytes, path: Path) -> bytes:
    """Every gzip member of ``data``, unpacked to at most MAX_INPUT_BYTES (a gzip bomb stops there)."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(rest, MAX_INPUT_BYTES + 1 - len(out))
        except zlib.error as exc:
            raise MeshsimInputError(f"broken gzip data: {exc}", file=str(path)) from None
        if len(out) > MAX_INPUT_BYTES or inflater.unconsumed_tail:
            raise MeshsimInputError(f"trace file unpacks to over {MAX_INPUT_BYTES:,} bytes (the limit)", file=str(path))
        if not inflater.eof:
            raise MeshsimInputError("broken gzip data: the file ends inside the compressed stream", file=str(path))
        rest = inflater.unused_data
        if not rest.strip(b"\x00"):  # zero padding after the last member, as some tools leave
            break
    return bytes(out)


def _read_bytes(path: Path) -> bytes:
    data = read_input_bytes(path, what="trace file")
    if data[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        data = _gunzip(data, path)
    return data


def _loads(text: str, path: Path, line: int | None) -> Any:
    """``json.loads``, with nesting too deep and numbers too long as input errors."""
    try:
        return json.loads(text)
    except RecursionError:
        raise MeshsimInputError("JSON nested too deeply", file=str(path), line=line) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # the int-string limit: a number of thousands of digits
        raise MeshsimInputError(f"unreadable JSON number: {exc}", file=str(path), line=line) from None


def load_documents(path: Path) -> list[tuple[Any, int | None]]:
    """Parse one file into JSON documents (one, or one per line for JSON Lines).

    Returns ``(document, line)`` pairs; ``line`` is set for JSON Lines input so
    that later problems can name it.
    """
    data = _read_bytes(path)
    if not data.strip():
        raise MeshsimInputError("empty file: expected OTLP, Jaeger or Zipkin JSON", file=str(path))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MeshsimInputError(
            "not a text file: expected OTLP, Jaeger or Zipkin JSON (plain or gzip)", file=str(path)
        ) from None
    try:
        return [(_loads(text, path, None), None)]
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise MeshsimInputError(
                f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path), line=exc.lineno
            ) from None
    # The OpenTelemetry Collector's file exporter writes JSON Lines: one request per line.
    docs: list[tuple[Any, int | None]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            docs.append((_loads(line, path, number), number))
        except json.JSONDecodeError as exc:
            raise MeshsimInputError(
                f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path), line=number
            ) from None
    return docs


_NOT_TRACES = (
    "not a trace file: expected OTLP JSON (resourceSpans), "
    "Jaeger JSON (data[].spans with processes) or Zipkin v2 JSON (a list of spans)"
)


def _expand(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    out: list[Path] = []
    for p in map(Path, items):
        if p.is_dir():
            found = sorted(
                q for q in p.iterdir() if q.is_file() and q.name.endswith((".json", ".json.gz", ".jsonl", ".gz"))
            )
            if not found:
                raise MeshsimInputError("no .json, .jsonl or .json.gz files in this directory", file=str(p))
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise MeshsimInputError("no trace files given")
    return out


def read_traces(paths: str | Path | Iterable[str | Path], format: str | None = None) -> pd.DataFrame:
    """Read trace files (OTLP, Jaeger or Zipkin JSON; plain or gzip) into one span table.

    Args:
        paths: files or directories (every ``*.json``, ``*.jsonl``, ``*.json.gz`` inside).
        format: ``otlp``, ``jaeger`` or ``zipkin``; detected per file when None.

    Returns:
        A DataFrame with :data:`SPAN_COLUMNS` (times in seconds). ``attrs["warnings"]``
        lists problems that left the data usable, with counts; ``attrs["formats"]``
        maps each file to the format read.

    Raises:
        MeshsimInputError: a file is missing, empty, not JSON, not a trace file, or
            holds no usable span.
    """
    if format is not None and format not in FORMATS:
        raise MeshsimInputError(f"unknown trace format {format!r}; use one of {', '.join(FORMATS)}", field="format")
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    formats: dict[str, str] = {}
    for path in _expand(paths):
        file = str(path)
        before = len(rows)
        for doc, line in load_documents(path):
            found = detect_format(doc)
            if found is None:
                raise MeshsimInputError(_NOT_TRACES, file=file, line=line)
            if format is not None and found != format:
                raise MeshsimInputError(
                    f"--format {format} was asked for, but this file looks like {found} JSON",
                    file=file,
                    line=line,
                )
            formats[file] = found
            got, notes = spans_from_document(doc, found, file)
            rows.extend(got)
            warnings.extend(notes)
        if len(rows) == before:
            warnings.append(f"{file}: a {formats.get(file, 'trace')} file with no spans")
    if not rows:
        raise MeshsimInputError("no spans in the trace files", file=", ".join(formats) or None)
    df = spans_frame(rows)
    df, more = check_spans(df)
    df.attrs["warnings"] = warnings + more
    df.attrs["formats"] = formats
    return df


def spans_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build the span table with :data:`SPAN_COLUMNS` and their dtypes from row dicts."""
    df = pd.DataFrame.from_records(rows, columns=list(SPAN_COLUMNS))
    return coerce_spans(df)


def coerce_spans(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with every span column present and typed (missing ones are NaN)."""
    df = df.copy()
    for col in SPAN_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    for col in ("start_s", "duration_s", "status_code", "request_bytes", "response_bytes"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["error"] = df["error"].astype(object).where(df["error"].notna(), False).astype(bool)
    for col in (
        "trace_id",
        "span_id",
        "parent_id",
        "service",
        "name",
        "kind",
        "version",
        "instance",
        "location",
        "peer_service",
    ):
        df[col] = df[col].astype("str").where(df[col].notna(), np.nan) if len(df) else df[col].astype("str")
    extra = [c for c in df.columns if c not in SPAN_COLUMNS]
    return df[list(SPAN_COLUMNS) + extra]


def check_spans(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop repeated spans and count the problems that leave the data usable.

    Returns the cleaned table and warning sentences (with counts): repeated span
    ids, negative durations (set to 0), parents not in the input (those spans are
    then treated as the first span of a partial trace), and children that start
    before or end after their parent (clock skew between hosts).
    """
    notes: list[str] = []
    dup = df.duplicated(["trace_id", "span_id"], keep="first")
    if dup.any():
        notes.append(f"{int(dup.sum()):,} span(s) appeared more than once (same trace and span id); kept the first")
        df = df.loc[~dup].reset_index(drop=True)
    neg = df["duration_s"] < 0
    if neg.any():
        notes.append(f"{int(neg.sum()):,} span(s) end before they start; their duration is set to 0")
        df.loc[neg, "duration_s"] = 0.0
    keys = pd.Index(df["trace_id"] + "/" + df["span_id"])
    has_parent = df["parent_id"].notna()
    parent_pos = keys.get_indexer(pd.Index(df["trace_id"] + "/" + df["parent_id"].fillna("")))
    orphan = has_parent & (parent_pos < 0)
    if orphan.any():
        traces = df.loc[orphan, "trace_id"].nunique()
        notes.append(
            f"{int(orphan.sum()):,} span(s) in {traces:,} trace(s) name a parent that is not in the input "
            "(partial traces); they are used as the first span of what remains"
        )
    linked = parent_pos >= 0
    if linked.any():
        child = df.loc[linked]
        parent = df.iloc[parent_pos[linked]]
        tol = 1e-6  # one microsecond: Jaeger and Zipkin resolution
        early = child["start_s"].to_numpy() < parent["start_s"].to_numpy() - tol
        late = (child["start_s"] + child["duration_s"]).to_numpy() > (
            parent["start_s"] + parent["duration_s"]
        ).to_numpy() + tol
        outside = early | late
        if outside.any():
            notes.append(
                f"{int(outside.sum()):,} span(s) start before or end after their parent "
                "(clock skew between hosts, or asynchronous work); kept as they are"
            )
    return df, notes
