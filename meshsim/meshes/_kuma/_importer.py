"""Kuma / Kong Mesh targetRef policies -> scenario policies (docs/references.md §5).

Accepted forms: Kubernetes (``apiVersion: kuma.io/v1alpha1``, ``kind``,
``metadata``) and Universal (``type``, ``name``, ``mesh``, ``spec``). Which calls a
policy's ``default`` block is for comes from :mod:`._targets`; this module applies
each block. Policies merge field by field, as Kuma merges them.

Inbound (server-side) timeouts and circuit breakers act in the called service's own
proxy; meshsim applies policies in the caller's proxy, so they are noted, not applied.
Inbound fault injection and rate limits for every caller act on every call into the
service and are applied (the rate limit per caller, noted).
"""

from __future__ import annotations

from typing import ClassVar

from meshsim.meshes._builder import MESH_WIDE
from meshsim.meshes._common import Ident, backend_version, retry_conditions, write_split
from meshsim.meshes._cursor import Cur
from meshsim.meshes._envoy import OFF, envoy_max_ejection
from meshsim.meshes._gatewayapi import catch_all_rule
from meshsim.meshes._kuma._defaults import BLOCKS
from meshsim.meshes._kuma._targets import Entry, KumaTargets
from meshsim.units import format_duration

__all__ = ["KumaImporter"]

#: MeshRetry HTTP retryOn -> scenario names (None: not modelled), keys normalised (lower, no "_") [K3].
_HTTP_ON: dict[str, str | None] = {
    "5xx": "5xx",
    "all5xx": "5xx",
    "gatewayerror": "gateway-error",
    "reset": "reset",
    "retriable4xx": "retriable-4xx",
    "connectfailure": "connect-failure",
    "envoyratelimited": "rate_limited",
    "refusedstream": "refused-stream",
    "http3postconnectfailure": None,
    "resetbeforerequest": None,
}
_GRPC_ON: dict[str, str | None] = {
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "deadlineexceeded": "deadline-exceeded",
    "internal": "internal",
    "resourceexhausted": "resource-exhausted",
    "unavailable": "unavailable",
}
_SERVER_SIDE = (
    "inbound (server-side) {what} acts in the called service's own proxy; meshsim applies policies in "
    "the caller's proxy, so it is not applied"
)


