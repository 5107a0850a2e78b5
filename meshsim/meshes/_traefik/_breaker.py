"""The expression of Traefik's circuitBreaker middleware (oxy v2.2.0 ``cbreaker/predicates.go``).

meshsim reads the three metrics Traefik documents, each compared with ``>``:
``NetworkErrorRatio()``, ``ResponseCodeRatio(from, to, dividedByFrom, dividedByTo)`` and
``LatencyAtQuantileMS(quantile)`` (docs/references.md §6 [T5]).
"""

from __future__ import annotations

import re

__all__ = ["BREAKER_METRICS", "parse_breaker_expression"]

#: The metric functions meshsim evaluates, and how many arguments each takes.
BREAKER_METRICS = {"NetworkErrorRatio": 0, "ResponseCodeRatio": 4, "LatencyAtQuantileMS": 1}

_EXPRESSION = re.compile(r"^\s*(\w+)\(([^)]*)\)\s*>\s*([0-9]*\.?[0-9]+)\s*$")


def parse_breaker_expression(expression: str) -> tuple[str, float, tuple[float, ...]]:
    """``"NetworkErrorRatio() > 0.3"`` -> (metric, threshold, arguments); ValueError says what is wrong."""
    usage = "use NetworkErrorRatio() > x, ResponseCodeRatio(a,b,c,d) > x or LatencyAtQuantileMS(q) > x"
    m = _EXPRESSION.match(expression)
    if not m or m.group(1) not in BREAKER_METRICS:
        raise ValueError(f"circuit_breaker expression {expression!r} not supported; {usage}")
    metric = m.group(1)
    try:
        args = tuple(float(a) for a in m.group(2).split(",") if a.strip())
    except ValueError:
        raise ValueError(f"circuit_breaker expression {expression!r}: arguments must be numbers; {usage}") from None
    if len(args) != BREAKER_METRICS[metric]:
        raise ValueError(
            f"circuit_breaker expression {expression!r}: {metric} takes {BREAKER_METRICS[metric]} argument(s)"
        )
    return metric, float(m.group(3)), args
