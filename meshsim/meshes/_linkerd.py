"""Linkerd: ServiceProfile, HTTPRoute/GRPCRoute, SMI TrafficSplit and Service/route annotations.

Semantics follow docs/references.md section 2:
- ``retry.linkerd.io/*`` and ``timeout.linkerd.io/*`` annotations on a route
  replace those on its parent Service, group by group [L1][L2];
- when a ServiceProfile exists for a service, the proxy ignores the retry,
  timeout and failure-accrual annotations [L1][L2][L3] (each ignored one warns);
- annotation retries: limit 1 by default, back-off 25..250 ms [L7];
- ServiceProfile retries are bounded only by the retry budget (default 20 %,
  10/s, 10 s [L6]); the scenario needs a per-request count, so
  :data:`PROFILE_RETRY_CAP` stands in for "no per-request limit".
"""

from __future__ import annotations

from typing import ClassVar

from meshsim.meshes._base import Builder, Cur, service_name
from meshsim.meshes._block_defaults import fill
from meshsim.meshes._common import (
    Ident,
    MeshImporter,
    backend_version,
    import_traffic_split,
    quantity,
    write_split,
)
from meshsim.meshes._gatewayapi import import_gateway_route

__all__ = ["PROFILE_RETRY_CAP", "LinkerdImporter"]

#: ServiceProfile retries have no per-request limit, only the budget [L10][L11];
#: this many retries per request is the stand-in (the budget binds long before).
PROFILE_RETRY_CAP = 100

_RETRY_KEYS = ("retry.linkerd.io/http", "retry.linkerd.io/grpc", "retry.linkerd.io/limit", "retry.linkerd.io/timeout")
_TIMEOUT_KEYS = ("timeout.linkerd.io/request", "timeout.linkerd.io/response", "timeout.linkerd.io/idle")
_ACCRUAL = "balancer.linkerd.io/failure-accrual"
_ACCRUAL_FIELDS = {
    "balancer.linkerd.io/failure-accrual-consecutive-max-failures": ("max_failures", "int"),
    "balancer.linkerd.io/failure-accrual-consecutive-min-penalty": ("min_penalty", "duration"),
    "balancer.linkerd.io/failure-accrual-consecutive-max-penalty": ("max_penalty", "duration"),
    "balancer.linkerd.io/failure-accrual-consecutive-jitter-ratio": ("jitter", "ratio"),
}
_GRPC = {
    "cancelled": "cancelled",
    "deadline-exceeded": "deadline-exceeded",
    "internal": "internal",
    "resource-exhausted": "resource-exhausted",
    "unavailable": "unavailable",
}


def _annotations(root: Cur) -> dict[str, Cur]:
    meta = root.get("metadata")
    ann = meta.get("annotations") if meta is not None else None
    if ann is None or not isinstance(ann.value, dict):
        return {}
    return {str(k): c for k, c in ann.items()}


