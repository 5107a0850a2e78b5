"""Back-off families: the wait before a retry, one small object per kind.

Brooker's kinds [R4] grow ``base x 2^(n-1)`` for retry ``n`` (1-based: the first retry waits
about ``base``), capped at ``cap``:

- ``exponential``: ``min(cap, base x 2^(n-1))``, no jitter;
- ``full``: ``U(0, min(cap, base x 2^(n-1)))``;
- ``equal``: half of that bound fixed, the other half drawn: ``t/2 + U(0, t/2)``;
- ``decorrelated``: ``min(cap, U(base, 3 x previous wait))``, the previous wait of the first
  retry taken as ``base``;
- ``constant``: ``base`` every time; ``none``: no wait.

Envoy's own kind (:class:`EnvoyJitter`) grows ``(2^N - 1) x base`` [E1]; the caller proxy's
retry policy uses it. Times are float seconds; ``uniform`` draws U[0, 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from meshsim.scenario import BACKOFF_KINDS

__all__ = [
    "Backoff",
    "ConstantBackoff",
    "DecorrelatedJitter",
    "EnvoyJitter",
    "EqualJitter",
    "ExponentialBackoff",
    "FullJitter",
    "NoBackoff",
    "make_backoff",
]


class Backoff(Protocol):
    """The wait before a retry."""

    def wait_s(self, retry_number: int, previous_s: float) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based); ``previous_s``: the last wait (0 first)."""


class NoBackoff:
    """Retry at once."""

    __slots__ = ()

    def wait_s(self, retry_number: int, previous_s: float) -> float:
        """Always 0 s."""
        return 0.0


class ConstantBackoff:
    """The same wait before every retry."""

    __slots__ = ("base_s",)

    def __init__(self, base_s: float) -> None:
        """Wait ``base_s`` seconds before each retry."""
        self.base_s = base_s

    def wait_s(self, retry_number: int, previous_s: float) -> float:
        """``base_s``."""
        return self.base_s


class ExponentialBackoff:
    """Capped exponential back-off without jitter [R4]."""

    __slots__ = ("base_s", "cap_s")

    def __init__(self, base_s: float, cap_s: float = math.inf) -> None:
        """Grow from ``base_s`` (first retry), doubling, up to ``cap_s``."""
        self.base_s = base_s
        self.cap_s = cap_s

    def wait_s(self, retry_number: int, previous_s: float) -> float:
        """``min(cap, base x 2^(n-1))``."""
        bound_s: float = min(self.cap_s, self.base_s * 2 ** (retry_number - 1))
        return bound_s


class _Jittered:
    """What the jittered kinds share: a base, a cap (seconds) and a U[0, 1) draw."""

    __slots__ = ("base_s", "cap_s", "_uniform")

    def __init__(self, base_s: float, cap_s: float, uniform: Callable[[], float]) -> None:
        """Scale ``base_s`` (the first retry's), at most ``cap_s``; ``uniform`` draws the jitter."""
        self.base_s = base_s
        self.cap_s = cap_s
        self._uniform = uniform


class FullJitter(_Jittered):
    """Full jitter [R4]: uniform on [0, the capped exponential bound)."""

    __slots__ = ()

    def wait_s(self, retry_number: int, previous_s: float) -> float:
        """``U(0, min(cap, base x 2^(n-1)))``."""
        bound_s: float = min(self.cap_s, self.base_s * 2 ** (retry_number - 1))
        return bound_s * self._uniform()


class EqualJitter(_Jittered):
    """Equal jitter [R4]: half the capped exponential bound, plus a uniform draw on the other half."""

    __slots__ = ()

    def wait_s(self, retry_number: int, previous_s: float) -> float:
        """``t/2 + U(0, t/2)`` with ``t = min(cap, base x 2^(n-1))``."""
        half: float = min(self.cap_s, self.base_s * 2 ** (retry_number - 1)) / 2.0
        return half + half * self._uniform()


class DecorrelatedJitter(_Jittered):
    """Decorrelated jitter [R4]: ``min(cap, U(base, 3 x previous wait))``; the first previous wait is base."""

    __slots__ = ()

    def wait_s(self, retry_number: int, previous_s: float) -> float:
        """``min(cap, U(base, 3 x previous))``."""
        base = self.base_s
        prev = previous_s if previous_s > 0.0 else base
        return min(self.cap_s, base + (3.0 * prev - base) * self._uniform())


class EnvoyJitter:
    """Envoy's fully jittered back-off [E1]: retry N waits U[0, min((2^N - 1) x base, max))."""

    __slots__ = ("base_s", "max_s", "_uniform")

    def __init__(self, base_s: float, max_s: float, uniform: Callable[[], float]) -> None:
        """Envoy's ``base_interval`` and ``max_interval`` (seconds)."""
        self.base_s = base_s
        self.max_s = max_s
        self._uniform = uniform

    @staticmethod
    def upper_s(retry_number: int, base_s: float, max_s: float) -> float:
        """The bound of retry ``retry_number``'s wait: ``min((2^N - 1) x base, max)``."""
        bound_s: float = min((2**retry_number - 1) * base_s, max_s)
        return bound_s

    def wait_s(self, retry_number: int, previous_s: float) -> float:
        """A draw on [0, bound); 0 s without a base interval."""
        if not self.base_s:
            return 0.0
        return self._uniform() * self.upper_s(retry_number, self.base_s, self.max_s)


def _jittered(cls: Callable[[float, float, Callable[[], float]], Backoff]) -> _Factory:
    return lambda base_s, cap_s, uniform: cls(base_s, cap_s, uniform)


_Factory = Callable[[float, float, Callable[[], float]], Backoff]

#: kind -> the object (base s, cap s, uniform draw); ``none`` and a zero base never wait.
_KINDS: dict[str, _Factory] = {
    "constant": lambda base_s, cap_s, uniform: ConstantBackoff(base_s),
    "exponential": lambda base_s, cap_s, uniform: ExponentialBackoff(base_s, cap_s),
    "full": _jittered(FullJitter),
    "equal": _jittered(EqualJitter),
    "decorrelated": _jittered(DecorrelatedJitter),
}


def make_backoff(kind: str, base_s: float, cap_s: float | None, uniform: Callable[[], float]) -> Backoff:
    """The back-off object of ``kind`` (one of ``BACKOFF_KINDS``); ``cap_s`` None: no cap."""
    if kind not in BACKOFF_KINDS:
        raise ValueError(f"unknown back-off kind {kind!r}; use one of {', '.join(BACKOFF_KINDS)}")
    if kind == "none" or base_s <= 0.0:
        return NoBackoff()
    return _KINDS[kind](base_s, math.inf if cap_s is None else cap_s, uniform)
