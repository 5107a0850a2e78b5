"""Type aliases shared across the package (one definition each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

__all__ = ["JsonDict", "Progress"]

#: A progress callback: ``progress(done, total)``; ``done / total`` is the fraction finished.
#: Runs count in replications (``total``) and report fractions of one while it runs (``done``
#: 2.4 of 5), so a single long replication moves the bar too.
Progress: TypeAlias = Callable[[float, float], None]

#: A JSON object as the results and reports hold it (keys are strings).
JsonDict: TypeAlias = dict[str, Any]
