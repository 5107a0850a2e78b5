"""Export the sampled requests of a simulation (``meshsim run --traces OUT``).

Each replication starts its clock at 0, so their spans would overlap in time. The
export lays the replications end to end after dropping the warm-up (replication
``r`` starts at ``r x duration``), so a calibration from the file sees one
continuous observation at the scenario's rate, and puts the whole run on the wall
clock at :data:`TRACE_EPOCH_S` so that trace viewers show sensible dates (a fixed
instant: the same run gives the same file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from meshsim.calibrate._export import write_traces
from meshsim.calibrate._traces import FORMATS
from meshsim.errors import MeshsimInputError, write_output

__all__ = ["TRACE_EPOCH_S", "simulated_spans", "trace_format_for", "write_simulated_traces"]

#: 2024-01-01T00:00:00Z, where simulated time 0 (after warm-up) lands in exported files.
TRACE_EPOCH_S = 1_704_067_200.0


def trace_format_for(path: str | Path, format: str | None = None) -> str:
    """The trace format to write: ``format`` when given, else from the file name.

    A name containing ``jaeger`` or ``zipkin`` (``run.jaeger.json``, ``zipkin/out.json.gz``)
    picks that format; anything else is OTLP JSON.
    """
    if format is not None:
        if format not in FORMATS:
            raise MeshsimInputError(
                f"unknown trace format {format!r}; use one of {', '.join(FORMATS)}", field="--trace-format"
            )
        return format
    name = str(path).lower()
    for fmt in ("jaeger", "zipkin"):
        if fmt in name:
            return fmt
    return "otlp"


def simulated_spans(results: Any) -> pd.DataFrame:
    """The spans of all replications on one time line (seconds from the end of warm-up).

    ``results`` is a :class:`meshsim.results.Results` run with ``trace_sample`` > 0.
    """
    spans: pd.DataFrame = results.spans()
    if spans.empty:
        return spans
    scenario = results.scenario
    shift = spans["replication"].astype(float) * float(scenario.duration) - float(scenario.warmup)
    return spans.assign(start_s=spans["start_s"].astype(float) + shift)


def write_simulated_traces(
    results: Any, path: str | Path, format: str | None = None, epoch_s: float = TRACE_EPOCH_S
) -> tuple[Path, int]:
    """Write a run's sampled requests as OTLP, Jaeger or Zipkin JSON; returns (path, traces written).

    Raises:
        MeshsimInputError: unknown format, or a folder that cannot be written.
    """
    fmt = trace_format_for(path, format)
    spans = simulated_spans(results)
    p = Path(path)
    if spans.empty:
        # Still a valid, empty file of the format, so tools downstream do not choke.
        empty = {"otlp": '{"resourceSpans":[]}', "jaeger": '{"data":[]}', "zipkin": "[]"}[fmt]
        write_output(p, empty, what="traces")
        return p, 0
    write_traces(spans, p, fmt, epoch_s)  # through write_output: atomic, OS errors as MeshsimOutputError
    return p, int(spans["trace_id"].nunique())
