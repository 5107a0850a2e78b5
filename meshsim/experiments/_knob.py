"""The what-if knob: one control tied to one override path, and the text forms knobs share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from meshsim.errors import MeshsimInputError
from meshsim.experiments._whatif import parse_value
from meshsim.scenario import Scenario

__all__ = ["Group", "Knob", "Widget", "ms", "ms_text", "parse_profile", "profile_text"]

Widget = Literal["number", "int", "choice", "text", "toggle", "percent"]
Group = Literal["run", "traffic", "capacity", "policy", "canary"]


def _same(a: Any) -> Any:
    return a


@dataclass(frozen=True)
class Knob:
    """One what-if control.

    ``value`` is what the widget starts at (in the unit its label names), ``file_value``
    what the file says (they differ only when a default was capped, e.g. a long duration).
    ``encode`` turns a widget value into the value written at ``path``. Knobs that share a
    ``path`` each set one key (``part``) of one mapping; ``rest`` names the key that takes
    100 minus the others (a traffic split's first version).
    """

    key: str
    group: Group
    label: str
    widget: Widget
    value: Any
    path: str
    encode: Callable[[Any], Any] = _same
    scope: str | None = None
    part: str | None = None
    rest: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    help: str = ""
    file_value: Any = field(default=None)

    def __post_init__(self) -> None:
        """``file_value`` defaults to ``value``."""
        if self.file_value is None:
            object.__setattr__(self, "file_value", self.value)

    def moved(self, value: Any) -> bool:
        """True when ``value`` differs from the file's (floats compared to 1e-9)."""
        if isinstance(value, float) and isinstance(self.file_value, (int, float)):
            return not math.isclose(value, float(self.file_value), rel_tol=1e-9, abs_tol=1e-9)
        return bool(value != self.file_value)


def ms(seconds: float | None) -> float:
    """Seconds as the milliseconds a widget shows (0 for none), rounded to the microsecond."""
    return 0.0 if not seconds else float(round(seconds * 1e3, 3))


def ms_text(ms: float) -> str:
    """Milliseconds in the scenario's own syntax (``750ms``)."""
    return f"{ms:g}ms"


def profile_text(scenario: Scenario, index: int) -> str:
    """A workload's rate changes as ``"20s: 600/s, 25s: 300/s"``."""
    return ", ".join(f"{p.at:g}s: {p.rate:g}/s" for p in scenario.workload[index].profile)


def parse_profile(text: str) -> list[dict[str, Any]]:
    """``"20s: 600/s, 25s: 300/s"`` -> ``[{"at": "20s", "rate": "600/s"}, ...]`` (read as YAML)."""
    if not text.strip():
        return []
    value = parse_value("{" + text + "}")
    if not isinstance(value, dict):
        raise MeshsimInputError(f"'{text}': write time: rate pairs, e.g. 20s: 600/s, 25s: 300/s", field="profile")
    return [{"at": str(at), "rate": rate if isinstance(rate, str) else f"{rate:g}/s"} for at, rate in value.items()]
