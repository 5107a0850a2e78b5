"""Client-side mesh policies (docs/scenario.md ``policies:``), acting in the caller's proxy.

Every field is optional. An unset field takes the value of the mesh preset named
in ``mesh.defaults`` (see :mod:`meshsim.meshes`); with no preset it does
nothing (no retries, no timeouts, round robin, no limits, no ejection).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from meshsim.meshes import parse_traefik_breaker
from meshsim.scenario._client import ClientSpec
from meshsim.scenario._types import Duration, Rate, Strict

__all__ = [
    "RetryPolicy",
    "BackoffSpec",
    "RetryBudgetSpec",
    "HedgingSpec",
    "LoadBalancerSpec",
    "ConnectionPoolSpec",
    "OutlierDetectionSpec",
    "FailureAccrualSpec",
    "CircuitBreakerSpec",
    "RateLimitSpec",
    "FaultInjectionSpec",
    "LocalitySpec",
    "MirrorSpec",
    "PolicySpec",
    "ServicePolicySpec",
    "RETRY_ON",
]

RETRY_ON = (
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "refused-stream",
    "retriable-status-codes",
    "retriable-4xx",
    "unavailable",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "overflow",
    "rate_limited",
    "timeout",
)
RetryOn = Literal[
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "refused-stream",
    "retriable-status-codes",
    "retriable-4xx",
    "unavailable",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "overflow",
    "rate_limited",
    "timeout",
]


class BackoffSpec(Strict):
    """Envoy's fully jittered exponential back-off: retry N waits U[0, (2^N - 1) x base), capped at max."""

    base: Duration = 0.025
    max: Duration | None = None  # Envoy: 10 x base


class RetryPolicy(Strict):
    """Retries as the caller's proxy runs them (Envoy ``retry_policy`` semantics)."""

    attempts: int | None = Field(default=None, ge=0, le=1000, description="retries after the first try")
    per_try_timeout: Duration | None = None
    retry_on: list[RetryOn] | None = None
    retriable_status_codes: list[Annotated[int, Field(ge=100, le=599)]] | None = None
    backoff: BackoffSpec | Literal["none"] | None = None
    retry_different_host: bool | None = None
    timeout: Duration | None = Field(
        default=None, description="Traefik 3.7: no retry once the request is this old (0 or unset: none)"
    )


class RetryBudgetSpec(Strict):
    """A retry budget, in Envoy's form or Linkerd's.

    Envoy: ``budget_percent``, ``min_retry_concurrency``. Linkerd: ``ratio``,
    ``min_per_second``, ``ttl``.
    """

    budget_percent: float | None = Field(default=None, ge=0, le=100)
    min_retry_concurrency: int | None = Field(default=None, ge=0)
    ratio: float | None = Field(default=None, ge=0, le=1000)
    min_per_second: float | None = Field(default=None, ge=0, le=1e9)
    ttl: Duration | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RetryBudgetSpec:
        envoy = self.budget_percent is not None or self.min_retry_concurrency is not None
        linkerd = self.ratio is not None or self.min_per_second is not None or self.ttl is not None
        if envoy and linkerd:
            raise ValueError(
                "use either the Envoy form (budget_percent, min_retry_concurrency) "
                "or the Linkerd form (ratio, min_per_second, ttl), not both"
            )
        if not envoy and not linkerd:
            raise ValueError("give budget_percent (Envoy) or ratio (Linkerd)")
        return self

    @property
    def kind(self) -> str:
        """``envoy`` or ``linkerd``."""
        return (
            "linkerd" if self.ratio is not None or self.min_per_second is not None or self.ttl is not None else "envoy"
        )


class HedgingSpec(Strict):
    """Send another attempt after ``delay`` (or on a per-try timeout); the first answer wins."""

    delay: Duration | None = None
    max_attempts: int = Field(default=2, ge=2, le=100)
    on_per_try_timeout: bool = False


LbKind = Literal["round_robin", "random", "least_request", "ewma", "ring_hash"]


class LoadBalancerSpec(Strict):
    """Balancer choice with its tuning knobs."""

    kind: LbKind
    choice_count: int = Field(default=2, ge=1, le=100)
    default_rtt: Duration = 0.030
    decay: Duration = 10.0
    key: str = "user"

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"kind": data}
        return data


class ConnectionPoolSpec(Strict):
    """Envoy circuit-breaker thresholds, enforced by each caller proxy alone."""

    max_connections: int | None = Field(default=None, ge=1)
    max_pending: int | None = Field(default=None, ge=0)
    max_requests: int | None = Field(default=None, ge=1)
    max_retries: int | None = Field(default=None, ge=0)
    connect_timeout: Duration | None = None


