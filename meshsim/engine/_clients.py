"""A client's own retries around a whole request: the end user's, or a calling service's SDK.

One :class:`ClientRetries` is one client object: a workload's (every end user of it shares
one, as the requests of one SDK client share its retry quota), or one per caller replica and
destination for an SDK (``policies.<service>.client``). It holds the back-off and the retry
limits, each a small object behind :class:`ClientRetryLimit`:

- :class:`RetryQuota`: the AWS SDKs' standard mode retry quota [A1, A2];
- :class:`RetryThrottle`: gRPC ``retryThrottling`` [G1, G2];
- :class:`RetryBreaker`: stop retrying above a failure ratio seen over a window;
- :class:`RetryTokenBucket`: Brooker's retry token bucket, tokens earned per request;

and, in the AWS SDKs' adaptive mode, an :class:`AdaptiveRateLimiter` that delays tries.

:class:`SdkCall` is one call made through a caller's SDK: tries through the mesh, with the
SDK's timeout and retries around them. Times are float seconds of simulated time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import simpy
from simpy.events import NORMAL

from meshsim.engine._backoff import Backoff, make_backoff
from meshsim.engine._runtime import ROUTE_TIMEOUT, Context, Outcome, Waiter, Wake
from meshsim.engine._timers import Timer
from meshsim.scenario._client import (
    AWS_NO_RETRY_REFUND,
    AWS_QUOTA_TOKENS,
    AWS_RETRY_COST,
    AWS_TIMEOUT_RETRY_COST,
    ClientSpec,
)

if TYPE_CHECKING:
    from meshsim.engine._path import RequestPath
    from meshsim.engine._proxy import Proxy

__all__ = [
    "AdaptiveRateLimiter",
    "ClientRetries",
    "Held",
    "NumberedTry",
    "ClientRetryLimit",
    "RetryBreaker",
    "RetryQuota",
    "RetryThrottle",
    "RetryTokenBucket",
    "SdkCall",
    "TimedTries",
]

#: HTTP statuses the AWS SDKs' standard mode retries: throttling (429) and transient (500,
#: 502, 503, 504) [A2]; connection errors and the SDK's own timeouts are retried too.
AWS_RETRIABLE_STATUSES = frozenset((429, 500, 502, 503, 504))


class ClientRetryLimit(Protocol):
    """Admission of a client's retries, shared by the requests of one client object."""

    def tried(self, failed: bool, now_s: float) -> None:
        """A try ended: ``failed`` when it failed in a way the client retries, else it succeeded."""

    def allows(self, timeout: bool, now_s: float) -> bool:
        """Whether one more retry may start (nothing taken yet); ``timeout``: the try was the client's own timeout."""

    def take(self, timeout: bool) -> int:
        """The retry starts (every limit allowed it): take its tokens; returns those a success gives back."""

    def ended(self, ok: bool, last_taken: int) -> None:
        """A request ended (``ok``), the last retry having taken ``last_taken`` tokens (0: none)."""


class RetryQuota:
    """The AWS SDKs' standard-mode retry quota [A1, A2] (botocore retry mode version 2.0).

    The bucket starts at ``capacity`` (500); a retry takes ``cost`` (5), or ``timeout_cost``
    (10) after the client's own timeout, and is refused when fewer are left. A request that
    succeeds gives back what its last retry took, or ``refund`` (1) when it was never
    retried; the bucket never exceeds its capacity. Failed requests give nothing back.
    """

    __slots__ = ("capacity", "available", "cost", "timeout_cost", "refund")

    def __init__(
        self,
        capacity: int = AWS_QUOTA_TOKENS,
        cost: int = AWS_RETRY_COST,
        timeout_cost: int = AWS_TIMEOUT_RETRY_COST,
        refund: int = AWS_NO_RETRY_REFUND,
    ) -> None:
        """A full bucket of ``capacity`` tokens."""
        self.capacity = capacity
        self.available = capacity
        self.cost = cost
        self.timeout_cost = timeout_cost
        self.refund = refund

    def tried(self, failed: bool, now_s: float) -> None:
        """The quota only moves on retries and on a request's end."""

    def allows(self, timeout: bool, now_s: float) -> bool:
        """Refused when the bucket holds less than the retry's cost."""
        return (self.timeout_cost if timeout else self.cost) <= self.available

    def take(self, timeout: bool) -> int:
        """Take the retry's cost (a success gives it back)."""
        amount = self.timeout_cost if timeout else self.cost
        self.available -= amount
        return amount

    def ended(self, ok: bool, last_taken: int) -> None:
        """A success gives back its last retry's cost (or ``refund`` without retries)."""
        if ok:
            self.available = min(self.capacity, self.available + (last_taken or self.refund))


