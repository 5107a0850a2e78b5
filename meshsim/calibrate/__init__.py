"""Calibrate a scenario from real traces, metrics and manifests; check a twin; export traces.

- :func:`read_traces`: OTLP / Jaeger / Zipkin JSON (plain or gzip) -> one span table
  (:data:`SPAN_COLUMNS`, seconds); problems that leave the data usable are in
  ``df.attrs["warnings"]``.
- :func:`analyse_spans`: requests, calls, self times and the networkx call graph.
- :func:`calibrate`: traces + Prometheus + Kubernetes -> :class:`CalibrationResult`
  (``.scenario`` dict, ``.provenance``, ``.warnings``, ``.to_yaml()``).
- :func:`observed_summary`, :func:`compare_observed`, :func:`verdict`: the twin check
  without the simulator.
- :func:`write_otlp_json`, :func:`write_jaeger_json`, :func:`write_zipkin_json`: export
  a span table so real tools (and :func:`read_traces`) can read it;
  :func:`write_simulated_traces` does it for a simulation's sampled requests.
- :func:`twin_check`: simulate a scenario at the traces' load and compare (:class:`TwinCheck`).
"""

from __future__ import annotations

from meshsim.calibrate._calibration import CalibrationResult, calibrate
from meshsim.calibrate._export import write_jaeger_json, write_otlp_json, write_traces, write_zipkin_json
from meshsim.calibrate._fit import FitResult, RateProfile, fit_duration, rate_profile
from meshsim.calibrate._graph import SpanAnalysis, analyse_spans, call_steps
from meshsim.calibrate._k8s import read_manifests
from meshsim.calibrate._overhead import HopOverhead, fit_hop_overhead, hop_overhead_samples
from meshsim.calibrate._prometheus import MeshMetrics, histogram_quantile, histogram_spec, read_prometheus
from meshsim.calibrate._runtraces import simulated_spans, trace_format_for, write_simulated_traces
from meshsim.calibrate._synthetic import synthetic_spans
from meshsim.calibrate._traces import SPAN_COLUMNS, detect_format, read_traces
from meshsim.calibrate._twin import (
    COMPARE_COLUMNS,
    SUMMARY_COLUMNS,
    TwinVerdict,
    compare_observed,
    observed_summary,
    predicted_from_results,
    verdict,
)
from meshsim.calibrate._twincheck import TwinCheck, twin_check

__all__ = [
    "SPAN_COLUMNS",
    "SUMMARY_COLUMNS",
    "COMPARE_COLUMNS",
    "read_traces",
    "detect_format",
    "analyse_spans",
    "SpanAnalysis",
    "call_steps",
    "fit_duration",
    "FitResult",
    "rate_profile",
    "RateProfile",
    "read_prometheus",
    "MeshMetrics",
    "histogram_spec",
    "histogram_quantile",
    "read_manifests",
    "calibrate",
    "CalibrationResult",
    "observed_summary",
    "predicted_from_results",
    "compare_observed",
    "verdict",
    "TwinVerdict",
    "write_otlp_json",
    "write_jaeger_json",
    "write_zipkin_json",
    "write_traces",
    "synthetic_spans",
    "HopOverhead",
    "fit_hop_overhead",
    "hop_overhead_samples",
    "write_simulated_traces",
    "simulated_spans",
    "trace_format_for",
    "twin_check",
    "TwinCheck",
]
