"""Trace readers: hand-written OTLP, Jaeger and Zipkin files of one small shop give the same graph.

The files in tests/data/traces follow each format's published schema:
OTLP/JSON (opentelemetry-proto ExportTraceServiceRequest, incl. the pre-1.0
``instrumentationLibrarySpans`` spelling, gzipped), Jaeger's query API
(``data[].spans`` + ``processes``) and Zipkin v2 (a span list, with B3 shared
client/server ids for the cart call). Three traces: frontend calls cart and currency
in parallel, then payment (2 of 3 traces); cart calls an untraced redis 2, 1 and 2 times.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from meshsim.calibrate import analyse_spans, call_steps, read_traces
from meshsim.calibrate._traces import SPAN_COLUMNS, normalise_id
from meshsim.errors import MeshsimInputError

DATA = Path(__file__).resolve().parents[1] / "data" / "traces"
SHOP = ["otlp_shop.json", "otlp_shop_legacy.json.gz", "jaeger_shop.json", "zipkin_shop.json"]


def _graph_summary(path: Path) -> dict:
    a = analyse_spans(read_traces(path))
    edges = {
        (u, v): (d["calls"], d["requests_with_call"], round(d["probability"], 4), d["parallel_with"])
        for u, v, d in a.graph.edges(data=True)
    }
    self_ms = {s: sorted(np.round(g["self_s"].to_numpy() * 1e3, 3).tolist()) for s, g in a.entries.groupby("service")}
    steps = {s: call_steps(a.graph, s) for s in a.graph}
    errors = {s: int(g["error"].sum()) for s, g in a.entries.groupby("service")}
    return {"edges": edges, "self_ms": self_ms, "steps": steps, "errors": errors}


@pytest.mark.parametrize("name", SHOP)
def test_each_format_gives_the_hand_computed_shop(name: str) -> None:
    got = _graph_summary(DATA / name)
    assert got["edges"] == {
        ("frontend", "cart"): (3, 3, 1.0, ["currency"]),
        ("frontend", "currency"): (3, 3, 1.0, ["cart"]),
        ("frontend", "payment"): (2, 2, 0.6667, []),
        ("cart", "redis"): (5, 3, 1.0, []),
    }
    # Self time = entry span minus the union of call intervals, worked out by hand:
    # trace A frontend 50 - (|[2,22] u [2.1,17.1]| + |[25,45]|) = 50 - 40 = 10 ms, etc.
    assert got["self_ms"]["frontend"] == [5.0, 10.0, 13.0]
    assert got["self_ms"]["cart"] == [13.0, 13.0, 22.0]
    assert got["self_ms"]["redis"] == [2.0, 3.0, 3.0, 4.0, 4.0]
    assert got["steps"]["frontend"] == [
        {"parallel": ["cart", "currency"]},
        {"to": "payment", "probability": 0.6667},
    ]
    assert got["steps"]["cart"] == ["redis", {"to": "redis", "probability": 0.6667}]
    assert got["errors"] == {"frontend": 1, "cart": 1, "currency": 0, "payment": 0, "redis": 0}


def test_all_formats_agree_on_span_fields() -> None:
    tables = {n: read_traces(DATA / n) for n in SHOP}
    cols = [
        "trace_id",
        "service",
        "kind",
        "error",
        "status_code",
        "request_bytes",
        "response_bytes",
        "version",
    ]
    ref = None
    for name, df in tables.items():
        assert list(df.columns) == list(SPAN_COLUMNS)
        assert df.attrs["warnings"] == []
        key = df.sort_values(["trace_id", "start_s", "service", "kind"])[cols + ["start_s", "duration_s"]]
        key = key.reset_index(drop=True)
        if ref is None:
            ref = key
            continue
        assert key[cols].astype(str).equals(ref[cols].astype(str)), name
        np.testing.assert_allclose(key["start_s"], ref["start_s"], atol=1e-6)
        np.testing.assert_allclose(key["duration_s"], ref["duration_s"], atol=1e-9)


def test_formats_are_detected_and_reported() -> None:
    df = read_traces([DATA / n for n in SHOP[:3]])
    assert sorted(df.attrs["formats"].values()) == ["jaeger", "otlp", "otlp"]
    # The same spans in three files: repeated ids are dropped, and said so.
    assert len(df) == 24
    assert any("more than once" in w for w in df.attrs["warnings"])


def test_zipkin_shared_span_halves_get_distinct_ids() -> None:
    df = read_traces(DATA / "zipkin_shop.json")
    cart = df[(df["service"] == "cart") & (df["kind"] == "server")]
    client = df[df["span_id"].isin(cart["parent_id"])]
    assert set(client["service"]) == {"frontend"} and set(client["kind"]) == {"client"}
    assert (client["span_id"].str.endswith("-c")).all()


def test_otlp_details(tmp_path: Path) -> None:
    trace = bytes(range(16))
    span = bytes(range(8))
    doc = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "api"}},
                        {"key": "cloud.provider", "value": {"stringValue": "gcp"}},
                        {"key": "cloud.region", "value": {"stringValue": "us-central1"}},
                        {"key": "cloud.availability_zone", "value": {"stringValue": "us-central1-b"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                # base64 ids, as exporters that use the generic proto mapping write them
                                "traceId": base64.b64encode(trace).decode(),
                                "spanId": base64.b64encode(span).decode(),
                                "parentSpanId": "0000000000000000",
                                "name": "GET",
                                "kind": "SPAN_KIND_SERVER",
                                "startTimeUnixNano": "1000000000",
                                "endTimeUnixNano": "1250000000",
                                "attributes": [{"key": "http.status_code", "value": {"intValue": "503"}}],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    p = tmp_path / "one.json"
    p.write_text(json.dumps(doc))
    row = read_traces(p).iloc[0]
    assert row["trace_id"] == trace.hex() and row["span_id"] == span.hex()
    assert row["parent_id"] != row["parent_id"]  # all-zero parent means root: NaN
    assert row["location"] == "gcp/us-central1/b"
    assert row["duration_s"] == pytest.approx(0.25)
    assert row["error"]  # no span status, so the 5xx decides


def test_json_lines_from_the_collector_file_exporter(tmp_path: Path) -> None:
    doc = json.loads((DATA / "otlp_shop.json").read_text())
    lines = [json.dumps({"resourceSpans": [rs]}) for rs in doc["resourceSpans"]]
    p = tmp_path / "traces.jsonl"
    p.write_text("\n".join(lines) + "\n")
    assert len(read_traces(p)) == 24


def test_api_answer_shapes(tmp_path: Path) -> None:
    # Zipkin's /api/v2/traces answers a list of traces; some tools save one Jaeger trace bare.
    spans = json.loads((DATA / "zipkin_shop.json").read_text())
    by_trace: dict[str, list] = {}
    for s in spans:
        by_trace.setdefault(s["traceId"], []).append(s)
    z = tmp_path / "zipkin_api.json"
    z.write_text(json.dumps(list(by_trace.values())))
    assert len(read_traces(z, format="zipkin")) == 24
    one = json.loads((DATA / "jaeger_shop.json").read_text())["data"][1]
    j = tmp_path / "one_trace.json"
    j.write_text(json.dumps(one))
    assert set(read_traces(j)["service"]) == {"frontend", "cart", "currency"}


def test_gzip_is_found_by_its_magic_bytes_not_its_name(tmp_path: Path) -> None:
    p = tmp_path / "export.json"  # gzip data under a plain name, as some tools save it
    p.write_bytes(gzip.compress((DATA / "jaeger_shop.json").read_bytes()))
    assert len(read_traces(p)) == 24


def test_ids_are_normalised() -> None:
    assert normalise_id("ABC", 16) == "0000000000000abc"
    assert normalise_id("", 16) is None
    assert normalise_id("0" * 16, 16) is None
    assert normalise_id("5af7183fb1d4cf5f", 32) == "0000000000000000" + "5af7183fb1d4cf5f"


# ----------------------------------------------------------------------------- bad input


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


@pytest.mark.parametrize(
    "content, needle, line",
    [
        ("", "empty file", None),
        ("   \n", "empty file", None),
        ('{"resourceSpans": [\n  {"resource": }\n]}', "invalid JSON", 2),
        ('{"kind": "Deployment"}', "not a trace file", None),
        ("[1, 2, 3]", "not a trace file", None),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a text file", None),
        (b"\x1f\x8b\x08\x00garbage", "broken gzip", None),
        ('[{"traceId": "ab", "id": "cd"}]', "no usable spans", None),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, content: str | bytes, needle: str, line: int | None) -> None:
    p = _write(tmp_path, "bad.json", content)
    with pytest.raises(MeshsimInputError) as err:
        read_traces(p)
    problem = err.value.problems[0]
    assert needle in problem.message
    assert problem.file == str(p)
    assert problem.line == line
    assert str(p) in str(err.value)


def test_missing_file_and_wrong_format(tmp_path: Path) -> None:
    with pytest.raises(MeshsimInputError, match="not found"):
        read_traces(tmp_path / "nope.json")
    with pytest.raises(MeshsimInputError, match="looks like jaeger"):
        read_traces(DATA / "jaeger_shop.json", format="zipkin")
    with pytest.raises(MeshsimInputError, match="unknown trace format"):
        read_traces(DATA / "jaeger_shop.json", format="xray")


def test_json_lines_error_names_the_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.jsonl", '{"resourceSpans": []}\n{"resourceSpans": [}\n')
    with pytest.raises(MeshsimInputError) as err:
        read_traces(p)
    assert err.value.problems[0].line == 2


def test_unknown_parents_and_skew_are_warnings_with_counts(tmp_path: Path) -> None:
    spans = json.loads((DATA / "zipkin_shop.json").read_text())
    # Drop trace A's root: its three frontend client spans (cart, convert, charge) lose their parent.
    spans = [s for s in spans if s["id"] != "00f067aa0ba90001"]
    # Shift currency's server span of trace C 5 ms before its client span (clock skew).
    for s in spans:
        if s["id"] == "0c0c0c0c0c0c0007":
            s["timestamp"] -= 5000
    # A span without a timestamp is legal Zipkin (late data): skipped and counted.
    spans.append({"traceId": "6e0c63257de34c926f9efcd03927272e", "id": "0c0c0c0c0c0c00ff", "name": "late"})
    p = _write(tmp_path, "partial.json", json.dumps(spans))
    df = read_traces(p)
    warnings = " | ".join(df.attrs["warnings"])
    assert "skipped 1 malformed span" in warnings
    assert "3 span(s) in 1 trace(s) name a parent that is not in the input" in warnings
    assert "1 span(s) start before or end after their parent" in warnings
    a = analyse_spans(df)
    # The three orphaned client spans are one partial frontend request: the graph still
    # sees its calls (3 requests, cart called in each), but it has no usable self time.
    assert int(a.entries["partial"].sum()) == 1
    assert a.graph.nodes["frontend"]["requests"] == 3
    assert a.graph.edges["frontend", "cart"]["probability"] == 1.0
    assert any("grouped into 1 partial request" in w for w in a.warnings)