class OutlierDetectionSpec(Strict):
    """Envoy outlier detection (consecutive-error detectors eject inline)."""

    consecutive_5xx: int | None = Field(default=None, ge=1)
    consecutive_gateway_errors: int | None = Field(default=None, ge=1)
    enforcing_consecutive_gateway_errors: float | None = Field(default=None, ge=0, le=100)
    interval: Duration | None = None
    base_ejection_time: Duration | None = None
    max_ejection_time: Duration | None = None
    max_ejection_percent: float | None = Field(default=None, ge=0, le=100)
    min_health_percent: float | None = Field(default=None, ge=0, le=100)


class FailureAccrualSpec(Strict):
    """Linkerd consecutive-failure accrual with probation."""

    kind: Literal["consecutive"] = "consecutive"
    max_failures: int = Field(default=7, ge=1)
    min_penalty: Duration = 1.0
    max_penalty: Duration = 60.0
    jitter: float = Field(default=0.5, ge=0, le=1)


class CircuitBreakerSpec(Strict):
    """Traefik's service-wide breaker (oxy): trips on an expression over recent traffic."""

    expression: str
    check_period: Duration = 0.1
    fallback_duration: Duration = 10.0
    recovery_duration: Duration = 10.0

    @field_validator("expression")
    @classmethod
    def _known_expression(cls, value: str) -> str:
        parse_traefik_breaker(value)  # raises naming the grammar meshsim reads
        return value


class PassiveHealthCheckSpec(Strict):
    """Traefik 3.6's passive health check on a load balancer: failures in a window mark a server down."""

    failure_window: Duration = Field(default=10.0, description="the window, and how long a server stays down")
    max_failed_attempts: int = Field(default=1, ge=1, description="failures within the window that mark it down")


class RateLimitSpec(Strict):
    """A token bucket at each replica of the service; over-limit requests get 429.

    Tokens accrue continuously at ``rate`` (Envoy 1.32 and later, Traefik); with
    ``fill_interval``, ``rate x fill_interval`` tokens arrive at once every interval (Envoy's
    timer-based bucket before 1.32). The bucket holds at most ``burst`` tokens and starts full.
    """

    rate: Rate
    burst: int = Field(default=1, ge=1)
    fill_interval: Duration | None = None

    @field_validator("fill_interval")
    @classmethod
    def _positive_interval(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("fill_interval must be above zero (e.g. 1s)")
        return v

    @field_validator("rate")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("rate must be above zero")
        return v


class FaultDelaySpec(Strict):
    """Istio fault delay: add ``fixed`` to ``percent`` % of requests."""

    fixed: Duration
    percent: float = Field(default=100.0, ge=0, le=100)


class FaultAbortSpec(Strict):
    """Istio fault abort: answer ``status`` to ``percent`` % of requests."""

    status: int = Field(default=503, ge=100, le=599)
    percent: float = Field(default=100.0, ge=0, le=100)


class FaultInjectionSpec(Strict):
    """Istio-style fault injection in the caller's proxy."""

    delay: FaultDelaySpec | None = None
    abort: FaultAbortSpec | None = None


class LocalitySpec(Strict):
    """Locality-aware routing: stay in the caller's zone, then region, then the failover list."""

    prefer: Literal["zone", "region", "none"] = "zone"
    failover: list[str] = Field(default_factory=list)
    cross_zone: bool = True


class MirrorSpec(Strict):
    """Shadow traffic: best effort, the caller does not wait for the mirror."""

    to: str
    percent: float = Field(default=100.0, ge=0, le=100)


class PolicySpec(Strict):
    """The policy blocks that can be set per service or per version."""

    timeout: Duration | None = None
    retries: RetryPolicy | None = None
    retry_budget: RetryBudgetSpec | None = None
    hedging: HedgingSpec | None = None
    load_balancer: LoadBalancerSpec | None = None
    connection_pool: ConnectionPoolSpec | None = None
    outlier_detection: OutlierDetectionSpec | None = None
    failure_accrual: FailureAccrualSpec | None = None
    circuit_breaker: CircuitBreakerSpec | None = None
    passive_health_check: PassiveHealthCheckSpec | None = None
    rate_limit: RateLimitSpec | None = None
    fault: FaultInjectionSpec | None = None
    locality: LocalitySpec | None = None
    mirror: MirrorSpec | None = None


class ServicePolicySpec(PolicySpec):
    """Policy for calls to one service, with a traffic split and per-version overrides.

    ``client`` is the callers' own SDK retrying its calls to this service, around the mesh
    (each caller replica keeps its own retry quota, tokens and breaker).
    """

    split: dict[str, float] | None = None
    client: ClientSpec | None = None
    versions: dict[str, PolicySpec] = Field(default_factory=dict)

    @field_validator("split")
    @classmethod
    def _weights(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None:
            if any(w < 0 for w in v.values()):
                raise ValueError("split weights cannot be negative")
            if sum(v.values()) <= 0:
                raise ValueError("split weights must add up to more than 0")
        return v
