"""SLOs: read them (meshsim's ``slos:`` or OpenSLO v1) and judge them on simulated metrics.

The judge decides each SLO from the replication values with a Student-t interval:
met, missed, or inconclusive when the interval straddles the limit. The CI adapters
that print and export verdicts live in :mod:`meshsim.gate`.
"""

from __future__ import annotations

from meshsim.slo._file import (
    SloFile,
    SloFileWarning,
    load_slo_file,
    parse_slo_text,
    read_slo_file,
    slo_lines_in_yaml,
)
from meshsim.slo._format import (
    STATUS_LABEL,
    describe,
    format_interval,
    format_limit,
    format_value,
    inconclusive_text,
    summary_line,
)
from meshsim.slo._judge import (
    METRICS_COLUMNS,
    SloVerdict,
    check_exit_code,
    count_passed_failed,
    evaluate_slos,
    validate_slo_targets,
    verdicts_frame,
    verdicts_records,
)
from meshsim.slo._openslo import OPENSLO_API

__all__ = [
    "STATUS_LABEL",
    "describe",
    "format_interval",
    "format_limit",
    "format_value",
    "inconclusive_text",
    "summary_line",
    "METRICS_COLUMNS",
    "OPENSLO_API",
    "SloFile",
    "SloFileWarning",
    "SloVerdict",
    "check_exit_code",
    "count_passed_failed",
    "evaluate_slos",
    "load_slo_file",
    "parse_slo_text",
    "read_slo_file",
    "slo_lines_in_yaml",
    "validate_slo_targets",
    "verdicts_frame",
    "verdicts_records",
]
