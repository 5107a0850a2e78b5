"""Linkerd: everything meshsim knows about it (docs/references.md §2).

linkerd2-proxy is not Envoy; the preset is still written as the differences from the
Envoy base, so every line below says where Linkerd's proxy departs from Envoy. The
importer reads ServiceProfile, HTTPRoute/GRPCRoute, SMI TrafficSplit and the
Service/route annotations. Semantics:
- ``retry.linkerd.io/*`` and ``timeout.linkerd.io/*`` annotations on a route
  replace those on its parent Service, group by group [L1][L2];
- when a ServiceProfile exists for a service, the proxy ignores the retry,
  timeout and failure-accrual annotations [L1][L2][L3] (each is noted as having no effect);
- annotation retries: limit 1 by default, back-off 25..250 ms [L7], and no retry
  budget: only the limit bounds them [L14];
- ServiceProfile retries are bounded only by the retry budget (default 20 %,
  10/s, 10 s [L6]); the scenario needs a per-request count, so
  :data:`PROFILE_RETRY_CAP` stands in for "no per-request limit", and the importer
  writes the budget itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, TypeVar

from meshsim.meshes._builder import Builder
from meshsim.meshes._common import (
    Ident,
    MeshImporter,
    backend_version,
    import_traffic_split,
    quantity,
    write_split,
)
from meshsim.meshes._cursor import Cur, service_name, split_host
from meshsim.meshes._envoy import BLOCKS as ENVOY_BLOCKS
from meshsim.meshes._envoy import ENVOY
from meshsim.meshes._gatewayapi import import_gateway_route
from meshsim.meshes._preset import BlockDefaults, MeshUnit, Preset, Proxy, Semantic
from meshsim.units import format_duration

__all__ = ["BLOCKS", "PRESET", "PROFILE_BUDGET", "PROFILE_RETRY_CAP", "SEMANTICS", "UNIT", "LinkerdImporter"]

#: The ServiceProfile retry budget's defaults: (retryRatio, minRetriesPerSecond, ttl seconds) [L6].
PROFILE_BUDGET = (0.2, 10.0, 10.0)

#: linkerd2-proxy per traversal: Linkerd added 0.35-0.5x Istio's latency in the Kinvolk
#: harness (§8 [P3][P4]).
LINKERD_PROXY = Proxy(
    "linkerd2-proxy",
    {"dist": "lognormal", "median": "0.3ms", "p99": "1.2ms"},
    "Kinvolk harness, Linkerd vs Istio, §8 [P3][P4]",
)

#: What an unset field means under ``mesh.defaults: linkerd``: the Envoy base with these differences.
PRESET: Preset = ENVOY.but(
    name="linkerd",
    source="linkerd preset (docs/references.md §2, §7)",
    version="Linkerd 2.19 / edge-26.x",
    proxy="linkerd2-proxy",
    timeout_s=None,  # no route timeout [L6]
    retry_on=("5xx",),  # a failure is a 5xx (or a failing gRPC status) [L3][L4]
    retry_different_host=True,  # each try is balanced anew over ready endpoints [L8]
    load_balancer="ewma",  # P2C over PeakEWMA, rtt 30 ms, decay 10 s [L8]
    max_connections=None,
    max_pending=10_000,  # balancer queue capacity [L12]
    max_requests=None,
    max_retries=None,
    connect_timeout_s=1.0,  # outbound connect timeout [L12]
    panic_percent=0.0,  # no panic mode: with every endpoint in penalty, calls fail [L3]
)

#: Linkerd's defaults for the fields of a block an object writes partly.
BLOCKS: dict[str, BlockDefaults] = {
    "retries": (
        {"attempts": PRESET.retry_attempts_in_block, **ENVOY_BLOCKS["backoff"][0], "retry_on": []},
        "Linkerd retry annotations: limit 1, back-off 25ms..250ms, §2 [L1][L7]",
    ),
    "retry_budget": (
        {
            "ratio": PROFILE_BUDGET[0],
            "min_per_second": int(PROFILE_BUDGET[1]),
            "ttl": format_duration(PROFILE_BUDGET[2]),
        },
        "Linkerd ServiceProfile budget 20%/10 rps/10s, §2 [L6]",
    ),
    "failure_accrual": (
        {"kind": "consecutive", "max_failures": 7, "min_penalty": "1s", "max_penalty": "60s", "jitter": 0.5},
        "Linkerd consecutive failure accrual defaults, §2 [L3]",
    ),
}

_T = TypeVar("_T")

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
    GROUPS: ClassVar[tuple[str, ...]] = ("linkerd.io",)
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

    def __init__(self, builder: Builder, units: Mapping[str, MeshUnit] | None = None) -> None:
        super().__init__(builder, units)
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
            self.service_ann[self.b.qualify(ident.name, ident.namespace)] = ann

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
        name, ns = split_host(ident.name)
        svc = self.b.qualify(name, ns or ident.namespace)
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
                    self.b.approx(
                        cond,
                        "route condition (path/method) not modelled; this route's "
                        "retries and timeout apply to every call",
                    )
                for r in with_policy[1:]:
                    if _policy_of(r) != _policy_of(chosen):
                        self.b.ignore(
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
            blk.fill(BLOCKS["retry_budget"])
        elif chosen is not None and _retryable(chosen):
            # The controller sends the default budget even when the profile names none [L6].
            self.b.block(tgt, "retry_budget", spec).fill(BLOCKS["retry_budget"])
        overrides = spec.get("dstOverrides")
        if overrides is not None:
            entries = []
            for o in overrides.list():
                o.map()
                auth, weight = o.get("authority"), o.get("weight")
                if auth is None or weight is None:
                    raise o.error("a dstOverride needs authority and weight")
                backend = service_name(auth.as_str())
                entries.append((backend_version(self.b.plain(svc), backend), quantity(weight), weight))
            if not (len(entries) == 1 and entries[0][0] == self.b.plain(svc)):
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
                    self.b.ignore(cond or rc, "response class condition other than status not modelled")
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
    def _lookup(self, table: dict[str, _T], svc: str) -> _T | None:
        """The entry of ``table`` for ``svc`` (a key without a namespace matches any namespace)."""
        return next((v for k, v in table.items() if self.b.same(k, svc)), None)

    def finish(self) -> None:
        keys = set(self.service_ann) | set(self.route_ann)
        # One key per service: the one that names its namespace, when any does.
        canonical = sorted(
            k for k in keys if not any(o != k and self.b.same(o, k) and k == self.b.plain(k) for o in keys)
        )
        for svc in canonical:
            svc_ann = self._lookup(self.service_ann, svc) or {}
            route_ann = self._lookup(self.route_ann, svc) or {}
            profile = self._lookup(self.profiles, svc)
            if profile is not None:
                for key, cur in {**svc_ann, **route_ann}.items():
                    if key.startswith(("retry.", "timeout.", "balancer.linkerd.io/failure")):
                        self.b.irrelevant(
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
                        self.b.irrelevant(
                            svc_ann[key], "annotation overridden by the route's retry annotations (§2 [L1])"
                        )
            if any(k in retry_src for k in _RETRY_KEYS):
                self._annotation_retries(tgt, retry_src)
            for key in _TIMEOUT_KEYS:
                if key in route_ann and key in svc_ann:
                    self.b.irrelevant(svc_ann[key], f"annotation overridden by the route's {key}")
            timeouts = {
                **{k: svc_ann[k] for k in _TIMEOUT_KEYS if k in svc_ann},
                **{k: route_ann[k] for k in _TIMEOUT_KEYS if k in route_ann},
            }
            if not any(k in route_ann for k in _TIMEOUT_KEYS) and self.b.has(tgt, ("timeout",), strong_only=True):
                # The route's own timeouts.request is more specific than the Service's annotation.
                for key in _TIMEOUT_KEYS:
                    if key in svc_ann:
                        self.b.irrelevant(svc_ann[key], "annotation overridden by the route's timeouts.request")
                timeouts = {}
            self._annotation_timeouts(tgt, timeouts)
            self._failure_accrual(tgt, svc_ann)
            known = {*_RETRY_KEYS, *_TIMEOUT_KEYS, _ACCRUAL, *_ACCRUAL_FIELDS}
            for key, cur in {**svc_ann, **route_ann}.items():
                if key not in known and not key.startswith("balancer.alpha.linkerd.io/"):
                    self.b.ignore(cur, f"annotation {key} not modelled")
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
        blk.fill(BLOCKS["retries"])

    def _annotation_timeouts(self, tgt: tuple[str, str | None], ann: dict[str, Cur]) -> None:
        req, resp = ann.get("timeout.linkerd.io/request"), ann.get("timeout.linkerd.io/response")
        if req is not None:
            self.b.block(tgt, "timeout", req).set(None, req.duration(), req)
        if resp is not None:
            if req is None:
                self.b.approx(resp, "response timeout modelled as the request timeout")
                self.b.block(tgt, "timeout", resp).set(None, resp.duration(), resp)
            else:
                self.b.ignore(resp, "response timeout not modelled alongside a request timeout")
        idle = ann.get("timeout.linkerd.io/idle")
        if idle is not None:
            self.b.ignore(idle, "idle timeout (a stream with no data for that long) not modelled")

    def _failure_accrual(self, tgt: tuple[str, str | None], ann: dict[str, Cur]) -> None:
        mode = ann.get(_ACCRUAL)
        for key, cur in ann.items():
            if key.startswith("balancer.alpha.linkerd.io/"):
                self.b.ignore(cur, "annotation not modelled")
        if mode is None:
            return
        kind = mode.as_str()
        if kind == "unified":
            self.b.ignore(mode, "unified (success-rate) failure accrual not modelled; only consecutive is")
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
        blk.fill(BLOCKS["failure_accrual"])


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


_L2 = "linkerd/linkerd2"
_PROXY = "linkerd/linkerd2-proxy"
_V = "edge-26.8.3 (b24cd40, Aug 2026)"
_VP = "main (29637b6, Aug 2026)"

SEMANTICS: tuple[Semantic, ...] = (
    Semantic(
        "retries",
        "none unless a ServiceProfile route is retryable or retry annotations are set",
        "linkerd/website linkerd.io/content/2-edge/reference/retries.md",
        "2-edge docs (93f0017, Aug 2026)",
        "§2 [L1]",
    ),
    Semantic(
        "retry annotations",
        "limit 1 when unset; back-off 25 ms to 250 ms, jitter 1.0",
        f"{_L2} policy-controller/k8s/index/src/outbound/index/http.rs:374-441; "
        f"{_L2} policy-controller/grpc/src/outbound/http.rs:566-569",
        _V,
        "§2 [L7]",
    ),
    Semantic(
        "retry budget on annotation (policy) retries",
        "none: only the limit bounds them (the budget lives on the ServiceProfile path only)",
        f"{_PROXY} linkerd/app/outbound/src/http/logical/policy/route/retry.rs (no budget); "
        f"{_PROXY} linkerd/app/outbound/src/http/retry.rs:36,62,114-118 (profile budget)",
        _VP,
        "§2 [L14][L11]",
    ),
    Semantic(
        "ServiceProfile retry budget",
        "retryRatio 0.2, minRetriesPerSecond 10, ttl 10 s, sent even without a profile",
        f"{_L2} controller/api/destination/profile_translator.go:154-166",
        _V,
        "§2 [L6]",
    ),
    Semantic(
        "route timeout",
        "none",
        f"{_L2} controller/api/destination/profile_translator.go",
        _V,
        "§2 [L6]",
    ),
    Semantic(
        "load balancer",
        "P2C over PeakEWMA, default rtt 30 ms, decay 10 s",
        f"{_PROXY} linkerd/app/outbound/src/http/logical/profile.rs:47-50",
        _VP,
        "§2 [L8]",
    ),
    Semantic(
        "proxy limits",
        "outbound connect timeout 1 s; balancer queue 10,000; fail-fast after 3 s",
        f"{_PROXY} linkerd/app/src/env.rs:300-303",
        _VP,
        "§2 [L12]",
    ),
    Semantic(
        "failure accrual (consecutive)",
        "off unless annotated; max failures 7, min penalty 1 s, max penalty 60 s, jitter 0.5",
        f"{_L2} policy-controller/k8s/index/src/outbound/index.rs:2109-2126",
        _V,
        "§2 [L3]",
    ),
    Semantic(
        "ServiceProfile present",
        "the retry, timeout and failure-accrual annotations of that service are ignored",
        "linkerd/website linkerd.io/content/2-edge/reference/retries.md, timeouts.md, circuit-breaking.md",
        "2-edge docs (93f0017, Aug 2026)",
        "§2 [L1][L2][L3]",
    ),
)

UNIT = MeshUnit(
    name="linkerd",
    title="Linkerd",
    presets={"linkerd": PRESET},
    import_preset="linkerd",
    importer=LinkerdImporter,
    proxies=(LINKERD_PROXY,),
    block_defaults=BLOCKS,
    semantics=SEMANTICS,
)