class KumaImporter(KumaTargets):
    """Kuma's targetRef policies."""

    FORMAT = "kuma"
    GROUPS: ClassVar[tuple[str, ...]] = ("kuma.io",)
    HANDLERS: ClassVar[dict[str, str]] = {
        "MeshRetry": "policy",
        "MeshTimeout": "policy",
        "MeshCircuitBreaker": "policy",
        "MeshHTTPRoute": "http_route",
        "MeshLoadBalancingStrategy": "policy",
        "MeshFaultInjection": "policy",
        "MeshRateLimit": "policy",
        "MeshService": "mesh_service",
        "MeshMultiZoneService": "mesh_service",
    }
    UNMODELLED: ClassVar[dict[str, str]] = {
        "MeshTrafficPermission": "authorization (which may deny requests) is not modelled",
        "MeshHealthCheck": "active health checks are not modelled",
        "MeshTCPRoute": "TCP routes are not modelled (meshsim simulates HTTP)",
        "MeshProxyPatch": "raw Envoy patches are not modelled",
        "MeshGateway": "gateway (north-south) traffic is not modelled",
        "MeshGatewayRoute": "gateway (north-south) traffic is not modelled",
        "MeshExternalService": "external services are not simulated",
        "MeshPassthrough": "passthrough to external hosts is not modelled",
        "MeshGatewayInstance": "gateway (north-south) deployments are not modelled",
        "MeshGatewayConfig": "gateway (north-south) deployments are not modelled",
        "MeshOPA": "authorization (which may deny requests) is not modelled",
        "MeshGlobalRateLimit": "global (rate-limit service) limits are not modelled",
        **{
            k: "legacy source/destination policy not modelled; use the targetRef policies"
            for k in (
                "TrafficRoute",
                "TrafficPermission",
                "Retry",
                "Timeout",
                "CircuitBreaker",
                "HealthCheck",
                "FaultInjection",
                "RateLimit",
                "TrafficTrace",
                "TrafficLog",
                "ProxyTemplate",
            )
        },
    }
    IGNORED: ClassVar[frozenset[str]] = frozenset(
        {
            "Mesh",
            "MeshAccessLog",
            "MeshTrace",
            "MeshMetric",
            "MeshTLS",
            "MeshIdentity",
            "MeshTrust",
            "Dataplane",
            "ZoneIngress",
            "ZoneEgress",
            "HostnameGenerator",
            "Zone",
            "MeshInsight",
            "DataplaneInsight",
            "ZoneInsight",
            "ZoneIngressInsight",
            "ZoneEgressInsight",
            "MeshServiceInsight",
        }
    )
    APPLY: ClassVar[dict[str, str]] = {
        "MeshRetry": "_retry",
        "MeshTimeout": "_timeout",
        "MeshCircuitBreaker": "_circuit_breaker",
        "MeshLoadBalancingStrategy": "_load_balancing",
        "MeshFaultInjection": "_fault",
        "MeshRateLimit": "_rate_limit",
    }

    def policy(self, root: Cur, ident: Ident) -> None:
        """Any targetRef policy: each of its ``default`` blocks, applied to the calls it is for."""
        if self.shadow(root):
            return
        apply = getattr(self, self.APPLY[ident.kind])
        for entry in self.entries(root, ident):
            apply(entry)

    # -- MeshRetry ---------------------------------------------------------------------------------
    def _retry(self, e: Entry) -> None:
        d = e.default
        self.b.unmodelled(d, {"http", "grpc", "tcp"})
        if e.inbound:
            self.b.ignore(d, _SERVER_SIDE.format(what="retry policy"))
            return
        http, grpc, tcp = d.get("http"), d.get("grpc"), d.get("tcp")
        if tcp is not None:
            self.b.ignore(tcp, "TCP connect retries not modelled")
        if http is not None and grpc is not None:
            self.b.ignore(grpc, "gRPC retry settings not modelled next to HTTP ones; HTTP used")
        body, proto = (http, "http") if http is not None else (grpc, "grpc")
        if body is None:
            return
        body.map()
        self.b.unmodelled(
            body,
            {"numRetries", "perTryTimeout", "backOff", "retryOn", "hostSelection"},
            {"hostReselectionMaxAttempts"},
        )
        blk = self.b.block(e.tgt, "retries", body, replace=False)
        n = body.get("numRetries")
        if n is not None:
            blk.set("attempts", n.as_int(), n)
        ptt = body.get("perTryTimeout")
        if ptt is not None:
            blk.set("per_try_timeout", ptt.duration(), ptt)
        bo = body.get("backOff")
        if bo is not None:
            base, mx = bo.map().get("baseInterval"), bo.get("maxInterval")
            if base is not None:
                blk.set("backoff.base", base.duration(), base)
                if mx is None:
                    blk.set(
                        "backoff.max",
                        format_duration(10 * base.seconds()),
                        base.noted("Envoy: max back-off = 10 x base, §0 [E1]"),
                    )
            if mx is not None:
                blk.set("backoff.max", mx.duration(), mx)
        on = body.get("retryOn")
        if on is not None:
            table = _HTTP_ON if proto == "http" else _GRPC_ON
            items = []
            for c in on.list():
                key = c.as_str().replace("_", "").lower()
                if key.startswith("httpmethod"):
                    self.b.approx(
                        c, "retry restricted to HTTP methods: meshsim has no methods, so it applies to all requests"
                    )
                    continue
                items.append((key if not key.isdigit() else c.as_str(), c))
            conds, codes = retry_conditions(self.b, items, table)
            blk.set("retry_on", conds, on)
            if codes:
                blk.set("retriable_status_codes", codes, on)
        hs = body.get("hostSelection")
        for h in hs.list() if hs is not None else []:
            pred = h.map().get("predicate")
            if pred is not None and pred.as_str() == "OmitPreviousHosts":
                blk.set("retry_different_host", True, pred)
            elif pred is not None:
                self.b.ignore(pred, f"host selection {pred.as_str()} not modelled")
        blk.fill(BLOCKS[f"retries.{proto}"])

    # -- MeshTimeout -------------------------------------------------------------------------------
    def _timeout(self, e: Entry) -> None:
        d = e.default
        if e.inbound:
            self.b.ignore(d, _SERVER_SIDE.format(what="timeout"))
            return
        self.b.unmodelled(d, {"connectionTimeout", "http"}, {"idleTimeout"})
        ct = d.get("connectionTimeout")
        if ct is not None:
            blk = self.b.block(e.tgt, "connection_pool", ct, replace=False)
            blk.set("connect_timeout", ct.duration(), ct)
            blk.fill(BLOCKS["connection_pool"])
        http = d.get("http")
        if http is None:
            return
        http.map()
        self.b.unmodelled(
            http,
            {"requestTimeout"},
            {"streamIdleTimeout", "maxConnectionDuration", "requestHeadersTimeout"},
        )
        rt = http.get("requestTimeout")
        if rt is not None:
            self.b.block(e.tgt, "timeout", rt).set(None, rt.duration(), rt)

    # -- MeshCircuitBreaker ------------------------------------------------------------------------
    def _circuit_breaker(self, e: Entry) -> None:
        d = e.default
        if e.inbound:
            self.b.ignore(d, _SERVER_SIDE.format(what="circuit breaker"))
            return
        self.b.unmodelled(d, {"connectionLimits", "outlierDetection"})
        cl = d.get("connectionLimits")
        if cl is not None:
            cl.map()
            self.b.unmodelled(
                cl, {"maxConnections", "maxPendingRequests", "maxRequests", "maxRetries"}, {"maxConnectionPools"}
            )
            blk = self.b.block(e.tgt, "connection_pool", cl, replace=False)
            for fld, name in (
                ("maxConnections", "max_connections"),
                ("maxPendingRequests", "max_pending"),
                ("maxRequests", "max_requests"),
                ("maxRetries", "max_retries"),
            ):
                c = cl.get(fld)
                if c is not None:
                    blk.set(name, c.as_int(minimum=0 if fld in ("maxPendingRequests", "maxRetries") else 1), c)
            blk.fill(BLOCKS["connection_pool"])
        od = d.get("outlierDetection")
        if od is not None:
            self._outlier(e.tgt, od)

    def _outlier(self, tgt: tuple[str, str | None], od: Cur) -> None:
        od.map()
        self.b.unmodelled(
            od,
            {
                "disabled",
                "interval",
                "baseEjectionTime",
                "maxEjectionPercent",
                "healthyPanicThreshold",
                "detectors",
                "splitExternalAndLocalErrors",
            },
        )
        blk = self.b.block(tgt, "outlier_detection", od, replace=False)
        disabled = od.get("disabled")
        if disabled is not None and disabled.as_bool():
            blk.set("consecutive_5xx", OFF, disabled.noted("outlier detection disabled"))
            blk.set("enforcing_consecutive_gateway_errors", 0, disabled.noted("outlier detection disabled"))
            return
        split = od.get("splitExternalAndLocalErrors")
        if split is not None and split.as_bool():
            self.b.ignore(split, "separate local-origin error counting not modelled")
        for fld, name in (("interval", "interval"), ("baseEjectionTime", "base_ejection_time")):
            c = od.get(fld)
            if c is not None:
                blk.set(name, c.duration(), c)
        mep = od.get("maxEjectionPercent")
        if mep is not None:
            blk.set("max_ejection_percent", mep.as_num(), mep)
        panic = od.get("healthyPanicThreshold")
        if panic is not None:
            blk.set("min_health_percent", panic.as_num(), panic)
        det = od.get("detectors")
        if det is None:
            self.b.ignore(od, "no detectors: Envoy's success-rate detector stays on (enforcing 100%); not modelled")
        else:
            det.map()
            self.b.unmodelled(det, {"totalFailures", "gatewayFailures"})
            total, gw = det.get("totalFailures"), det.get("gatewayFailures")
            count = total.get("consecutive") if total is not None else None
            if count is not None:
                blk.set("consecutive_5xx", count.as_int(minimum=1), count)
            count = gw.get("consecutive") if gw is not None else None
            if count is not None:
                blk.set("consecutive_gateway_errors", count.as_int(minimum=1), count)
                blk.set("enforcing_consecutive_gateway_errors", 100, count)
        base = od.get("baseEjectionTime")
        blk.default(
            "max_ejection_time",
            format_duration(envoy_max_ejection(base.seconds() if base is not None else 30.0)),
            "Envoy: max_ejection_time = max(300s, base_ejection_time), §0 [E4]",
        )
        blk.fill(BLOCKS["outlier_detection"])

    # -- MeshHTTPRoute -----------------------------------------------------------------------------
    def http_route(self, root: Cur, ident: Ident) -> None:
        if self.shadow(root):
            return
        spec = root.get("spec")
        if spec is None:
            raise root.error("a MeshHTTPRoute needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"targetRef", "to"})
        top = spec.get("targetRef")
        if not self._scope_top(top):
            return
        to = spec.get("to")
        for entry in to.list() if to is not None else []:
            ref = entry.map().get("targetRef")
            if ref is None:
                raise entry.error("a to[] entry needs a targetRef")
            tgt = self._ref_target(ref)
            if tgt is None:
                continue
            if tgt[0] == MESH_WIDE:
                self.b.ignore(ref, "a route for every service not modelled; name a MeshService")
                continue
            rules = entry.get("rules")
            items = [r.map() for r in rules.list()] if rules is not None else []
            self.note_route(ident.name, tgt[0], items)
            self._route_rules(tgt[0], items)

    def _route_rules(self, svc: str, items: list[Cur]) -> None:
        chosen = next((r for r in items if catch_all_rule(r, ("PathPrefix", "Prefix"))), None)
        for r in items:
            if r is not chosen:
                self.b.ignore(
                    r.get("matches") or r,
                    "route match on request attributes not modelled; "
                    + ("the catch-all rule is used" if chosen is not None else "rule ignored"),
                )
        d = chosen.get("default") if chosen is not None else None
        if d is None:
            return
        d.map()
        self.b.unmodelled(d, {"backendRefs", "filters"})
        refs = d.get("backendRefs")
        if refs is not None:
            entries = []
            for ref in refs.list():
                ref.map()
                backend, version = self._backend(ref)
                w = ref.get("weight")
                weight = w.as_num() if w is not None else 1  # Kuma default weight [K6]
                ver = str(version) if version is not None and self.b.same(backend, svc) else self._version(svc, backend)
                entries.append((ver, weight, w or ref))
            if not (len(entries) == 1 and entries[0][0] == self.b.plain(svc)):
                write_split(self.b, (svc, None), entries, refs)
        filters = d.get("filters")
        for f in filters.list() if filters is not None else []:
            t = f.map().get("type")
            kind = t.as_str() if t is not None else ""
            if kind == "RequestMirror":
                rm = f.get("requestMirror")
                mref = rm.get("backendRef") if rm is not None else None
                if mref is None:
                    raise f.error("RequestMirror needs requestMirror.backendRef")
                backend, version = self._backend(mref.map())
                blk = self.b.block((svc, None), "mirror", f)
                blk.set("to", str(version) if version else self._version(svc, backend), mref)
                pct = rm.get("percentage") if rm is not None else None
                if pct is not None:
                    blk.set("percent", pct.as_num(), pct)
                else:
                    blk.default("percent", 100, "Kuma RequestMirror: no percentage => all requests")
            elif kind in ("RequestRedirect", "URLRewrite", "RequestHeaderModifier", "ResponseHeaderModifier"):
                self.b.irrelevant(f, f"filter {kind} has no effect on traffic in meshsim")
            elif kind:
                self.b.ignore(f, f"filter {kind} not modelled")

    def _version(self, svc: str, backend: str) -> str:
        """The version name of a backend service of ``svc``'s split (``backend-v2`` -> ``v2``)."""
        return backend_version(self.b.plain(svc), self.b.plain(backend))

    def _backend(self, ref: Cur) -> tuple[str, str | None]:
        """The service (builder key) and version a backendRef names (by name, or by labels in Kuma 2.10+)."""
        name = ref.get("name")
        tags = ref.get("tags")
        version = tags.value.get("version") if tags is not None and isinstance(tags.value, dict) else None
        if name is not None:
            return self._svc(name.as_str()), version
        labels = ref.get("labels")
        if labels is not None and isinstance(labels.value, dict):
            key = self._by_labels(labels, {str(k): str(v) for k, v in labels.value.items()})
            if key is not None:
                return key, version
        raise ref.error("a backendRef needs a name or labels that name a service")

    # -- MeshLoadBalancingStrategy -----------------------------------------------------------------
    def _load_balancing(self, e: Entry) -> None:
        d = e.default
        if e.inbound:
            self.b.ignore(d, _SERVER_SIDE.format(what="load-balancing strategy"))
            return
        self.b.unmodelled(d, {"loadBalancer", "localityAwareness", "hashPolicies"})
        lb = d.get("loadBalancer")
        if lb is not None:
            self._lb(e.tgt, lb.map(), d.get("hashPolicies"))
        la = d.get("localityAwareness")
        if la is not None:
            self._locality(e.tgt, la.map())

    def _lb(self, tgt: tuple[str, str | None], lb: Cur, top_hash: Cur | None) -> None:
        t = lb.get("type")
        if t is None:
            raise lb.error("loadBalancer needs a type")
        names = {
            "RoundRobin": "round_robin",
            "LeastRequest": "least_request",
            "RingHash": "ring_hash",
            "Random": "random",
            "Maglev": "ring_hash",
        }
        kind = names.get(t.as_str())
        if kind is None:
            raise t.error(f"unknown load balancer type {t.as_str()!r}")
        blk = self.b.block(tgt, "load_balancer", lb)
        if t.as_str() == "Maglev":
            self.b.approx(t, "Maglev is modelled as a ring hash")
        if kind in ("round_robin", "random"):
            blk.set(None, kind, t)
            return
        blk.set("kind", kind, t)
        if kind == "least_request":
            lr = lb.get("leastRequest")
            cc = lr.get("choiceCount") if lr is not None else None
            if cc is not None:
                blk.set("choice_count", cc.as_int(minimum=1), cc)
            else:
                blk.default("choice_count", 2, "Envoy least_request choice_count 2, §5 [K5]")
            bias = lr.get("activeRequestBias") if lr is not None else None
            if bias is not None:
                # Envoy applies the bias only between hosts of different weights; meshsim's
                # replicas of a service all weigh the same, so least request is plain P2C.
                self.b.irrelevant(bias, "activeRequestBias has no effect: replicas have equal weights (P2C)")
            return
        body = lb.get("ringHash") or lb.get("maglev")
        hp = (body.get("hashPolicies") if body is not None else None) or top_hash
        for h in hp.list() if hp is not None else []:
            ht = h.map().get("type")
            htype = ht.as_str() if ht is not None else ""
            for fld, sub, prefix in (
                ("Header", "header", ""),
                ("Cookie", "cookie", "cookie:"),
                ("QueryParameter", "queryParameter", "query:"),
            ):
                if htype == fld:
                    part = h.get(sub)
                    name = part.get("name") if part is not None else None
                    if name is not None:
                        blk.set("key", prefix + name.as_str(), name)
                        return
            if ht is not None and htype in ("Connection", "SourceIP"):
                blk.set("key", "source-ip", ht)
                return

    def _locality(self, tgt: tuple[str, str | None], la: Cur) -> None:
        self.b.unmodelled(la, {"disabled", "crossZone", "localZone"})
        blk = self.b.block(tgt, "locality", la)
        disabled = la.get("disabled")
        if disabled is not None and disabled.as_bool():
            blk.set("prefer", "none", disabled)
            return
        local = la.get("localZone")
        if local is not None:
            self.b.ignore(local, "affinity tags within the local zone not modelled")
        blk.default("prefer", "zone", "Kuma: locality awareness on, local zone first, §5 [K5]")
        cz = la.get("crossZone")
        if cz is None:
            blk.default("cross_zone", False, "Kuma: cross-zone traffic off unless crossZone is set, §5 [K5]")
            return
        cz.map()
        self.b.unmodelled(cz, {"failover"})
        order: list[str] = []
        cross = False
        fo = cz.get("failover")
        for f in fo.list() if fo is not None else []:
            to = f.map().get("to")
            if to is None:
                continue
            ttype = to.get("type")
            kind = ttype.as_str() if ttype is not None else "Any"
            zones = to.get("zones")
            if kind in ("Only", "AnyExcept") and zones is not None:
                if kind == "AnyExcept":
                    assert ttype is not None  # the kind was read from it
                    self.b.approx(ttype, "AnyExcept failover modelled as Any")
                else:
                    order += [z.as_str() for z in zones.list() if z.as_str() not in order]
            cross = cross or kind != "None"
        blk.set("cross_zone", cross, cz)
        if order and fo is not None:  # order is only filled from fo
            blk.set("failover", order, fo)

    # -- MeshFaultInjection ------------------------------------------------------------------------
    def _fault(self, e: Entry) -> None:
        d = e.default
        self.b.unmodelled(d, {"http"})
        http = d.get("http")
        if http is None:
            return
        blk = self.b.block(e.tgt, "fault", http, replace=False)
        seen: set[str] = set()
        for item in http.list():
            item.map()
            self.b.unmodelled(item, {"abort", "delay"})
            for kind in ("abort", "delay"):
                part = item.get(kind)
                if part is None:
                    continue
                if kind in seen:
                    self.b.ignore(part, f"more than one {kind} fault: only the first is modelled")
                    continue
                seen.add(kind)
                part.map()
                pct = part.get("percentage")
                if kind == "abort":
                    status = part.get("httpStatus")
                    if status is None:
                        raise part.error("an abort needs httpStatus")
                    blk.set("abort.status", status.as_int(minimum=100), status)
                else:
                    value = part.get("value")
                    if value is None:
                        raise part.error("a delay needs a value")
                    blk.set("delay.fixed", value.duration(), value)
                if pct is None:
                    raise part.error(f"a {kind} needs a percentage")
                blk.set(f"{kind}.percent", pct.as_num(), pct)

    # -- MeshRateLimit -----------------------------------------------------------------------------
    def _rate_limit(self, e: Entry) -> None:
        d = e.default
        self.b.unmodelled(d, {"local"})
        local = d.get("local")
        if local is None:
            return
        local.map()
        self.b.unmodelled(local, {"http"})
        http = local.get("http")
        if http is None:
            return
        http.map()
        self.b.unmodelled(http, {"requestRate", "onRateLimit", "disabled"})
        dis = http.get("disabled")
        if dis is not None and dis.as_bool():
            return
        rr = http.get("requestRate")
        if rr is None:
            return
        num, interval = rr.map().get("num"), rr.get("interval")
        if num is None or interval is None:
            raise rr.error("requestRate needs num and interval")
        secs = interval.seconds()
        if secs <= 0:
            raise interval.error("interval must be above zero")
        n = num.as_int(minimum=1)
        if e.inbound:
            self.b.approx(
                rr,
                "per-instance (inbound) rate limit: a token bucket at each replica of the service, refilled "
                "continuously as Envoy 1.32+ does (older Envoy refilled num tokens every interval: "
                "rate_limit.fill_interval)",
            )
        blk = self.b.block(e.tgt, "rate_limit", rr)
        blk.set("rate", f"{n / secs:g}/s", rr)
        blk.set("burst", n, num)  # the bucket holds num tokens, refilled every interval [K7]
        on = http.get("onRateLimit")
        status = on.get("status") if on is not None else None
        if status is not None and status.as_int() != 429:
            self.b.approx(status, f"rate-limit status {status.as_int()} modelled as 429 (rate_limited)")
