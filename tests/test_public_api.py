"""The curated public API: each public module's ``__all__`` is exactly the list below.

A name added to or removed from a module's ``__all__`` changes what users may import; this
test makes that a deliberate edit here (as httpx's ``test_exported_members`` does). It also
checks that importing meshsim has no side effects and pulls in no heavy library, and that
the app and notebooks use only public names.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_API = {
    "meshsim": {
        "Comparison",
        "EffectivePolicy",
        "EndpointStats",
        "InputProblem",
        "LoadBalancer",
        "MeshsimInputError",
        "ReplicationResult",
        "Results",
        "Scenario",
        "__version__",
        "apply_overrides",
        "compare",
        "json_schema",
        "load_scenario",
        "resolve_policy",
        "run_replication",
        "simulate",
        "sweep",
        "sweep_figure",
    },
    "meshsim.scenario": {
        "ArgoStep",
        "Autoscaling",
        "CallSpec",
        "CallStep",
        "DistSpec",
        "EffectivePolicy",
        "Fault",
        "LATENCY_METRICS",
        "Link",
        "LoadBalancerSpec",
        "METRIC_KIND",
        "OutlierParams",
        "PolicySpec",
        "Rollout",
        "SLO_METRICS",
        "Scenario",
        "Service",
        "ServicePolicySpec",
        "ServiceVersion",
        "SloSpec",
        "Workload",
        "json_schema",
        "json_schema_text",
        "line_of",
        "load_scenario",
        "resolve_policy",
        "scenario_from_dict",
    },
    "meshsim.meshes": {
        "ImportResult",
        "MESHES",
        "MESH_WIDE",
        "MeshUnit",
        "NO_PRESET",
        "Note",
        "Origin",
        "OutlierDefaults",
        "PRESETS",
        "PRESET_FOR_FORMAT",
        "PRESET_NAMES",
        "PROXY_FOR_PRESET",
        "PROXY_NAMES",
        "PROXY_OVERHEAD",
        "Preset",
        "Proxy",
        "RETRY_BUDGET_DEFAULTS",
        "SUPPORTED_FORMATS",
        "Semantic",
        "apply_mesh_wide",
        "import_mesh_config",
        "iter_files",
        "match_localities",
        "preset",
        "render_report",
        "render_yaml",
    },
    "meshsim.topology": {
        "EGRESS_USD_PER_GB",
        "LinkDelay",
        "MSS_BYTES",
        "NetworkModel",
        "Path",
        "REGION_METRO",
        "REGION_RTT_MS",
        "RTT_FIT_INTERCEPT_MS",
        "RTT_FIT_MS_PER_KM",
        "TCP_MIN_RTO_S",
        "default_latency",
        "distance_km",
        "egress_price_per_gb",
        "fallback_latency",
        "region_rtt_ms",
        "relation",
        "under",
    },
    "meshsim.engine": {
        "Breaker",
        "Control",
        "EndpointStats",
        "HostHealth",
        "LoadBalancer",
        "RateLimiter",
        "RetryLimit",
        "RetryPolicy",
        "Simulation",
    },
    "meshsim.metrics": {
        "CAUSES",
        "EdgeMeter",
        "LogHistogram",
        "RELATIVE_ACCURACY",
        "Recorder",
        "ServiceMeter",
        "WorkloadMeter",
    },
    "meshsim.slo": {
        "METRICS_COLUMNS",
        "OPENSLO_API",
        "STATUS_LABEL",
        "SloFile",
        "SloFileWarning",
        "SloVerdict",
        "check_exit_code",
        "count_passed_failed",
        "describe",
        "evaluate_slos",
        "format_interval",
        "format_limit",
        "format_value",
        "inconclusive_text",
        "load_slo_file",
        "parse_slo_text",
        "read_slo_file",
        "slo_lines_in_yaml",
        "summary_line",
        "validate_slo_targets",
        "verdicts_frame",
        "verdicts_records",
    },
    "meshsim.results": {
        "ReplicationResult",
        "Results",
        "SLO_METRICS",
    },
    "meshsim.experiments": {
        "ClusterError",
        "Comparison",
        "MAX_ATTEMPTS_PER_REQUEST",
        "MAX_REPLICAS",
        "MAX_REQUESTS",
        "RunSize",
        "METRIC_UNITS",
        "MIN_EFFECT",
        "SweepPlan",
        "apply_overrides",
        "check_size",
        "compare",
        "estimate_size",
        "map_jobs",
        "map_replications",
        "metric_column",
        "metric_unit",
        "paired_table",
        "parse_override",
        "parse_param",
        "parse_value",
        "plan_sweep",
        "replication_job",
        "run_replication",
        "simulate",
        "sweep",
        "write_table",
    },
    "meshsim.analysis": {
        "blast_radius",
        "callers_of",
        "critical_path",
        "critical_paths",
        "dependency_graph",
        "dependents",
        "explain_rows",
        "setting_rows",
        "fault_targets",
        "fault_windows",
    },
    "meshsim.calibrate": {
        "COMPARE_COLUMNS",
        "CalibrationResult",
        "FitResult",
        "HopOverhead",
        "MeshMetrics",
        "RateProfile",
        "SPAN_COLUMNS",
        "SUMMARY_COLUMNS",
        "SpanAnalysis",
        "TwinCheck",
        "TwinVerdict",
        "analyse_spans",
        "calibrate",
        "call_steps",
        "compare_observed",
        "detect_format",
        "fit_duration",
        "fit_hop_overhead",
        "histogram_quantile",
        "histogram_spec",
        "hop_overhead_samples",
        "observed_summary",
        "predicted_from_results",
        "rate_profile",
        "read_manifests",
        "read_prometheus",
        "read_traces",
        "simulated_spans",
        "synthetic_spans",
        "trace_format_for",
        "twin_check",
        "verdict",
        "write_jaeger_json",
        "write_otlp_json",
        "write_simulated_traces",
        "write_traces",
        "write_zipkin_json",
    },
    "meshsim.lab": {
        "LabError",
        "LabOptions",
        "LabPlan",
        "LabReport",
        "dynamic_config",
        "error_codes",
        "find_traefik",
        "lab_html",
        "lab_table",
        "plan_lab",
        "run_lab",
    },
    "meshsim.viz": {
        "CAUSE_COLORS",
        "CHARTS",
        "HEADLINE_METRICS",
        "add_fault_windows",
        "causes_long",
        "compare_bars",
        "compare_latency",
        "comparison_frame",
        "cost_per_edge",
        "edge_cost_frame",
        "empty_figure",
        "errors_by_cause",
        "fault_frame",
        "figures",
        "graph_frames",
        "graph_positions",
        "latency_over_time",
        "pick_entity",
        "retries_amplification",
        "rollout_checks_frame",
        "rollout_frame",
        "rollout_timeline",
        "service_frame",
        "service_graph",
        "slo_frame",
        "slo_headline",
        "sweep_figure",
        "workload_frame",
    },
    "meshsim.report": {
        "CHART_HEADINGS",
        "render_html_report",
        "write_html_report",
    },
    "meshsim.gate": {
        "emit_ci_outputs",
        "escape_data",
        "escape_property",
        "github_annotations",
        "github_summary_markdown",
        "junit_element",
        "junit_xml",
        "print_verdicts",
        "verdicts_table",
        "write_junit",
    },
    "meshsim.yamlio": {
        "LineList",
        "LineMap",
        "MAX_DEPTH",
        "MAX_LINES",
        "MAX_VALUES",
        "dump_yaml",
        "is_map",
        "is_seq",
        "item_line",
        "key_line",
        "locate",
        "node_line",
        "read_hcl",
        "read_json",
        "read_yaml",
        "read_yaml_documents",
    },
    "meshsim.stats": {
        "MvaResult",
        "mean_ci",
        "mva",
        "paired_p_value",
    },
    "meshsim.units": {
        "UnitError",
        "format_duration",
        "parse_bandwidth",
        "parse_duration",
        "parse_rate",
        "parse_ratio",
        "parse_size",
    },
    "meshsim.errors": {
        "InputProblem",
        "MAX_INPUT_BYTES",
        "STDIN",
        "MeshsimInputError",
        "MeshsimOutputError",
        "decode_input_text",
        "display_name",
        "is_stdin",
        "one_line",
        "os_reason",
        "read_input_bytes",
        "read_input_text",
        "write_output",
    },
    "meshsim.rng": {
        "Streams",
        "replication_seeds",
    },
    "meshsim.distributions": {
        "Distribution",
        "Sampler",
        "Z99",
        "constant",
        "uniform_sampler",
    },
    "meshsim.cli": {
        "build_parser",
        "main",
    },
}


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_all_is_exactly_the_public_api(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == PUBLIC_API[module]
    assert len(mod.__all__) == len(set(mod.__all__)), "a name is listed twice"
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} does not resolve"


def test_import_has_no_side_effects_and_stays_light() -> None:
    # Seeded global RNG untouched, no threads started, and no heavy library imported: the
    # public names load on first use, so `import meshsim` and `meshsim --help` stay fast.
    code = (
        "import sys, threading, numpy.random as r; s = r.get_state()[1][:3].tolist(); import meshsim; "
        "assert r.get_state()[1][:3].tolist() == s; assert threading.active_count() == 1; "
        "heavy = sorted(m for m in ('scipy', 'pandas', 'plotly', 'simpy', 'pydantic') if m in sys.modules); "
        "print('ok' if not heavy else heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stdout + out.stderr


def _meshsim_imports(source: str) -> list[str]:
    return re.findall(r"^\s*(?:from|import)\s+(meshsim[\w.]*)", source, flags=re.MULTILINE)


def test_app_and_notebooks_use_only_public_modules() -> None:
    texts = {"app.py": (ROOT / "app.py").read_text(encoding="utf-8")}
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        texts[nb.name] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    private = [
        f"{name}: {module}"
        for name, text in texts.items()
        for module in _meshsim_imports(text)
        if any(part.startswith("_") for part in module.split("."))
    ]
    assert not private, private