class LinkerdImporter(MeshImporter):
    """Linkerd objects and annotations."""

    FORMAT = "linkerd"
    HANDLERS: ClassVar[dict[str, str]] = {
        "ServiceProfile": "service_profile",
        "HTTPRoute": "route",
        "GRPCRoute": "route",
        "TrafficSplit": "traffic_split",
    }
    UNMODELLED: ClassVar[dict[str, str]] = {
        "Server": "inbound server definitions (authorization) are not modelled",
        "ServerAuthorization": "authorization is not modelled",
        "AuthorizationPolicy": "authorization is not modelled",
        "MeshTLSAuthentication": "authorization is not modelled",
        "NetworkAuthentication": "authorization is not modelled",
        "HTTPLocalRateLimitPolicy": "inbound rate limits on a Server are not modelled",
        "EgressNetwork": "egress traffic is not modelled",
    }
    IGNORED: ClassVar[frozenset[str]] = frozenset({"ExternalWorkload", "Link"})

    def __init__(self, builder: Builder) -> None:
        super().__init__(builder)
        self.profiles: dict[str, Cur] = {}
        self.service_ann: dict[str, dict[str, Cur]] = {}
        self.route_ann: dict[str, dict[str, Cur]] = {}

    # -- annotations ------------------------------------------------------------------------
    def on_service(self, root: Cur, ident: Ident) -> None:
        ann = {
            k: c
            for k, c in _annotations(root).items()
            if k.startswith(
                ("retry.linkerd.io/", "timeout.linkerd.io/", "balancer.linkerd.io/", "balancer.alpha.linkerd.io/")
            )
        }
        if ann:
            self.service_ann[ident.name] = ann

    def route(self, root: Cur, ident: Ident) -> None:
        parents = import_gateway_route(self.b, root, ident)
        ann = {
            k: c for k, c in _annotations(root).items() if k.startswith(("retry.linkerd.io/", "timeout.linkerd.io/"))
        }
        for svc, _ in parents:
            if ann:
                # A later route's annotations for the same service replace an earlier one's.
                self.route_ann[svc] = ann

    def traffic_split(self, root: Cur, ident: Ident) -> None:
        import_traffic_split(self.b, root, ident)

    # -- ServiceProfile -----------------------------------------------------------------------
    def service_profile(self, root: Cur, ident: Ident) -> None:
        svc = service_name(ident.name)
        self.profiles[svc] = root
        spec = root.get("spec")
        if spec is None:
            raise root.error("a ServiceProfile needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"routes", "retryBudget", "dstOverrides"}, {"opaquePorts"})
        self.b.service(svc, root)
        tgt = (svc, None)
        routes = spec.get("routes")
        chosen = None
        if routes is not None:
            items = [r.map() for r in routes.list()]
            with_policy = [r for r in items if r.get("isRetryable") is not None or r.get("timeout") is not None]
            chosen = with_policy[0] if with_policy else None
            for r in items:
                self.b.unmodelled(r, {"name", "condition", "isRetryable", "timeout", "responseClasses"})
                if r.get("condition") is None:
                    raise r.error("a ServiceProfile route needs a condition")
            if chosen is not None:
                cond = chosen.get("condition")
                if cond is not None and not _catch_all(cond):
                    self.b.warn(
                        cond,
                        "route condition (path/method) not modelled; this route's "
                        "retries and timeout apply to every call",
                    )
                for r in with_policy[1:]:
                    if _policy_of(r) != _policy_of(chosen):
                        self.b.warn(
                            r,
                            f"per-route settings differ from route {chosen.path}; meshsim has one "
                            "policy per service and used that route's",
                        )
                self._profile_route(tgt, chosen)
        budget = spec.get("retryBudget")
        if budget is not None:
            budget.map()
            self.b.unmodelled(budget, {"retryRatio", "minRetriesPerSecond", "ttl"})
            blk = self.b.block(tgt, "retry_budget", budget)
            for fld, name in (("retryRatio", "ratio"), ("minRetriesPerSecond", "min_per_second")):
                c = budget.get(fld)
                if c is not None:
                    blk.set(name, c.as_num(), c)
            ttl = budget.get("ttl")
            if ttl is not None:
                blk.set("ttl", ttl.duration(), ttl)
            fill(blk, "linkerd")
        elif chosen is not None and _retryable(chosen):
            fill(self.b.block(tgt, "retry_budget", spec), "linkerd")
        overrides = spec.get("dstOverrides")
        if overrides is not None:
            entries = []
            for o in overrides.list():
                o.map()
                auth, weight = o.get("authority"), o.get("weight")
                if auth is None or weight is None:
                    raise o.error("a dstOverride needs authority and weight")
                backend = service_name(auth.as_str())
                entries.append((backend_version(svc, backend), quantity(weight), weight))
            if not (len(entries) == 1 and entries[0][0] == svc):
                write_split(self.b, tgt, entries, overrides)

    def _profile_route(self, tgt: tuple[str, str | None], r: Cur) -> None:
        timeout = r.get("timeout")
        if timeout is not None:
            self.b.block(tgt, "timeout", timeout).set(None, timeout.duration(), timeout)
        retryable = r.get("isRetryable")
        if retryable is None or not retryable.as_bool():
            return
        blk = self.b.block(tgt, "retries", retryable)
        blk.set(
            "attempts",
            PROFILE_RETRY_CAP,
            retryable.noted(
                "Linkerd profile retries: no per-request "
                f"limit, bounded by retry_budget; {PROFILE_RETRY_CAP} stands in, §2 [L10][L11]"
            ),
        )
        codes: list[int] = []
        classes = r.get("responseClasses")
        if classes is not None:
            for rc in classes.list():
                rc.map()
                fail = rc.get("isFailure")
                cond = rc.get("condition")
                status = cond.get("status") if cond is not None else None
                if fail is None or not fail.as_bool():
                    continue
                if status is None:
                    self.b.warn(cond or rc, "response class condition other than status not modelled")
                    continue
                lo, hi = status.get("min"), status.get("max")
                low = lo.as_int() if lo is not None else 100
                high = hi.as_int() if hi is not None else 599
                codes.extend(range(low, high + 1))
        if codes and classes is not None:
            blk.set("retry_on", ["retriable-status-codes"], classes)
            blk.set("retriable_status_codes", sorted(set(codes)), classes)
        else:
            blk.set("retry_on", ["5xx"], retryable.noted("Linkerd: 5xx responses are failures by default, §2 [L4]"))

    # -- resolution ------------------------------------------------------------------------------
    def finish(self) -> None:
        for svc in sorted(set(self.service_ann) | set(self.route_ann)):
            svc_ann = self.service_ann.get(svc, {})
            route_ann = self.route_ann.get(svc, {})
            if svc in self.profiles:
                profile = self.profiles[svc]
                for key, cur in {**svc_ann, **route_ann}.items():
                    if key.startswith(("retry.", "timeout.", "balancer.linkerd.io/failure")):
                        self.b.warn(
                            cur,
                            f"annotation ignored: ServiceProfile {profile.obj} "
                            f"({profile.where()}) overrides it (§2 [L1])",
                        )
                continue
            tgt = (svc, None)
            retry_src = route_ann if any(k in route_ann for k in _RETRY_KEYS) else svc_ann
            if retry_src is route_ann:
                for key in _RETRY_KEYS:
                    if key in svc_ann:
                        self.b.warn(svc_ann[key], "annotation overridden by the route's retry annotations (§2 [L1])")
            if any(k in retry_src for k in _RETRY_KEYS):
                self._annotation_retries(tgt, retry_src)
            for key in _TIMEOUT_KEYS:
                if key in route_ann and key in svc_ann:
                    self.b.warn(svc_ann[key], f"annotation overridden by the route's {key}")
            timeouts = {
                **{k: svc_ann[k] for k in _TIMEOUT_KEYS if k in svc_ann},
                **{k: route_ann[k] for k in _TIMEOUT_KEYS if k in route_ann},
            }
            if not any(k in route_ann for k in _TIMEOUT_KEYS) and self.b.has(tgt, ("timeout",), strong_only=True):
                # The route's own timeouts.request is more specific than the Service's annotation.
                for key in _TIMEOUT_KEYS:
                    if key in svc_ann:
                        self.b.warn(svc_ann[key], "annotation overridden by the route's timeouts.request")
                timeouts = {}
            self._annotation_timeouts(tgt, timeouts)
            self._failure_accrual(tgt, svc_ann)
        super().finish()

    def _annotation_retries(self, tgt: tuple[str, str | None], ann: dict[str, Cur]) -> None:
        first = next(ann[k] for k in _RETRY_KEYS if k in ann)
        blk = self.b.block(tgt, "retries", first)
        conds: list[str] = []
        codes: list[int] = []
        http = ann.get("retry.linkerd.io/http")
        if http is not None:
            for part in (p.strip() for p in http.as_str().split(",")):
                if part in ("5xx", "gateway-error"):
                    conds.append(part)
                elif "-" in part and all(x.strip().isdigit() for x in part.split("-", 1)):
                    lo, hi = (int(x) for x in part.split("-", 1))
                    codes.extend(range(lo, hi + 1))
                elif part.isdigit():
                    codes.append(int(part))
                elif part:
                    raise http.error(f"unknown retry condition {part!r} (use 5xx, gateway-error, 504 or 500-504)")
        grpc = ann.get("retry.linkerd.io/grpc")
        if grpc is not None:
            for part in (p.strip() for p in grpc.as_str().split(",")):
                if part not in _GRPC:
                    raise grpc.error(f"unknown gRPC retry condition {part!r}")
                conds.append(_GRPC[part])
        per_try = ann.get("retry.linkerd.io/timeout")
        if per_try is not None:
            blk.set("per_try_timeout", per_try.duration(), per_try)
            conds.append("timeout")  # the retry timeout cancels the try and retries it [L1]
        if codes:
            assert http is not None  # codes only come from the http annotation
            conds.append("retriable-status-codes")
            blk.set("retriable_status_codes", sorted(set(codes)), http)
        src = http or grpc or per_try
        if src is not None:
            blk.set("retry_on", conds, src)
        limit = ann.get("retry.linkerd.io/limit")
        if limit is not None:
            blk.set("attempts", limit.as_int(), limit)
        fill(blk, "linkerd")

    def _annotation_timeouts(self, tgt: tuple[str, str | None], ann: dict[str, Cur]) -> None:
        req, resp = ann.get("timeout.linkerd.io/request"), ann.get("timeout.linkerd.io/response")
        if req is not None:
            self.b.block(tgt, "timeout", req).set(None, req.duration(), req)
        if resp is not None:
            if req is None:
                self.b.warn(resp, "response timeout modelled as the request timeout")
                self.b.block(tgt, "timeout", resp).set(None, resp.duration(), resp)
            else:
                self.b.warn(resp, "response timeout not modelled alongside a request timeout")

    def _failure_accrual(self, tgt: tuple[str, str | None], ann: dict[str, Cur]) -> None:
        mode = ann.get(_ACCRUAL)
        for key, cur in ann.items():
            if key.startswith("balancer.alpha.linkerd.io/"):
                self.b.warn(cur, "annotation not modelled")
        if mode is None:
            return
        kind = mode.as_str()
        if kind == "unified":
            self.b.warn(mode, "unified (success-rate) failure accrual not modelled; only consecutive is")
            return
        if kind != "consecutive":
            raise mode.error(f"failure accrual must be consecutive or unified, got {kind!r}")
        blk = self.b.block(tgt, "failure_accrual", mode)
        blk.set("kind", "consecutive", mode)
        for key, (fld, typ) in _ACCRUAL_FIELDS.items():
            item = ann.get(key)
            if item is None:
                continue
            if typ == "int":
                blk.set(fld, item.as_int(minimum=1), item)
            elif typ == "duration":
                blk.set(fld, item.duration(), item)
            else:
                v = item.as_num()
                if v > 1:
                    raise item.error("jitter ratio must be between 0 and 1")
                blk.set(fld, v, item)
        fill(blk, "linkerd")


def _catch_all(cond: Cur) -> bool:
    v = cond.value
    if not isinstance(v, dict):
        return False
    regex = v.get("pathRegex")
    return set(v) == {"pathRegex"} and regex in (".*", "/.*", "^/.*$")


def _policy_of(r: Cur) -> tuple[object, object]:
    retry = r.get("isRetryable")
    timeout = r.get("timeout")
    return (retry.value if retry is not None else None, timeout.value if timeout is not None else None)


def _retryable(route: Cur) -> bool:
    flag = route.get("isRetryable")
    return flag is not None and flag.as_bool()