class RetryThrottle:
    """gRPC retry throttling [G1, G2]: one token count per client and server.

    Tokens start at ``max_tokens``. A failed try the client would retry takes one (down to
    0), a success adds ``token_ratio`` (up to ``max_tokens``); a retry is allowed only while
    tokens > max_tokens / 2, checked after the failure is counted (grpc-go's order).
    """

    __slots__ = ("max_tokens", "token_ratio", "tokens", "_threshold")

    def __init__(self, max_tokens: float, token_ratio: float) -> None:
        """A full token count."""
        self.max_tokens = max_tokens
        self.token_ratio = token_ratio
        self.tokens = max_tokens
        self._threshold = max_tokens / 2.0

    def tried(self, failed: bool, now_s: float) -> None:
        """A failure takes a token, a success adds ``token_ratio``."""
        if failed:
            self.tokens = max(0.0, self.tokens - 1.0)
        else:
            self.tokens = min(self.max_tokens, self.tokens + self.token_ratio)

    def allows(self, timeout: bool, now_s: float) -> bool:
        """Allowed while tokens > max_tokens / 2."""
        return self.tokens > self._threshold

    def take(self, timeout: bool) -> int:
        """A retry takes nothing: failures do."""
        return 0

    def ended(self, ok: bool, last_taken: int) -> None:
        """Tokens move per try, not per request."""


class RetryTokenBucket:
    """Brooker's adaptive retry bucket [R5]: a retry needs more than one token and takes one.

    Every request adds ``tokens_per_request`` (up to ``max_tokens``, full at the start).
    Brooker's simulator credits a call when it starts; meshsim credits it when it ends (the
    same long-run rate). Above a few percent failures the retries per request settle at
    ``tokens_per_request``.
    """

    __slots__ = ("max_tokens", "tokens_per_request", "tokens")

    def __init__(self, max_tokens: float, tokens_per_request: float) -> None:
        """A full bucket."""
        self.max_tokens = max_tokens
        self.tokens_per_request = tokens_per_request
        self.tokens = max_tokens

    def tried(self, failed: bool, now_s: float) -> None:
        """Tries move nothing."""

    def allows(self, timeout: bool, now_s: float) -> bool:
        """Allowed while the bucket holds more than one token."""
        return self.tokens > 1.0

    def take(self, timeout: bool) -> int:
        """A retry takes one token, never given back."""
        self.tokens -= 1.0
        return 0

    def ended(self, ok: bool, last_taken: int) -> None:
        """Every request earns ``tokens_per_request``."""
        self.tokens = min(self.max_tokens, self.tokens + self.tokens_per_request)


class RetryBreaker:
    """Stop retrying while more than ``failure_ratio`` of the tries of the last ``window_s`` failed.

    The ratio is only trusted once the window holds ``min_tries`` tries. Memory: the tries of
    one window.
    """

    __slots__ = ("failure_ratio", "window_s", "min_tries", "_tries", "_failures")

    def __init__(self, failure_ratio: float, window_s: float, min_tries: int) -> None:
        """A breaker that opens above ``failure_ratio`` (0-1) over ``window_s`` seconds."""
        self.failure_ratio = failure_ratio
        self.window_s = window_s
        self.min_tries = min_tries
        self._tries: deque[tuple[float, bool]] = deque()
        self._failures = 0

    def _expire(self, now_s: float) -> None:
        tries = self._tries
        horizon = now_s - self.window_s
        while tries and tries[0][0] <= horizon:
            if tries.popleft()[1]:
                self._failures -= 1

    def tried(self, failed: bool, now_s: float) -> None:
        """Remember the try for one window."""
        self._expire(now_s)
        self._tries.append((now_s, failed))
        if failed:
            self._failures += 1

    def allows(self, timeout: bool, now_s: float) -> bool:
        """Refused while the window's failure ratio is above the threshold."""
        self._expire(now_s)
        n = len(self._tries)
        return n < self.min_tries or self._failures <= self.failure_ratio * n

    def take(self, timeout: bool) -> int:
        """A retry takes nothing."""
        return 0

    def ended(self, ok: bool, last_taken: int) -> None:
        """The window counts tries, not requests."""


