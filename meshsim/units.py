"""Parse the unit-carrying values of a scenario file (docs/scenario.md, units).

This is the only module that knows about "ms" or "KB": everything inside the
package is float seconds, float requests per second, int bytes and float
ratios in [0, 1].
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

__all__ = [
    "UnitError",
    "parse_duration",
    "parse_rate",
    "parse_size",
    "parse_ratio",
    "parse_bandwidth",
    "format_duration",
]


class UnitError(ValueError):
    """A value that lacks a unit or carries one that is not understood."""


_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}
_DURATION_RE = re.compile(rf"^\s*{_NUMBER}\s*(ns|us|µs|ms|s|min|m|h)\s*$")

_RATE_UNITS = {"s": 1.0, "sec": 1.0, "m": 1 / 60.0, "min": 1 / 60.0, "h": 1 / 3600.0}
_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*(?:rps|/\s*(s|sec|min|m|h))?\s*$")

_SIZE_UNITS = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
}
_SIZE_RE = re.compile(rf"^\s*{_NUMBER}\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)

_BANDWIDTH_UNITS = {"bps": 1.0, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9}
_BANDWIDTH_RE = re.compile(rf"^\s*{_NUMBER}\s*([kmg]?bps)\s*$", re.IGNORECASE)

_PERCENT_RE = re.compile(rf"^\s*{_NUMBER}\s*%\s*$")


def _finite(number: float, field: str, value: object, what: str) -> float:
    """``number`` when it is a finite float; a UnitError naming the written ``value`` otherwise."""
    if not math.isfinite(number):
        raise UnitError(f"{field}: {what} {_shown(value)} is not a finite number")
    return number


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


def _number(value: int | float, field: str, what: str) -> float:
    """A YAML number as a finite float (a 400-digit integer is too large, NaN and inf are not numbers)."""
    try:
        number = float(value)
    except OverflowError:
        raise UnitError(f"{field}: {what} {_shown(value)} is too large") from None
    return _finite(number, field, value, what)


def parse_duration(value: object, field: str = "duration") -> float:
    """Return seconds from a duration such as ``"250ms"`` or ``"1.5s"``.

    A bare number is refused: a timeout of ``300`` could mean seconds or
    milliseconds, and guessing wrong by 1000x is worse than asking.
    """
    if isinstance(value, bool):
        raise UnitError(f"{field}: expected a duration such as 300ms, got {value!r}")
    if isinstance(value, (int, float)):
        if value == 0:
            return 0.0
        _number(value, field, "duration")
        raise UnitError(f"{field}: give a unit, e.g. {value}ms or {value}s")
    if not isinstance(value, str):
        raise UnitError(f"{field}: expected a duration such as 300ms, got {_shown(value)}")
    match = _DURATION_RE.match(value)
    if not match:
        raise UnitError(
            f"{field}: cannot read duration {_shown(value)}; use a number and one of ns, us, ms, s, m, h (e.g. 250ms)"
        )
    return _finite(float(match.group(1)) * _DURATION_UNITS[match.group(2)], field, value, "duration")


def parse_rate(value: object, field: str = "rate") -> float:
    """Return requests per second from ``500``, ``"500/s"`` or ``"30000/m"``."""
    if isinstance(value, bool):
        raise UnitError(f"{field}: expected a rate such as 500/s, got {value!r}")
    if isinstance(value, (int, float)):
        return _number(value, field, "rate")
    if not isinstance(value, str):
        raise UnitError(f"{field}: expected a rate such as 500/s, got {_shown(value)}")
    match = _RATE_RE.match(value)
    if not match:
        raise UnitError(f"{field}: cannot read rate {_shown(value)}; write e.g. 500/s or 30000/m")
    unit = match.group(2) or "s"
    return _finite(float(match.group(1)) * _RATE_UNITS[unit], field, value, "rate")


def parse_size(value: object, field: str = "size") -> int:
    """Return bytes from ``"2KB"``, ``"1.5MiB"`` or a bare number of bytes."""
    if isinstance(value, bool):
        raise UnitError(f"{field}: expected a size such as 2KB, got {value!r}")
    if isinstance(value, (int, float)):
        number = _number(value, field, "size")
        if number < 0:
            raise UnitError(f"{field}: a size cannot be negative")
        return _bounded_size(number, field, value)
    if not isinstance(value, str):
        raise UnitError(f"{field}: expected a size such as 2KB, got {_shown(value)}")
    match = _SIZE_RE.match(value)
    if not match:
        raise UnitError(f"{field}: cannot read size {_shown(value)}; write e.g. 512, 2KB or 1.5MiB")
    unit = (match.group(2) or "B").upper()
    number = _finite(float(match.group(1)) * _SIZE_UNITS[unit], field, value, "size")
    return _bounded_size(number, field, value)


#: The largest message size meshsim accepts, bytes (1 TB; a request is far smaller).
MAX_SIZE_BYTES = 10**12


def _bounded_size(number: float, field: str, value: object) -> int:
    if number > MAX_SIZE_BYTES:
        raise UnitError(f"{field}: size {_shown(value)} is over the limit of 1TB")
    return int(round(number))


def parse_bandwidth(value: object, field: str = "bandwidth") -> float:
    """Return bytes per second from ``"10Gbps"`` (bits per second, as links are sold)."""
    if not isinstance(value, str):
        raise UnitError(f"{field}: give a unit, e.g. 10Gbps or 500Mbps")
    match = _BANDWIDTH_RE.match(value)
    if not match:
        raise UnitError(f"{field}: cannot read bandwidth {value!r}; write e.g. 10Gbps")
    bits_per_s = float(match.group(1)) * _BANDWIDTH_UNITS[match.group(2).lower()]
    if not bits_per_s > 0:
        raise UnitError(f"{field}: a bandwidth must be above zero")
    return _finite(bits_per_s, field, value, "bandwidth") / 8.0


def parse_ratio(value: object, field: str = "ratio") -> float:
    """Return a ratio in [0, 1] from ``0.001`` or ``"0.1%"``."""
    if isinstance(value, bool):
        raise UnitError(f"{field}: expected a ratio such as 0.01 or 1%, got {value!r}")
    if isinstance(value, (int, float)):
        ratio = _number(value, field, "ratio")
    elif isinstance(value, str):
        match = _PERCENT_RE.match(value)
        if match:
            ratio = float(Decimal(match.group(1)) / 100)  # exact: '99.9%' -> 0.999
        else:
            try:
                ratio = float(value)
            except ValueError:
                raise UnitError(f"{field}: cannot read ratio {_shown(value)}; write e.g. 0.001 or 0.1%") from None
    else:
        raise UnitError(f"{field}: expected a ratio such as 0.01 or 1%, got {value!r}")
    if not 0.0 <= ratio <= 1.0:
        raise UnitError(f"{field}: a ratio must be between 0 and 1 (or 0% and 100%), got {_shown(value)}")
    return ratio


def format_duration(seconds: float) -> str:
    """Render seconds back into the scenario syntax (used when writing files)."""
    if seconds == 0:
        return "0s"
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    if seconds >= 1:
        return f"{seconds:g}s"
    ms = seconds * 1e3
    if ms >= 1:
        return f"{ms:.6g}ms"
    return f"{seconds * 1e6:.6g}us"
