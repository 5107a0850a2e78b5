"""Istio DestinationRule -> scenario policies (docs/references.md §1).

A DestinationRule's ``trafficPolicy`` sets the service's load balancer, connection pool,
outlier detection, retry budget and locality; a subset's replaces those blocks whole
[S6] and becomes ``versions.<subset>``. Blocks an object writes partly get Istio's
per-field defaults (:data:`BLOCKS`).
"""

from __future__ import annotations

from meshsim.meshes._common import Ident, MeshImporter
from meshsim.meshes._cursor import Cur, split_host
from meshsim.meshes._envoy import OFF, envoy_max_ejection
from meshsim.meshes._istio._defaults import BLOCKS
from meshsim.units import format_duration

__all__ = ["IstioDestinationRules"]


class IstioDestinationRules(MeshImporter):
    """The DestinationRule half of the Istio importer."""

    def _svc(self, host: Cur, namespace: str | None) -> str:
        """The builder key of a host: its service in its namespace (the object's, for a short name)."""
        name, ns = split_host(host.as_str())
        return self.b.qualify(name, ns or namespace)

    # -- DestinationRule -----------------------------------------------------------------
    def destination_rule(self, root: Cur, ident: Ident) -> None:
        spec = root.get("spec")
        if spec is None:
            raise root.error("a DestinationRule needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"host", "trafficPolicy", "subsets", "workloadSelector"}, {"exportTo"})
        host = spec.get("host")
        if host is None:
            raise spec.error("a DestinationRule needs a host")
        if "*" in host.as_str():
            self.b.ignore(host, f"wildcard host {host.as_str()!r} not modelled")
            return
        selector = spec.get("workloadSelector")
        if selector is not None:
            self.b.approx(
                selector,
                "applies to calls from the selected workloads only; meshsim applies it to every caller",
            )
        svc = self._svc(host, ident.namespace)
        self.b.service(svc, host)
        tp = spec.get("trafficPolicy")
        if tp is not None:
            self._traffic_policy((svc, None), tp)
        subsets = spec.get("subsets")
        if subsets is not None:
            for s in subsets.list():
                s.map()
                name = s.get("name")
                if name is None:
                    raise s.error("a subset needs a name")
                self.b.unmodelled(s, {"name", "labels", "trafficPolicy"}, {"annotations"})
                self.b.add_version(svc, name.as_str(), name)
                stp = s.get("trafficPolicy")
                if stp is not None:
                    self._traffic_policy((svc, name.as_str()), stp)

    def _traffic_policy(self, tgt: tuple[str, str | None], tp: Cur) -> None:
        tp.map()
        self.b.unmodelled(
            tp,
            {"loadBalancer", "connectionPool", "outlierDetection", "retryBudget"},
            {"tls", "proxyProtocol", "tunnel"},
        )
        lb = tp.get("loadBalancer")
        if lb is not None:
            self._load_balancer(tgt, lb)
        pool = tp.get("connectionPool")
        if pool is not None:
            self._pool(tgt, pool)
        od = tp.get("outlierDetection")
        if od is not None:
            self._outlier(tgt, od)
        budget = tp.get("retryBudget")
        if budget is not None:
            budget.map()
            self.b.unmodelled(budget, {"percent", "minRetryConcurrency"})
            blk = self.b.block(tgt, "retry_budget", budget)
            pct = budget.get("percent")
            if pct is not None:
                value = pct.get("value") if isinstance(pct.value, dict) else pct
                if value is not None:
                    blk.set("budget_percent", value.as_num(), value)
            mrc = budget.get("minRetryConcurrency")
            if mrc is not None:
                blk.set("min_retry_concurrency", mrc.as_int(), mrc)
            blk.fill(BLOCKS["retry_budget"])

    def _load_balancer(self, tgt: tuple[str, str | None], lb: Cur) -> None:
        lb.map()
        self.b.unmodelled(lb, {"simple", "consistentHash", "localityLbSetting"})
        simple = lb.get("simple")
        if simple is not None:
            names = {
                "ROUND_ROBIN": "round_robin",
                "LEAST_CONN": "least_request",
                "LEAST_REQUEST": "least_request",
                "RANDOM": "random",
                "UNSPECIFIED": "least_request",
            }
            value = simple.as_str().upper()
            if value == "PASSTHROUGH":
                self.b.ignore(simple, "PASSTHROUGH load balancing not modelled")
            elif value not in names:
                raise simple.error(f"unknown load balancer {simple.value!r}")
            else:
                self.b.block(tgt, "load_balancer", simple).set(None, names[value], simple)
        ch = lb.get("consistentHash")
        if ch is not None:
            ch.map()
            self.b.unmodelled(
                ch,
                {
                    "httpHeaderName",
                    "httpCookie",
                    "useSourceIp",
                    "httpQueryParameterName",
                    "ringHash",
                    "minimumRingSize",
                },
                {"maglev"},
            )
            blk = self.b.block(tgt, "load_balancer", ch)
            blk.set("kind", "ring_hash", ch)
            maglev = ch.get("maglev")
            if maglev is not None:
                self.b.approx(maglev, "Maglev is modelled as a ring hash")
            for fld, prefix in (
                ("httpHeaderName", ""),
                ("httpCookie", "cookie:"),
                ("httpQueryParameterName", "query:"),
                ("useSourceIp", ""),
            ):
                part = ch.get(fld)
                if part is None:
                    continue
                if fld == "httpCookie":
                    name = part.map().get("name")
                    key = prefix + (name.as_str() if name is not None else "cookie")
                elif fld == "useSourceIp":
                    key = "source-ip"
                else:
                    key = prefix + part.as_str()
                blk.set("key", key, part)
        loc = lb.get("localityLbSetting")
        if loc is not None:
            self._locality(tgt, loc)

    def _locality(self, tgt: tuple[str, str | None], loc: Cur) -> None:
        loc.map()
        self.b.unmodelled(loc, {"enabled", "failover"}, set())
        blk = self.b.block(tgt, "locality", loc)
        enabled = loc.get("enabled")
        if enabled is not None and not enabled.as_bool():
            blk.set("prefer", "none", enabled)
            return
        failover = loc.get("failover")
        order: list[str] = []
        if failover is not None:
            for f in failover.list():
                f.map()
                self.b.unmodelled(f, {"from", "to"})
                to = f.get("to")
                if to is not None and to.as_str() not in order:
                    order.append(to.as_str())
            if order:
                # The names are Istio regions; the scenario loader matches them to its locations.
                blk.set("failover", order, failover)
                self.b.approx(
                    failover,
                    "each failover rule applies to callers in its 'from' region only [S5]; meshsim tries "
                    f"the 'to' regions {order} in this order for every caller",
                )
        blk.default("prefer", "zone", "Istio locality LB: same zone first, then region, §1 [S5]")

    def _pool(self, tgt: tuple[str, str | None], pool: Cur) -> None:
        pool.map()
        self.b.unmodelled(pool, {"tcp", "http"})
        blk = self.b.block(tgt, "connection_pool", pool)
        tcp, http = pool.get("tcp"), pool.get("http")
        if tcp is not None:
            tcp.map()
            self.b.unmodelled(tcp, {"maxConnections", "connectTimeout"}, {"tcpKeepalive", "idleTimeout"})
            mc = tcp.get("maxConnections")
            if mc is not None and mc.as_int() > 0:  # 0 means "unset" in Istio's API
                blk.set("max_connections", mc.as_int(), mc)
            ct = tcp.get("connectTimeout")
            if ct is not None:
                blk.set("connect_timeout", ct.duration(), ct)
        if http is not None:
            http.map()
            self.b.unmodelled(
                http,
                {"http1MaxPendingRequests", "http2MaxRequests", "maxRetries"},
                {"idleTimeout", "h2UpgradePolicy", "useClientProtocol"},
            )
            for fld, name in (
                ("http1MaxPendingRequests", "max_pending"),
                ("http2MaxRequests", "max_requests"),
                ("maxRetries", "max_retries"),
            ):
                c = http.get(fld)
                if c is not None and c.as_int() > 0:
                    blk.set(name, c.as_int(), c)
        blk.fill(BLOCKS["connection_pool"])

    def _outlier(self, tgt: tuple[str, str | None], od: Cur) -> None:
        od.map()
        self.b.unmodelled(
            od,
            {
                "consecutive5xxErrors",
                "consecutiveGatewayErrors",
                "consecutiveErrors",
                "interval",
                "baseEjectionTime",
                "maxEjectionPercent",
                "minHealthPercent",
            },
        )
        blk = self.b.block(tgt, "outlier_detection", od)
        c5 = od.get("consecutive5xxErrors")
        if c5 is not None:
            value = _wrapped(c5)
            n = value.as_int()
            blk.set("consecutive_5xx", n if n > 0 else OFF, value)  # 0 disables the detector [S2]
        gw = od.get("consecutiveGatewayErrors")
        old = od.get("consecutiveErrors")
        if gw is None and old is not None:
            self.b.approx(old, "deprecated consecutiveErrors read as consecutiveGatewayErrors (502/503/504)")
            gw = old
        if gw is not None:
            value = _wrapped(gw)
            n = value.as_int()
            if n > 0:
                blk.set("consecutive_gateway_errors", n, value)
                blk.set("enforcing_consecutive_gateway_errors", 100, value)
            else:
                blk.set("enforcing_consecutive_gateway_errors", 0, value)
        for fld, name in (("interval", "interval"), ("baseEjectionTime", "base_ejection_time")):
            c = od.get(fld)
            if c is not None:
                blk.set(name, c.duration(), c)
        mep = od.get("maxEjectionPercent")
        if mep is not None and mep.as_num() > 0:  # used only if > 0 [S4]
            blk.set("max_ejection_percent", mep.as_num(), mep)
        mhp = od.get("minHealthPercent")
        if mhp is not None:
            blk.set("min_health_percent", mhp.as_num(), mhp)
        base = od.get("baseEjectionTime")
        base_s = base.seconds() if base is not None else 30.0
        blk.default(
            "max_ejection_time",
            format_duration(envoy_max_ejection(base_s)),
            "Envoy: max_ejection_time = max(300s, base_ejection_time), §0 [E4]",
        )
        blk.fill(BLOCKS["outlier_detection"])


def _wrapped(cur: Cur) -> Cur:
    """Istio UInt32Value fields may be written ``{value: n}``."""
    if isinstance(cur.value, dict):
        inner = cur.get("value")
        if inner is None:
            raise cur.error("expected a number")
        return inner
    return cur