class Held(Protocol):
    """A try the adaptive rate limiter holds until a token is there."""

    def released(self) -> None:
        """The token is there: send the try now."""


class AdaptiveRateLimiter:
    """The AWS SDKs' adaptive mode: a client-side send rate set by CUBIC on throttling [A1, A3].

    Off until the first throttling answer (HTTP 429). Every answer (a client timeout included)
    updates the measured send rate (answers per 0.5 s bucket, smoothed 0.8) and the CUBIC
    rate: a throttle sets the window's maximum to the current rate and cuts the rate to 0.7 of
    it; a success grows it as 0.4 (t - k)^3 + max. The token bucket fills at that rate, at most
    twice the measured rate and at least 0.5/s, and holds at most max(1, rate) tokens. While on,
    every try takes a token first; tries without one wait in order and are let go as tokens
    come (a rate change re-times the wait, as botocore wakes its waiting threads).
    """

    __slots__ = (
        "env",
        "enabled",
        "fill_rate",
        "max_capacity",
        "capacity",
        "stamp_s",
        "w_max",
        "k",
        "last_fail_s",
        "measured_rate",
        "last_bucket_s",
        "count",
        "waiting",
        "_release",
    )

    SCALE = 0.4
    BETA = 0.7
    MIN_RATE = 0.5
    SMOOTHING = 0.8
    BUCKET_S = 0.5
    MAX_ADJUST = 2.0

    def __init__(self, env: simpy.Environment) -> None:
        """A limiter made now on ``env`` (CUBIC's clock starts here)."""
        now_s = env._now
        self.env = env
        self.enabled = False
        self.fill_rate = 1.0
        self.max_capacity = 1.0
        self.capacity = 0.0
        self.stamp_s: float | None = None
        self.w_max = 0.0
        self.k = 0.0
        self.last_fail_s = now_s
        self.measured_rate = 0.0
        self.last_bucket_s = float(math.floor(now_s))
        self.count = 0
        self.waiting: deque[Held] = deque()
        self._release: _Release | None = None

    def _refill(self, now_s: float) -> None:
        if self.stamp_s is None:
            self.stamp_s = now_s
            return
        self.capacity = min(self.max_capacity, self.capacity + (now_s - self.stamp_s) * self.fill_rate)
        self.stamp_s = now_s

    def acquire(self, held: Held) -> bool:
        """True: send now (a token taken, or the limiter is off); False: ``held.released()`` comes later."""
        if not self.enabled:
            return True
        now_s = self.env._now
        self._refill(now_s)
        if not self.waiting and self.capacity >= 1.0:
            self.capacity -= 1.0
            return True
        self.waiting.append(held)
        if self._release is None:
            self._arm()
        return False

    def _arm(self) -> None:
        """Time the release of the first waiting try for when its token is there."""
        if self._release is not None:
            self._release.cancelled = True
            self._release = None
        if not self.waiting:
            return
        release = self._release = _Release(self)
        delay_s = max(0.0, (1.0 - self.capacity) / self.fill_rate)
        self.env.schedule(release, NORMAL, delay_s)  # type: ignore[arg-type]  # a Wake

    def released(self) -> None:
        """The first waiting try's token is there: let go every try a token is there for."""
        self._release = None
        self._refill(self.env._now)
        waiting = self.waiting
        while waiting and self.capacity >= 1.0 - 1e-9:
            self.capacity -= 1.0
            waiting.popleft().released()
        self._arm()

    def answered(self, throttled: bool) -> None:
        """An answer (or the client's own timeout) now: update the measured and the CUBIC rates."""
        now_s = self.env._now
        bucket_s = math.floor(now_s / self.BUCKET_S) * self.BUCKET_S
        self.count += 1
        if bucket_s > self.last_bucket_s:
            current = self.count / (bucket_s - self.last_bucket_s)
            self.measured_rate = current * self.SMOOTHING + self.measured_rate * (1.0 - self.SMOOTHING)
            self.count = 0
            self.last_bucket_s = bucket_s
        measured = self.measured_rate
        if not throttled:
            new_rate = self.SCALE * (now_s - self.last_fail_s - self.k) ** 3 + self.w_max
        else:
            rate = measured if not self.enabled else min(measured, self.fill_rate)
            self.w_max = rate
            self.k = (rate * (1.0 - self.BETA) / self.SCALE) ** (1.0 / 3.0)
            self.last_fail_s = now_s
            new_rate = rate * self.BETA
            self.enabled = True
        rate = min(new_rate, self.MAX_ADJUST * measured)
        self._refill(now_s)
        self.fill_rate = max(rate, self.MIN_RATE)
        self.max_capacity = rate if rate >= 1.0 else 1.0
        self.capacity = min(self.capacity, self.max_capacity)
        if self.waiting:
            self._arm()


