"""Pure analysis on scenarios and result tables (no state, no RNG).

Cascades (who depends on whom, critical paths, blast radius of a fault) and the
effective policy of every edge with the line, import or preset that set each value.
"""

from __future__ import annotations

from meshsim.analysis._cascade import (
    blast_radius,
    critical_path,
    critical_paths,
    dependency_graph,
    dependents,
    fault_targets,
    fault_windows,
)
from meshsim.analysis._explain import (
    SUMMARY_COLUMNS,
    callers_of,
    explain_rows,
    explain_table,
    policy_summary,
    setting_rows,
)

__all__ = [
    "SUMMARY_COLUMNS",
    "blast_radius",
    "callers_of",
    "critical_path",
    "critical_paths",
    "dependency_graph",
    "dependents",
    "explain_rows",
    "explain_table",
    "setting_rows",
    "fault_targets",
    "fault_windows",
    "policy_summary",
]
