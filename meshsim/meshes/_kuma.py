"""Kuma / Kong Mesh targetRef policies -> scenario policies.

Accepted forms: Kubernetes (``apiVersion: kuma.io/v1alpha1``, ``kind``,
``metadata``) and Universal (``type``, ``name``, ``mesh``, ``spec``).

Which policy a ``default`` block sets:
- ``to[].targetRef`` names the called service: ``MeshService`` (``backend`` or
  ``backend_kuma-demo_svc_3001``) -> that service, ``MeshServiceSubset`` -> a
  version, ``Mesh`` -> ``"*"`` (every service);
- ``from[]``/``rules[]`` (inbound) set policy for the service in ``spec.targetRef``.
A top-level ``spec.targetRef`` (``to``) or ``from[].targetRef`` that selects only
some callers gives a warning: meshsim applies a policy to every caller.
Policies merge field by field, as Kuma merges them (reference section 5).
"""

from __future__ import annotations

import re
from typing import ClassVar

from meshsim.meshes._base import MESH_WIDE, Cur, service_name
from meshsim.meshes._block_defaults import OFF, envoy_max_ejection, fill
from meshsim.meshes._common import (
    Ident,
    MeshImporter,
    backend_version,
    k8s_ident,
    retry_conditions,
    write_split,
)
from meshsim.meshes._files import Document
from meshsim.meshes._gatewayapi import catch_all_rule
from meshsim.units import format_duration

__all__ = ["KumaImporter", "kuma_service"]

_KUMA_SVC = re.compile(r"^(.+?)_[^_]+_svc(?:_\d+)?$")

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


def kuma_service(name: str) -> str:
    """``backend_kuma-demo_svc_3001`` -> ``backend``; other names as :func:`service_name`."""
    m = _KUMA_SVC.match(name)
    return m.group(1) if m else service_name(name)