class _Release(Wake):
    """The limiter's next release of waiting tries (dropped when a rate change re-times it)."""

    __slots__ = ("limiter", "cancelled")

    def __init__(self, limiter: AdaptiveRateLimiter) -> None:
        self.limiter = limiter
        self.cancelled = False
        self.callbacks = _RELEASE

    def _fire(self) -> None:
        if not self.cancelled:
            self.limiter.released()


_RELEASE: tuple[Callable[[_Release], None]] = (_Release._fire,)


class ClientRetries:
    """One client object: which failures it retries, how often, its back-off and its limits."""

    __slots__ = ("spec", "max_retries", "backoff", "limits", "aws", "rate_limiter", "stateless")

    def __init__(self, spec: ClientSpec, uniform: Callable[[], float], env: simpy.Environment) -> None:
        """The client ``spec`` describes, made now on ``env``; ``uniform`` draws its back-off jitter."""
        self.spec = spec
        self.max_retries = spec.max_retries
        family = spec.backoff_family()
        self.backoff: Backoff = make_backoff(family.kind, family.base, family.cap, uniform)
        self.aws = spec.mode is not None
        self.rate_limiter = AdaptiveRateLimiter(env) if spec.mode == "adaptive" else None
        limits: list[ClientRetryLimit] = []
        if spec.retry_throttling is not None:
            limits.append(RetryThrottle(spec.retry_throttling.max_tokens, spec.retry_throttling.token_ratio))
        if spec.retry_breaker is not None:
            rb = spec.retry_breaker
            limits.append(RetryBreaker(rb.failure_ratio, rb.window, rb.min_tries))
        if spec.retry_bucket is not None:
            limits.append(RetryTokenBucket(spec.retry_bucket.max_tokens, spec.retry_bucket.tokens_per_request))
        if self.aws:
            limits.append(RetryQuota())
        self.limits = limits
        self.stateless = not limits and self.rate_limiter is None  # nothing to update per try

    def retriable(self, res: Outcome) -> bool:
        """Whether the client retries ``res``: any failure, or the AWS set in standard mode [A2]."""
        if res.cause is None:
            return False
        if not self.aws:
            return True
        return res.no_response or res.cause == "timeout" or res.status in AWS_RETRIABLE_STATUSES

    def acquire(self, held: Held) -> bool:
        """Whether a try may be sent now; False: the adaptive mode's limiter calls ``held.released()`` later."""
        limiter = self.rate_limiter
        return True if limiter is None else limiter.acquire(held)

    def decide(self, res: Outcome, retries_done: int, client_timeout: bool, now_s: float) -> int | None:
        """After a try ended with ``res``: tokens taken for a retry (0: none to take), or None: no retry."""
        if self.rate_limiter is not None:
            self.rate_limiter.answered(res.status == 429)
        failed = self.retriable(res)
        limits = self.limits
        if failed or res.cause is None:  # failures the client does not retry move no limit
            for lim in limits:
                lim.tried(failed, now_s)
        if not failed or retries_done >= self.max_retries:
            return None
        for lim in limits:
            if not lim.allows(client_timeout, now_s):
                return None
        taken = 0
        for lim in limits:
            taken += lim.take(client_timeout)
        return taken

    def ended(self, ok: bool, last_taken: int) -> None:
        """The request ended: limits that settle per request (the AWS quota's refund) do so."""
        for lim in self.limits:
            lim.ended(ok, last_taken)


