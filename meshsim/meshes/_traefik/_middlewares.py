"""Traefik 3.x middlewares and load-balancer options -> scenario policy fields (docs/references.md §6).

Every option of the retry middleware and of a load balancer is modelled, approximated
with a note that says how, or noted as not modelled:

- ``retry``: ``attempts`` counts every try (retries = attempts - 1) [T4]; without
  ``initialInterval`` retries follow at once; ``status`` adds retriable status codes;
  ``disableRetryOnNetworkError`` drops connect-failure; ``initialInterval`` is the
  back-off base (the traefik preset runs Traefik's own exponential back-off from it);
  ``timeout`` is the retry timeout; ``maxRequestBodyBytes`` and the method rule
  (``retryNonIdempotentMethod``) are approximated as noted;
- ``circuitBreaker``, ``rateLimit``, ``chain``: modelled; other middlewares are noted;
- ``loadBalancer.strategy``: ``wrr`` = round robin, ``p2c`` = least request (two
  choices), ``hrw`` = a consistent hash on the source, ``leasttime`` approximated by
  peak-EWMA; ``passiveHealthCheck`` [T9] is modelled (``passive_health_check``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from meshsim.meshes._builder import Builder, Target
from meshsim.meshes._cursor import Cur
from meshsim.meshes._traefik._breaker import parse_breaker_expression
from meshsim.meshes._traefik._defaults import BLOCKS
from meshsim.units import format_duration

__all__ = ["apply_middleware", "apply_servers"]

#: Middlewares that change requests or answers but not what meshsim simulates.
_NO_EFFECT = frozenset(
    {
        "addPrefix",
        "stripPrefix",
        "stripPrefixRegex",
        "replacePath",
        "replacePathRegex",
        "headers",
        "compress",
        "redirectScheme",
        "redirectRegex",
        "contentType",
        "passTLSClientCert",
        "grpcWeb",
        "plugin",
    }
)


def apply_middleware(b: Builder, tgt: Target, body: Cur, known: Mapping[str, Cur], depth: int = 0) -> None:
    """Apply one middleware (a ``Middleware`` spec or a file-provider entry) to calls to ``tgt``."""
    for kind, part in body.items():
        if kind == "retry":
            _retry(b, tgt, part.map())
        elif kind == "circuitBreaker":
            _circuit_breaker(b, tgt, part.map())
        elif kind == "rateLimit":
            _rate_limit(b, tgt, part.map())
        elif kind == "chain" and depth < 8:
            for ref in _items(part.map().get("middlewares")):
                name = ref.as_str() if not isinstance(ref.value, dict) else str(ref.value.get("name", ""))
                inner = known.get(name.split("@", 1)[0])
                if inner is None:
                    b.ignore(ref, f"middleware {name!r} is not in this import; not applied")
                else:
                    apply_middleware(b, tgt, inner, known, depth + 1)
        elif kind in _NO_EFFECT:
            b.irrelevant(part, f"middleware {kind} has no effect on traffic in meshsim")
        else:
            b.ignore(part, f"middleware {kind} not modelled")


def _retry(b: Builder, tgt: Target, rc: Cur) -> None:
    b.unmodelled(
        rc,
        {
            "attempts",
            "initialInterval",
            "status",
            "disableRetryOnNetworkError",
            "retryNonIdempotentMethod",
            "timeout",
            "maxRequestBodyBytes",
        },
    )
    attempts = rc.get("attempts")
    if attempts is None or attempts.as_int() <= 0:
        raise (attempts or rc).error("the retry middleware needs attempts of at least 1 (Traefik refuses it)")
    blk = b.block(tgt, "retries", rc)
    blk.set(
        "attempts",
        attempts.as_int() - 1,
        attempts.noted("Traefik attempts count every try: retries = attempts - 1, §6 [T4]"),
    )
    status = rc.get("status")
    codes = _codes(status) if status is not None else []
    off = rc.get("disableRetryOnNetworkError")
    network = not (off is not None and off.as_bool())
    if not network and not codes:
        raise rc.error("disableRetryOnNetworkError needs status codes to retry on (Traefik refuses it)")
    conds = (["connect-failure"] if network else []) + (["retriable-status-codes"] if codes else [])
    blk.set("retry_on", conds, off or status or rc)
    if codes:
        assert status is not None
        blk.set("retriable_status_codes", codes, status)
        method = rc.get("retryNonIdempotentMethod")
        if method is None or not method.as_bool():
            b.approx(
                status,
                "Traefik retries POST, PATCH and LOCK requests on these codes only with retryNonIdempotentMethod; "
                "meshsim requests have no method, so every request is retried on them",
            )
    interval = rc.get("initialInterval")
    first = interval.seconds() if interval is not None else 0.0
    if first > 0:
        assert interval is not None
        # the traefik preset runs Traefik's own back-off from this base (engine/_traefik_retry.py)
        blk.set("backoff.base", format_duration(first), interval)
    timeout = rc.get("timeout")
    if timeout is not None and timeout.seconds() > 0:
        blk.set("timeout", format_duration(timeout.seconds()), timeout)
    body = rc.get("maxRequestBodyBytes")
    if body is not None:
        b.approx(body, "requests with a larger body are not retried on status codes; meshsim retries them all")
    blk.fill(BLOCKS["retries"])


def _codes(status: Cur) -> list[int]:
    """``["500-599", "503"]`` -> the status codes (Traefik's HTTP code ranges)."""
    codes: list[int] = []
    for item in status.list():
        text = item.as_str().strip()
        lo, _, hi = text.partition("-")
        try:
            low, high = int(lo), int(hi or lo)
        except ValueError:
            raise item.error(f"expected a status code or range such as 500-599, got {text!r}") from None
        if not 100 <= low <= high <= 599:
            raise item.error(f"{text!r} is not a range of HTTP status codes")
        codes += [c for c in range(low, high + 1) if c not in codes]
    return codes


def _circuit_breaker(b: Builder, tgt: Target, cb: Cur) -> None:
    b.unmodelled(cb, {"expression", "checkPeriod", "fallbackDuration", "recoveryDuration", "responseCode"})
    expr = cb.get("expression")
    if expr is None or not expr.as_str().strip():
        raise cb.error("a circuit breaker needs an expression")
    text = _breaker_condition(b, expr)
    if text is None:
        return
    blk = b.block(tgt, "circuit_breaker", cb)
    blk.set("expression", text, expr)
    for fld, name in (
        ("checkPeriod", "check_period"),
        ("fallbackDuration", "fallback_duration"),
        ("recoveryDuration", "recovery_duration"),
    ):
        c = cb.get(fld)
        if c is not None:
            blk.set(name, c.duration(int_unit=1.0), c)
    code = cb.get("responseCode")
    if code is not None and code.as_int() != 503:
        b.approx(code, f"an open breaker answers {code.as_int()}; meshsim counts it as a local 503 (overflow)")
    blk.fill(BLOCKS["circuit_breaker"])


def _breaker_condition(b: Builder, expr: Cur) -> str | None:
    """The one condition meshsim evaluates of a breaker's expression (None: none it can read).

    Traefik combines conditions with ``&&`` and ``||`` [T5]; meshsim evaluates a single
    ``Metric(...) > x``, so a combination keeps its first readable condition, said so.
    """
    text = expr.as_str().strip()
    try:
        parse_breaker_expression(text)
        return text
    except ValueError:
        pass
    readable = []
    for clause in re.split(r"&&|\|\|", text):
        clause = clause.strip().strip("()").strip()
        clause = clause if clause.count("(") == clause.count(")") else clause + ")"
        try:
            parse_breaker_expression(clause)
        except ValueError:
            continue
        readable.append(clause)
    if not readable:
        b.ignore(expr, f"breaker expression {text!r} not modelled (meshsim reads one Metric(...) > x condition)")
        return None
    b.approx(expr, f"meshsim evaluates one condition of {text!r}: {readable[0]!r}")
    return readable[0]


def _rate_limit(b: Builder, tgt: Target, rl: Cur) -> None:
    b.unmodelled(rl, {"average", "period", "burst", "sourceCriterion"}, {"redis"})
    avg = rl.get("average")
    if avg is None or avg.as_num() <= 0:
        b.irrelevant(rl, "no effect: a rate limit without a positive average does not limit (§6 [T6])")
        return
    period = rl.get("period")
    secs = period.seconds(int_unit=1.0) if period is not None else 1.0
    if secs <= 0:
        raise (period or rl).error("period must be above zero")
    blk = b.block(tgt, "rate_limit", rl)
    blk.set("rate", f"{float(avg.as_num()) / secs:g}/s", avg)
    burst = rl.get("burst")
    if burst is not None:
        blk.set("burst", max(1, burst.as_int()), burst)
    source = rl.get("sourceCriterion")
    if source is not None:
        b.approx(source, "one bucket per caller proxy: meshsim has no client IPs or headers to key buckets by")
    blk.fill(BLOCKS["rate_limit"])


def apply_servers(b: Builder, tgt: Target, lb: Cur) -> None:
    """A load balancer's strategy and health checks (a file ``loadBalancer`` or an IngressRoute service)."""
    strategy = lb.get("strategy")
    if strategy is not None:
        name = strategy.as_str().lower()
        blk = b.block(tgt, "load_balancer", strategy)
        if name in ("", "wrr", "roundrobin"):
            blk.set(None, "round_robin", strategy)
        elif name == "p2c":
            blk.set("kind", "least_request", strategy)
            blk.set("choice_count", 2, strategy)
        elif name == "hrw":
            blk.set("kind", "ring_hash", strategy)
            blk.set("key", "source-ip", strategy)
            b.approx(strategy, "highest random weight on the client IP modelled as a ring hash on the source")
        elif name == "leasttime":
            blk.set(None, "ewma", strategy)
            b.approx(strategy, "least time (response time and active requests) modelled as P2C over peak-EWMA")
        else:
            raise strategy.error(f"unknown load-balancer strategy {strategy.as_str()!r} (wrr, p2c, hrw, leasttime)")
    health = lb.get("healthCheck")
    if health is not None:
        b.ignore(health, "active health checks not modelled")
    sticky = lb.get("sticky")
    if sticky is not None:
        b.ignore(sticky, "sticky sessions not modelled")
    passive = lb.get("passiveHealthCheck")
    if passive is not None:
        _passive(b, tgt, passive.map())


def _passive(b: Builder, tgt: Target, phc: Cur) -> None:
    """Traefik 3.6 passive health check -> ``passive_health_check`` [T9]."""
    b.unmodelled(phc, {"failureWindow", "maxFailedAttempts"})
    window = phc.get("failureWindow")
    fails = phc.get("maxFailedAttempts")
    blk = b.block(tgt, "passive_health_check", phc)
    note = "Traefik passive health check defaults: maxFailedAttempts 1, failureWindow 10s, §6 [T9]"
    window_s = window.seconds(int_unit=1.0) if window is not None else 10.0
    blk.set("failure_window", format_duration(window_s), window or phc.noted(note))
    blk.set("max_failed_attempts", fails.as_int(minimum=1) if fails is not None else 1, fails or phc.noted(note))


def _items(cur: Cur | None) -> list[Cur]:
    return cur.list() if cur is not None and cur.value is not None else []
