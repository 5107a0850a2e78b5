"""A client's own retries around a whole request (docs/scenario.md ``client``).

The client is an end user (``workload[].client``) or a calling service's SDK
(``policies.<service>.client``).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from meshsim.scenario._types import Duration, Strict

__all__ = [
    "BACKOFF_KINDS",
    "CLIENT_MODES",
    "AWS_BACKOFF_BASE_S",
    "AWS_BACKOFF_CAP_S",
    "AWS_MAX_ATTEMPTS",
    "AWS_NO_RETRY_REFUND",
    "AWS_QUOTA_TOKENS",
    "AWS_RETRY_COST",
    "AWS_TIMEOUT_RETRY_COST",
    "BackoffFamilySpec",
    "BackoffKind",
    "ClientMode",
    "ClientSpec",
    "RetryBreakerSpec",
    "RetryBucketSpec",
    "RetryThrottlingSpec",
]

#: Back-off kinds of a client's retries (Brooker's "Exponential Backoff and Jitter", plus
#: ``constant`` and ``none``); docs/scenario.md ``client.backoff``.
BackoffKind = Literal["full", "equal", "decorrelated", "exponential", "constant", "none"]
BACKOFF_KINDS: tuple[str, ...] = get_args(BackoffKind)

#: A client's retry modes (the AWS SDKs'): docs/scenario.md ``client.mode``.
ClientMode = Literal["standard", "adaptive"]
CLIENT_MODES: tuple[str, ...] = get_args(ClientMode)

#: AWS SDK standard retry mode defaults (botocore retries/standard.py, mode version 2.0):
#: three attempts, full jitter U(0, min(2^(n-1) x 1 s, 20 s)) before retry n.
AWS_MAX_ATTEMPTS = 3
AWS_BACKOFF_BASE_S = 1.0
AWS_BACKOFF_CAP_S = 20.0
#: The standard mode's retry quota (botocore retries/quota.py, standard.py RetryQuotaChecker):
#: tokens at the start, per retry, per retry after the client's timeout, per first-try success.
AWS_QUOTA_TOKENS = 500
AWS_RETRY_COST = 5
AWS_TIMEOUT_RETRY_COST = 10
AWS_NO_RETRY_REFUND = 1


class BackoffFamilySpec(Strict):
    """A client's back-off: ``kind`` with ``base`` (the first retry's scale) and ``cap``."""

    kind: BackoffKind = "full"
    base: Duration = 0.1
    cap: Duration | None = None


class RetryThrottlingSpec(Strict):
    """gRPC ``retryThrottling`` (A6): retries only while tokens > max_tokens / 2.

    Tokens start at ``max_tokens``; a failure the client retries takes 1, a success adds
    ``token_ratio``.
    """

    max_tokens: float = Field(gt=0, le=1000)
    token_ratio: float = Field(gt=0, le=1000)


class RetryBucketSpec(Strict):
    """Brooker's retry token bucket: a retry needs more than one token and takes one.

    Each request adds ``tokens_per_request`` (at most ``max_tokens``, full at the start).
    """

    max_tokens: float = Field(default=5.0, gt=1, le=1_000_000)
    tokens_per_request: float = Field(default=0.1, gt=0, le=1000)


class RetryBreakerSpec(Strict):
    """Stop retrying while more than ``failure_ratio`` of the tries in the last ``window`` failed."""

    failure_ratio: float = Field(gt=0, le=1)
    window: Duration = 10.0
    min_tries: int = Field(default=10, ge=1, le=1_000_000)

    @field_validator("window")
    @classmethod
    def _positive_window(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("window must be above zero (e.g. 10s)")
        return v


class ClientSpec(Strict):
    """A client's own timeout and retries around a whole request (a browser, an SDK).

    ``mode: standard`` is the AWS SDKs' standard retry mode: a retry quota (500 tokens, 5 per
    retry, 10 per retry after a timeout, refunded on success), three attempts and full-jitter
    back-off (1 s base, 20 s cap) unless ``retries`` or ``backoff`` say otherwise.
    ``mode: adaptive`` adds the AWS SDKs' client-side rate limiter (CUBIC on throttling).
    """

    timeout: Duration | None = None
    retries: int = Field(default=0, ge=0, le=1000)
    backoff: Duration | BackoffFamilySpec = 0.0
    jitter: bool = Field(default=False, description="wait U(0, backoff x 2^(n-1)) before retry n (full jitter)")
    mode: ClientMode | None = None
    retry_throttling: RetryThrottlingSpec | None = None
    retry_breaker: RetryBreakerSpec | None = None
    retry_bucket: RetryBucketSpec | None = None

    @property
    def max_retries(self) -> int:
        """Retries after the first try: ``retries``, or the AWS default (2) in an AWS mode."""
        if self.mode is not None and "retries" not in self.model_fields_set:
            return AWS_MAX_ATTEMPTS - 1
        return self.retries

    def backoff_family(self) -> BackoffFamilySpec:
        """The back-off as kind, base and cap (``backoff: 100ms`` with ``jitter`` is ``full``)."""
        if isinstance(self.backoff, BackoffFamilySpec):
            return self.backoff
        if self.mode is not None and "backoff" not in self.model_fields_set:
            return BackoffFamilySpec.model_construct(kind="full", base=AWS_BACKOFF_BASE_S, cap=AWS_BACKOFF_CAP_S)
        kind = "full" if self.jitter else "constant"
        return BackoffFamilySpec.model_construct(kind=kind, base=self.backoff, cap=None)

    @model_validator(mode="after")
    def _jitter_with_duration(self) -> ClientSpec:
        if self.jitter and isinstance(self.backoff, BackoffFamilySpec):
            raise ValueError("jitter applies to a plain backoff duration; with a backoff block set its kind instead")
        return self

    def effective(self) -> dict[str, Any]:
        """What the client does, defaults applied (``meshsim explain``): seconds, counts, limits."""
        backoff = self.backoff_family()
        out: dict[str, Any] = {
            "timeout_s": self.timeout,
            "retries": self.max_retries,
            "retry_on": "429, 5xx (500, 502-504), resets, timeouts" if self.mode else "any failure",
            "backoff": {"kind": backoff.kind, "base_s": backoff.base, "cap_s": backoff.cap},
        }
        if self.mode is not None:
            out["mode"] = self.mode
            out["retry_quota"] = {
                "tokens": AWS_QUOTA_TOKENS,
                "cost": AWS_RETRY_COST,
                "timeout_cost": AWS_TIMEOUT_RETRY_COST,
                "refund": AWS_NO_RETRY_REFUND,
            }
        if self.retry_throttling is not None:
            out["retry_throttling"] = self.retry_throttling.model_dump()
        if self.retry_breaker is not None:
            out["retry_breaker"] = self.retry_breaker.model_dump()
        if self.retry_bucket is not None:
            out["retry_bucket"] = self.retry_bucket.model_dump()
        return out

    @property
    def limited(self) -> bool:
        """Whether anything beyond the attempt count limits the retries (quota, throttling, breaker)."""
        return (
            self.mode is not None
            or self.retry_throttling is not None
            or self.retry_breaker is not None
            or self.retry_bucket is not None
        )