class TimedTries(Wake):
    """A request or call whose client times out and retries its tries: how a try ends.

    The latest try ends once: at its answer (an answer to an older try, or one after the
    client gave up, is dropped) or at the client's timeout; either way ``_tried`` decides
    what comes next.
    """

    __slots__ = ("tries", "open", "timer")

    def __init__(self) -> None:
        """No try yet."""
        self.tries = 0  # tries started
        self.open = False  # the latest try still counts (no answer, no timeout yet)
        self.timer: Timer | None = None  # the client's timeout of the latest try

    def answered(self, number: int, res: Outcome) -> None:
        """Try ``number`` answered with ``res``; answers after the client gave up on it are dropped."""
        if number != self.tries or not self.open:
            return
        self.open = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._tried(res, False)

    def on_timer(self, timer: Timer) -> None:
        """The client's timeout: it gives up on this try (the mesh keeps working on it)."""
        if timer is not self.timer:
            return
        self.open = False
        self.timer = None
        self._tried(ROUTE_TIMEOUT, True)

    def _tried(self, res: Outcome, client_timeout: bool) -> None:
        raise NotImplementedError


class SdkCall(TimedTries):
    """One call through the caller's SDK: tries through the mesh with the SDK's timeout and retries.

    Each try is a logical call of the caller's proxy (its own retries inside). The SDK gives
    up on a try at its ``timeout`` (the mesh keeps working on it) and retries the failures
    its client retries, after its back-off, while its limits admit.
    """

    __slots__ = ("path", "proxy", "service", "ctx", "owner", "client", "taken", "wait_s")

    def __init__(
        self, path: RequestPath, proxy: Proxy, service: str, ctx: Context, owner: Waiter, client: ClientRetries
    ) -> None:
        """A call from ``proxy``'s service to ``service`` through ``client``."""
        self.path = path
        self.proxy = proxy
        self.service = service
        self.ctx = ctx
        self.owner = owner
        self.client = client
        super().__init__()
        self.taken = 0  # tokens the last retry took
        self.wait_s = 0.0  # the last back-off

    def start(self) -> None:
        """Make the first try."""
        self._try()

    def _try(self) -> None:
        if self.client.acquire(self):
            self.released()

    def released(self) -> None:
        """Send the next try (its token taken)."""
        path = self.path
        self.tries += 1
        self.open = True
        timeout = self.client.spec.timeout
        if timeout is not None:
            self.timer = Timer(self)
            path.timers.every(timeout, self.timer)
        ctx = self.ctx if self.tries == 1 else self.ctx.retry()
        path.call(self.proxy, self.service, ctx, NumberedTry(self, self.tries), sdk=False)

    def _tried(self, res: Outcome, client_timeout: bool) -> None:
        path = self.path
        now = path.env._now
        client = self.client
        if self.tries > 1 and now >= path.warmup_s:
            path.rec.client_retry("sdk", self.service, None, False, now)
        taken = client.decide(res, self.tries - 1, client_timeout, now)
        if taken is None:
            client.ended(res.cause is None, self.taken)
            self.owner.resume(res, self)
            return
        self.taken = taken
        if now >= path.warmup_s:
            path.rec.client_retry("sdk", self.service, None, True, now)
        wait_s = client.backoff.wait_s(self.tries, self.wait_s)
        self.wait_s = wait_s
        if wait_s > 0:
            self.callbacks = _SDK_RETRY
            path.schedule(self, NORMAL, wait_s)
        else:
            self._try()


_SDK_RETRY: tuple[Callable[[SdkCall], None]] = (SdkCall._try,)


class Answered(Protocol):
    """A request or call whose tries are numbered: hears which try answered."""

    def answered(self, number: int, res: Outcome) -> None:
        """Try ``number`` ended with ``res``."""


class NumberedTry:
    """One try of a request or call whose client retries: tells its owner which try answered.

    A late answer to an older try is then recognised (and dropped) by the owner.
    """

    __slots__ = ("owner", "number")

    def __init__(self, owner: Answered, number: int) -> None:
        """Try ``number`` of ``owner``."""
        self.owner = owner
        self.number = number

    def resume(self, res: Outcome, child: Any) -> None:
        """The try ended: tell the owner."""
        self.owner.answered(self.number, res)
