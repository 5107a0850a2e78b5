"""Results of one or more replications: docs/results.md JSON, tidy DataFrames, confidence intervals.

:class:`Results` holds every replication's :class:`ReplicationResult`; its tables name
their unit (:data:`METRIC_UNITS`), and :func:`format_metric` is the one way numbers are
printed for people.
"""

from meshsim.results._replication import ReplicationResult
from meshsim.results._results import Results
from meshsim.results._units import METRIC_UNITS, format_metric, metric_with_unit
from meshsim.scenario import SLO_METRICS

__all__ = ["METRIC_UNITS", "ReplicationResult", "Results", "SLO_METRICS", "format_metric", "metric_with_unit"]
