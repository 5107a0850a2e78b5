"""A client's own retries around a whole request: the end user's, or a calling service's SDK.

One :class:`ClientRetries` is one client object: a workload's (every end user of it shares
one, as the requests of one SDK client share its retry quota), or one per caller replica and
destination for an SDK (``policies.<service>.client``). It holds the back-off and the retry
limits, each a small object behind :class:`ClientRetryLimit`:

- :class:`RetryQuota`: the AWS SDKs' standard mode retry quota [A1, A2];
- :class:`RetryThrottle`: gRPC ``retryThrottling`` [G1, G2];
- :class:`RetryBreaker`: stop retrying above a failure ratio seen over a window.

:class:`SdkCall` is one call made through a caller's SDK: tries through the mesh, with the
SDK's timeout and retries around them. Times are float seconds of simulated time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from simpy.events import NORMAL

from meshsim.engine._backoff import Backoff, make_backoff
from meshsim.engine._runtime import ROUTE_TIMEOUT, Context, Outcome, Waiter, Wake
from meshsim.engine._timers import Timer
from meshsim.scenario._client import ClientSpec

if TYPE_CHECKING:
    from meshsim.engine._path import RequestPath
    from meshsim.engine._proxy import Proxy

__all__ = ["ClientRetries", "ClientRetryLimit", "RetryBreaker", "RetryQuota", "RetryThrottle", "SdkCall"]

#: HTTP statuses the AWS SDKs' standard mode retries: throttling (429) and transient (500,
#: 502, 503, 504) [A2]; connection errors and the SDK's own timeouts are retried too.
AWS_RETRIABLE_STATUSES = frozenset((429, 500, 502, 503, 504))


class ClientRetryLimit(Protocol):
    """Admission of a client's retries, shared by the requests of one client object."""

    def tried(self, failed: bool, now_s: float) -> None:
        """A try ended: ``failed`` when it failed in a way the client retries, else it succeeded."""

    def admit(self, timeout: bool, now_s: float) -> int | None:
        """Tokens taken for one more retry (0: nothing to take), or None when it is refused.

        ``timeout``: the failed try was the client's own timeout.
        """

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

    def __init__(self, capacity: int = 500, cost: int = 5, timeout_cost: int = 10, refund: int = 1) -> None:
        """A full bucket of ``capacity`` tokens."""
        self.capacity = capacity
        self.available = capacity
        self.cost = cost
        self.timeout_cost = timeout_cost
        self.refund = refund

    def tried(self, failed: bool, now_s: float) -> None:
        """The quota only moves on retries and on a request's end."""

    def admit(self, timeout: bool, now_s: float) -> int | None:
        """Take the retry's cost, or refuse when the bucket holds less."""
        amount = self.timeout_cost if timeout else self.cost
        if amount > self.available:
            return None
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

    def admit(self, timeout: bool, now_s: float) -> int | None:
        """Allowed (0 taken) while tokens > max_tokens / 2."""
        return 0 if self.tokens > self._threshold else None

    def ended(self, ok: bool, last_taken: int) -> None:
        """Tokens move per try, not per request."""


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

    def admit(self, timeout: bool, now_s: float) -> int | None:
        """Refused while the window's failure ratio is above the threshold."""
        self._expire(now_s)
        n = len(self._tries)
        if n >= self.min_tries and self._failures > self.failure_ratio * n:
            return None
        return 0

    def ended(self, ok: bool, last_taken: int) -> None:
        """The window counts tries, not requests."""


class ClientRetries:
    """One client object: which failures it retries, how often, its back-off and its limits."""

    __slots__ = ("spec", "max_retries", "backoff", "limits", "aws")

    def __init__(self, spec: ClientSpec, uniform: Callable[[], float]) -> None:
        """The client ``spec`` describes; ``uniform`` draws its back-off jitter."""
        self.spec = spec
        self.max_retries = spec.max_retries
        family = spec.backoff_family()
        self.backoff: Backoff = make_backoff(family.kind, family.base, family.cap, uniform)
        self.aws = spec.mode == "standard"
        limits: list[ClientRetryLimit] = []
        if spec.retry_throttling is not None:
            limits.append(RetryThrottle(spec.retry_throttling.max_tokens, spec.retry_throttling.token_ratio))
        if spec.retry_breaker is not None:
            rb = spec.retry_breaker
            limits.append(RetryBreaker(rb.failure_ratio, rb.window, rb.min_tries))
        if self.aws:
            limits.append(RetryQuota())  # last: the only limit that takes tokens
        self.limits = limits

    def retriable(self, res: Outcome) -> bool:
        """Whether the client retries ``res``: any failure, or the AWS set in standard mode [A2]."""
        if res.cause is None:
            return False
        if not self.aws:
            return True
        return res.no_response or res.cause == "timeout" or res.status in AWS_RETRIABLE_STATUSES

    def decide(self, res: Outcome, retries_done: int, client_timeout: bool, now_s: float) -> int | None:
        """After a try ended with ``res``: tokens taken for a retry (0: none to take), or None: no retry."""
        failed = self.retriable(res)
        limits = self.limits
        if failed or res.cause is None:  # failures the client does not retry move no limit
            for lim in limits:
                lim.tried(failed, now_s)
        if not failed or retries_done >= self.max_retries:
            return None
        taken = 0
        for lim in limits:
            got = lim.admit(client_timeout, now_s)
            if got is None:
                return None
            taken += got
        return taken

    def ended(self, ok: bool, last_taken: int) -> None:
        """The request ended: limits that settle per request (the AWS quota's refund) do so."""
        for lim in self.limits:
            lim.ended(ok, last_taken)


class SdkCall(Wake):
    """One call through the caller's SDK: tries through the mesh with the SDK's timeout and retries.

    Each try is a logical call of the caller's proxy (its own retries inside). The SDK gives
    up on a try at its ``timeout`` (the mesh keeps working on it) and retries the failures
    its client retries, after its back-off, while its limits admit.
    """

    __slots__ = ("path", "proxy", "service", "ctx", "owner", "client", "tries", "open", "timer", "taken", "wait_s")

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
        self.tries = 0
        self.open = False
        self.timer: Timer | None = None
        self.taken = 0  # tokens the last retry took
        self.wait_s = 0.0  # the last back-off

    def start(self) -> None:
        """Make the first try."""
        self._try()

    def _try(self) -> None:
        path = self.path
        self.tries += 1
        self.open = True
        timeout = self.client.spec.timeout
        if timeout is not None:
            self.timer = Timer(self)
            path.timers.every(timeout, self.timer)
        ctx = self.ctx if self.tries == 1 else self.ctx.retry()
        path.call(self.proxy, self.service, ctx, _SdkTry(self, self.tries), sdk=False)

    def answered(self, number: int, res: Outcome) -> None:
        """Try ``number`` answered; answers after the SDK gave up on it are dropped."""
        if number != self.tries or not self.open:
            return
        self.open = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._tried(res, False)

    def on_timer(self, timer: Timer) -> None:
        """The SDK's timeout: it gives up on this try."""
        if timer is not self.timer:
            return
        self.open = False
        self.timer = None
        self._tried(ROUTE_TIMEOUT, True)

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


class _SdkTry:
    """One try of an SDK call: tells the call which try answered."""

    __slots__ = ("call", "number")

    def __init__(self, call: SdkCall, number: int) -> None:
        self.call = call
        self.number = number

    def resume(self, res: Outcome, child: Any) -> None:
        self.call.answered(self.number, res)
