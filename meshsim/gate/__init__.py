"""The CI gate's adapters: a terminal table, JUnit XML and GitHub annotations of SLO verdicts.

``meshsim check`` uses them in this order::

    slo_file = read_slo_file(path)                 # meshsim.slo (or scenario.slos)
    verdicts = evaluate_slos(slos, metrics, confidence, allow_inconclusive)
    print_verdicts(verdicts)                       # rich table + "N passed, N failed"
    write_junit(verdicts, out, scenario.name)      # --junit OUT
    emit_ci_outputs(verdicts, scenario_name=...)   # GitHub annotations / job summary
    exit(check_exit_code(verdicts))                # 0 all met, 1 otherwise
"""

from __future__ import annotations

from meshsim.gate._github import (
    emit_ci_outputs,
    escape_data,
    escape_property,
    github_annotations,
    github_summary_markdown,
)
from meshsim.gate._junit import junit_element, junit_xml, write_junit
from meshsim.gate._terminal import print_verdicts, verdicts_table

__all__ = [
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
]
