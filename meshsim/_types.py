"""Type aliases shared across the package (one definition each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

__all__ = ["JsonDict", "Progress"]

#: A progress callback: ``progress(done, total)``; ``done / total`` is the fraction finished.
Progress: TypeAlias = Callable[[int, int], None]

#: A JSON object as the results and reports hold it (keys are strings).
JsonDict: TypeAlias = dict[str, Any]
