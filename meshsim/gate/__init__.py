"""The CI gate: judge SLOs on simulated metrics and report for people and CI systems.

``meshsim check`` uses it in this order::

    slo_file = read_slo_file(path)                 # or scenario.slos + slo_lines_in_yaml(...)
    verdicts = evaluate_slos(slos, metrics, confidence, allow_inconclusive)
    print_verdicts(verdicts)                       # rich table + "N passed, N failed"
    write_junit(verdicts, out, scenario.name)      # --junit OUT
    emit_ci_outputs(verdicts, scenario_name=...)   # GitHub annotations / job summary
    exit(check_exit_code(verdicts))                # 0 all met, 1 otherwise
"""

from __future__ import annotations

from .evaluate import (
    METRICS_COLUMNS,
    SloVerdict,
    check_exit_code,
    count_passed_failed,
    evaluate_slos,
    validate_slo_targets,
    verdicts_frame,
    verdicts_records,
)
from .format import (
    describe,
    format_interval,
    format_limit,
    format_value,
    inconclusive_text,
    summary_line,
)
from .github import (
    emit_ci_outputs,
    escape_data,
    escape_property,
    github_annotations,
    github_summary_markdown,
)
from .junit import junit_element, junit_xml, write_junit
from .openslo import OPENSLO_API
from .slofile import (
    SloFile,
    SloFileWarning,
    load_slo_file,
    parse_slo_text,
    read_slo_file,
    slo_lines_in_yaml,
)
from .terminal import print_verdicts, verdicts_table

__all__ = [
    "METRICS_COLUMNS",
    "OPENSLO_API",
    "SloFile",
    "SloFileWarning",
    "SloVerdict",
    "check_exit_code",
    "count_passed_failed",
    "describe",
    "emit_ci_outputs",
    "escape_data",
    "escape_property",
    "evaluate_slos",
    "format_interval",
    "format_limit",
    "format_value",
    "github_annotations",
    "github_summary_markdown",
    "inconclusive_text",
    "junit_element",
    "junit_xml",
    "load_slo_file",
    "parse_slo_text",
    "print_verdicts",
    "read_slo_file",
    "slo_lines_in_yaml",
    "summary_line",
    "validate_slo_targets",
    "verdicts_frame",
    "verdicts_records",
    "verdicts_table",
    "write_junit",
]