class KumaImporter(MeshImporter):
    """Kuma's targetRef policies."""

    FORMAT = "kuma"
    HANDLERS: ClassVar[dict[str, str]] = {
        "MeshRetry": "retry",
        "MeshTimeout": "timeout",
        "MeshCircuitBreaker": "circuit_breaker",
        "MeshHTTPRoute": "http_route",
        "MeshLoadBalancingStrategy": "load_balancing",
        "MeshFaultInjection": "fault_injection",
        "MeshRateLimit": "rate_limit",
        "MeshService": "mesh_service",
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
            "MeshMultiZoneService",
            "HostnameGenerator",
            "Zone",
            "MeshInsight",
        }
    )

    def identify(self, doc: Document) -> Ident | None:
        ident = k8s_ident(doc.data)
        if ident is not None:
            return ident
        data = doc.data
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            return Ident(data["type"], str(data.get("name", "")))
        return None

    # -- targets ---------------------------------------------------------------------------------
    def _ref_target(self, ref: Cur) -> tuple[str, str | None] | None:
        ref.map()
        kind_cur = ref.get("kind")
        if kind_cur is None:
            raise ref.error("a targetRef needs a kind")
        kind = kind_cur.as_str()
        name = ref.get("name")
        tags = ref.get("tags")
        tagmap = (
            {str(k): str(v) for k, v in tags.value.items()} if tags is not None and isinstance(tags.value, dict) else {}
        )
        if kind == "Mesh":
            return (MESH_WIDE, None)
        if kind in ("MeshService", "MeshMultiZoneService"):
            if name is None:
                raise ref.error(f"a {kind} targetRef needs a name")
            return (kuma_service(name.as_str()), None)
        if kind == "MeshServiceSubset":
            if name is None:
                raise ref.error("a MeshServiceSubset targetRef needs a name")
            return (kuma_service(name.as_str()), tagmap.get("version"))
        if kind == "MeshSubset":
            svc = tagmap.get("kuma.io/service") or tagmap.get("app") or tagmap.get("k8s.kuma.io/service-name")
            if svc is None:
                self.b.warn(ref, "MeshSubset without a service tag not modelled")
                return None
            return (kuma_service(svc), tagmap.get("version"))
        self.b.warn(ref, f"targetRef kind {kind} not modelled")
        return None

    def _is_mesh(self, ref: Cur | None) -> bool:
        return ref is None or (isinstance(ref.value, dict) and ref.value.get("kind") == "Mesh")

    def _entries(self, root: Cur, ident: Ident) -> list[tuple[tuple[str, str | None], Cur]]:
        """``(target, default block)`` for every ``to``/``from``/``rules`` entry of a policy."""
        spec = root.get("spec")
        if spec is None:
            raise root.error(f"a {ident.kind} needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"targetRef", "to", "from", "rules"})
        top = spec.get("targetRef")
        out = []
        to = spec.get("to")
        for entry in to.list() if to is not None else []:
            ref, default = entry.map().get("targetRef"), entry.get("default")
            if ref is None:
                raise entry.error("a to[] entry needs a targetRef")
            tgt = self._ref_target(ref)
            if tgt is None or default is None:
                continue
            if top is not None and not self._is_mesh(top):
                self.b.warn(top, "policy for calls from these proxies only; meshsim applies it to every caller")
            out.append((tgt, default.map()))
        inbound = []
        frm = spec.get("from")
        for entry in frm.list() if frm is not None else []:
            ref = entry.map().get("targetRef")
            if ref is not None and not self._is_mesh(ref):
                self.b.warn(ref, "inbound policy for some callers only; meshsim applies it to every caller")
            inbound.append(entry)
        rules = spec.get("rules")
        inbound += rules.list() if rules is not None else []
        if inbound:
            dest = self._ref_target(top) if top is not None else (MESH_WIDE, None)
            for entry in inbound:
                default = entry.map().get("default")
                if dest is not None and default is not None:
                    out.append((dest, default.map()))
        return out

    # -- policies ----------------------------------------------------------------------------------
    def retry(self, root: Cur, ident: Ident) -> None:
        for tgt, d in self._entries(root, ident):
            self.b.unmodelled(d, {"http", "grpc", "tcp"})
            http, grpc, tcp = d.get("http"), d.get("grpc"), d.get("tcp")
            if tcp is not None:
                self.b.warn(tcp, "TCP connect retries not modelled")
            if http is not None and grpc is not None:
                self.b.warn(grpc, "gRPC retry settings not modelled next to HTTP ones; HTTP used")
            body, proto = (http, "http") if http is not None else (grpc, "grpc")
            if body is None:
                continue
            body.map()
            self.b.unmodelled(
                body,
                {"numRetries", "perTryTimeout", "backOff", "retryOn", "hostSelection"},
                {"hostReselectionMaxAttempts"},
            )
            blk = self.b.block(tgt, "retries", body, replace=False)
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
                        self.b.warn(c, "retry restricted to HTTP methods not modelled; applies to all requests")
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
                    self.b.warn(pred, f"host selection {pred.as_str()} not modelled")
            fill(blk, "kuma", f"retries.{proto}")

    def timeout(self, root: Cur, ident: Ident) -> None:
        spec = root.get("spec")
        inbound = spec is not None and isinstance(spec.value, dict) and ("from" in spec.value or "rules" in spec.value)
        for tgt, d in self._entries(root, ident):
            self.b.unmodelled(d, {"connectionTimeout", "http"}, {"idleTimeout"})
            ct = d.get("connectionTimeout")
            if ct is not None:
                blk = self.b.block(tgt, "connection_pool", ct, replace=False)
                blk.set("connect_timeout", ct.duration(), ct)
                fill(blk, "kuma")
            http = d.get("http")
            if http is None:
                continue
            http.map()
            self.b.unmodelled(
                http, {"requestTimeout"}, {"streamIdleTimeout", "maxConnectionDuration", "requestHeadersTimeout"}
            )
            rt = http.get("requestTimeout")
            if rt is not None:
                if inbound:
                    self.b.warn(rt, "inbound request timeout modelled as the callers' timeout")
                self.b.block(tgt, "timeout", rt).set(None, rt.duration(), rt)

    def circuit_breaker(self, root: Cur, ident: Ident) -> None:
        for tgt, d in self._entries(root, ident):
            self.b.unmodelled(d, {"connectionLimits", "outlierDetection"})
            cl = d.get("connectionLimits")
            if cl is not None:
                cl.map()
                self.b.unmodelled(cl, {"maxConnections", "maxPendingRequests", "maxRequests", "maxRetries"})
                blk = self.b.block(tgt, "connection_pool", cl, replace=False)
                for fld, name in (
                    ("maxConnections", "max_connections"),
                    ("maxPendingRequests", "max_pending"),
                    ("maxRequests", "max_requests"),
                    ("maxRetries", "max_retries"),
                ):
                    c = cl.get(fld)
                    if c is not None:
                        blk.set(name, c.as_int(minimum=0 if fld in ("maxPendingRequests", "maxRetries") else 1), c)
                fill(blk, "kuma")
            od = d.get("outlierDetection")
            if od is not None:
                self._outlier(tgt, od)

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
            self.b.warn(split, "separate local-origin error counting not modelled")
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
            self.b.warn(od, "no detectors: Envoy's success-rate detector stays on (enforcing 100%); not modelled")
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
        fill(blk, "kuma")

    def http_route(self, root: Cur, ident: Ident) -> None:
        spec = root.get("spec")
        if spec is None:
            raise root.error("a MeshHTTPRoute needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"targetRef", "to"})
        top = spec.get("targetRef")
        if top is not None and isinstance(top.value, dict) and top.value.get("kind") == "MeshGateway":
            self.b.warn(top, "route on a MeshGateway (north-south traffic) not modelled")
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
                self.b.warn(ref, "a route for every service not modelled; name a MeshService")
                continue
            if top is not None and not self._is_mesh(top):
                self.b.warn(top, "route for calls from these proxies only; meshsim applies it to every caller")
            self._route_rules(tgt[0], entry)

    def _route_rules(self, svc: str, entry: Cur) -> None:
        rules = entry.get("rules")
        items = rules.list() if rules is not None else []
        chosen = None
        for r in items:
            if catch_all_rule(r.map(), ("PathPrefix", "Prefix")):
                chosen = r
                break
        for r in items:
            if r is not chosen:
                self.b.warn(
                    r.get("matches") or r,
                    "route match on request attributes not modelled; "
                    + ("the catch-all rule is used" if chosen is not None else "rule ignored"),
                )
        if chosen is None:
            return
        d = chosen.get("default")
        if d is None:
            return
        d.map()
        self.b.unmodelled(d, {"backendRefs", "filters"})
        refs = d.get("backendRefs")
        if refs is not None:
            entries = []
            for ref in refs.list():
                ref.map()
                name = ref.get("name")
                if name is None:
                    raise ref.error("a backendRef needs a name")
                backend = kuma_service(name.as_str())
                tags = ref.get("tags")
                version = tags.value.get("version") if tags is not None and isinstance(tags.value, dict) else None
                w = ref.get("weight")
                weight = w.as_num() if w is not None else 1  # Kuma default weight [K6]
                ver = str(version) if version is not None and backend == svc else backend_version(svc, backend)
                entries.append((ver, weight, w or name))
            if not (len(entries) == 1 and entries[0][0] == svc):
                write_split(self.b, (svc, None), entries, refs)
        filters = d.get("filters")
        for f in filters.list() if filters is not None else []:
            t = f.map().get("type")
            kind = t.as_str() if t is not None else ""
            if kind == "RequestMirror":
                rm = f.get("requestMirror")
                mref = rm.get("backendRef") if rm is not None else None
                name = mref.get("name") if mref is not None else None
                if mref is None or name is None:
                    raise f.error("RequestMirror needs requestMirror.backendRef.name")
                tags = mref.get("tags")
                version = tags.value.get("version") if tags is not None and isinstance(tags.value, dict) else None
                blk = self.b.block((svc, None), "mirror", f)
                blk.set("to", str(version) if version else backend_version(svc, kuma_service(name.as_str())), name)
                pct = rm.get("percentage") if rm is not None else None
                if pct is not None:
                    blk.set("percent", pct.as_num(), pct)
                else:
                    blk.default("percent", 100, "Kuma RequestMirror: no percentage => all requests")
            elif kind == "RequestRedirect":
                self.b.warn(f, "filter RequestRedirect not modelled")

    def load_balancing(self, root: Cur, ident: Ident) -> None:
        for tgt, d in self._entries(root, ident):
            self.b.unmodelled(d, {"loadBalancer", "localityAwareness", "hashPolicies"})
            lb = d.get("loadBalancer")
            if lb is not None:
                self._lb(tgt, lb.map(), d.get("hashPolicies"))
            la = d.get("localityAwareness")
            if la is not None:
                self._locality(tgt, la.map())

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
            self.b.warn(t, "Maglev is modelled as a ring hash")
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
                self.b.warn(bias, "activeRequestBias has no effect: replicas have equal weights (P2C)")
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
            self.b.warn(local, "affinity tags within the local zone not modelled")
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
                    self.b.warn(ttype, "AnyExcept failover modelled as Any")
                else:
                    order += [z.as_str() for z in zones.list() if z.as_str() not in order]
            cross = cross or kind != "None"
        blk.set("cross_zone", cross, cz)
        if order and fo is not None:  # order is only filled from fo
            blk.set("failover", order, fo)

    def fault_injection(self, root: Cur, ident: Ident) -> None:
        for tgt, d in self._entries(root, ident):
            self.b.unmodelled(d, {"http"})
            http = d.get("http")
            if http is None:
                continue
            blk = self.b.block(tgt, "fault", http, replace=False)
            seen: set[str] = set()
            for item in http.list():
                item.map()
                self.b.unmodelled(item, {"abort", "delay"})
                for kind in ("abort", "delay"):
                    part = item.get(kind)
                    if part is None:
                        continue
                    if kind in seen:
                        self.b.warn(part, f"more than one {kind} fault: only the first is modelled")
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

    def rate_limit(self, root: Cur, ident: Ident) -> None:
        for tgt, d in self._entries(root, ident):
            self.b.unmodelled(d, {"local"})
            local = d.get("local")
            if local is None:
                continue
            local.map()
            self.b.unmodelled(local, {"http"})
            http = local.get("http")
            if http is None:
                continue
            http.map()
            self.b.unmodelled(http, {"requestRate", "onRateLimit", "disabled"})
            dis = http.get("disabled")
            if dis is not None and dis.as_bool():
                continue
            rr = http.get("requestRate")
            if rr is None:
                continue
            num, interval = rr.map().get("num"), rr.get("interval")
            if num is None or interval is None:
                raise rr.error("requestRate needs num and interval")
            secs = interval.seconds()
            if secs <= 0:
                raise interval.error("interval must be above zero")
            n = num.as_int(minimum=1)
            blk = self.b.block(tgt, "rate_limit", rr)
            blk.set("rate", f"{n / secs:g}/s", rr)
            blk.set("burst", n, num)  # the bucket holds num tokens, refilled every interval [K7]
            on = http.get("onRateLimit")
            status = on.get("status") if on is not None else None
            if status is not None and status.as_int() != 429:
                self.b.warn(status, f"rate-limit status {status.as_int()} modelled as 429 (rate_limited)")

    def mesh_service(self, root: Cur, ident: Ident) -> None:
        self.b.service(kuma_service(ident.name), root)
