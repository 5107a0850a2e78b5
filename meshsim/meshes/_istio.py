"""Istio: VirtualService and DestinationRule (and Gateway API routes) -> scenario policies.

Semantics follow docs/references.md section 1:
- the route a request takes is the first ``http[]`` entry without a match (or
  matching everything); header/uri matches are not modelled and give a warning;
- a route with ``fault`` gets no timeout and no retries from Istio [S1];
- ``retries`` without ``attempts`` (or 0) disables retries; without ``retryOn``
  the default conditions stay [S3];
- DestinationRule subset policies replace the parent's blocks whole [S6]; the
  importer writes them as ``versions.<subset>`` blocks, which the scenario
  format gives the same meaning.
"""

from __future__ import annotations

from typing import ClassVar

from meshsim.meshes._base import Cur, service_name
from meshsim.meshes._block_defaults import BLOCK_DEFAULTS, OFF, envoy_max_ejection, fill
from meshsim.meshes._common import Ident, MeshImporter, not_applied, retry_conditions, write_split
from meshsim.meshes._gatewayapi import import_gateway_route
from meshsim.units import format_duration

__all__ = ["IstioImporter"]


_ROUTE_BLOCKS = ("split", "timeout", "retries", "fault", "mirror")
_ROUTE_FIELDS = ("route", "timeout", "retries", "fault", "mirror")


def is_catch_all(match: Cur | None) -> bool:
    """True if an Istio ``match`` list lets every request through."""
    if match is None or not match.value:
        return True
    for entry in match.list():
        if not isinstance(entry.value, dict):
            continue
        keys = set(entry.value) - {"name"}
        if not keys:
            return True
        if keys == {"uri"}:
            uri = entry.value["uri"]
            if isinstance(uri, dict) and (uri.get("prefix") == "/" or uri.get("regex") in (".*", "/.*")):
                return True
    return False


class IstioImporter(MeshImporter):
    """Istio networking objects."""

    FORMAT = "istio"
    HANDLERS: ClassVar[dict[str, str]] = {
        "VirtualService": "virtual_service",
        "DestinationRule": "destination_rule",
        "HTTPRoute": "gateway_route",
        "GRPCRoute": "gateway_route",
    }
    UNMODELLED: ClassVar[dict[str, str]] = {
        "ServiceEntry": "external services are not simulated",
        "Gateway": "gateway (north-south) listeners are not modelled",
        "Sidecar": "sidecar egress scoping is not modelled",
        "EnvoyFilter": "raw Envoy patches are not modelled",
        "AuthorizationPolicy": "authorization (which may deny requests) is not modelled",
        "WorkloadEntry": "VM workloads are not imported",
        "WorkloadGroup": "VM workloads are not imported",
        "WasmPlugin": "proxy plugins are not modelled",
    }
    IGNORED: ClassVar[frozenset[str]] = frozenset(
        {"PeerAuthentication", "RequestAuthentication", "Telemetry", "ProxyConfig"}
    )

    # -- VirtualService ------------------------------------------------------------------
    def virtual_service(self, root: Cur, ident: Ident) -> None:
        spec = root.get("spec")
        if spec is None:
            raise root.error("a VirtualService needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"hosts", "gateways", "http"}, {"exportTo"})
        hosts = spec.get("hosts")
        if hosts is None:
            self.b.warn(spec, "VirtualService without hosts (a delegate) is not modelled")
            return
        gateways = spec.get("gateways")
        if gateways is not None and "mesh" not in [g.as_str() for g in gateways.list()]:
            self.b.warn(gateways, "bound to gateways only; imported as if it applied to mesh traffic")
        http = spec.get("http")
        if http is None:
            return
        routes = http.list()
        if not routes:
            return
        chosen = next((r for r in routes if is_catch_all(r.map().get("match"))), None)
        for r in routes:
            if r is chosen:
                break
            if chosen is not None:
                self.b.warn(
                    r.get("match") or r,
                    f"route match on {_match_kinds(r)} not modelled; "
                    f"default route {chosen.path} used" + not_applied(r, _ROUTE_FIELDS),
                )
        if chosen is None:
            chosen = routes[-1]
            for r in routes[:-1]:
                self.b.warn(
                    r.get("match") or r,
                    f"route match on {_match_kinds(r)} not modelled; "
                    f"no catch-all route, so {chosen.path} is used for all traffic" + not_applied(r, _ROUTE_FIELDS),
                )
            self.b.warn(
                chosen.get("match") or chosen,
                f"route match on {_match_kinds(chosen)} not modelled; "
                "this last route is used for all traffic (Istio answers 404 when nothing matches)",
            )
        dest_hosts = set()
        route = chosen.get("route")
        for d in route.list() if route is not None else []:
            dest = d.get("destination")
            host = dest.get("host") if dest is not None else None
            if host is not None:
                dest_hosts.add(service_name(host.as_str()))
        names = []
        for h in hosts.list():
            if "*" in h.as_str():
                self.b.warn(h, f"wildcard host {h.as_str()!r} not modelled")
            else:
                names.append((service_name(h.as_str()), h))
        # A host that is also a destination is the service this policy is for; the
        # other hosts are aliases that route to it, which meshsim does not model.
        own = [(n, h) for n, h in names if n in dest_hosts]
        if own:
            for n, h in names:
                if n not in dest_hosts:
                    self.b.warn(h, f"calls addressed to {h.as_str()!r} route to other services; not modelled")
            names = own
        for name, _ in names:
            self._route(name, chosen)

    def _route(self, svc: str, r: Cur) -> None:
        tgt = (svc, None)
        # One VirtualService per host: a later one replaces every route block of an earlier one.
        for block in _ROUTE_BLOCKS:
            self.b.clear(tgt, block, r.origin())
        self.b.unmodelled(
            r,
            {
                "route",
                "timeout",
                "retries",
                "fault",
                "mirror",
                "mirrors",
                "mirrorPercentage",
                "mirrorPercent",
                "mirror_percent",
                "match",
            },
            {"name", "headers", "rewrite", "corsPolicy"},
        )
        dests = r.get("route")
        if dests is not None:
            self._split(svc, dests)
        fault = r.get("fault")
        if fault is not None:
            self._fault(tgt, fault)
            # "timeouts or retries will not be enabled when faults are enabled" [S1]
            for key in ("timeout", "retries"):
                part = r.get(key)
                if part is not None:
                    self.b.warn(part, "ignored: Istio applies no timeout or retries on a route with a fault")
            note = "Istio: a route with fault injection has no timeout and no retries, §1 [S1]"
            self.b.block(tgt, "timeout", fault).set(None, "0s", fault.noted(note))
            self.b.block(tgt, "retries", fault).set("attempts", 0, fault.noted(note))
        else:
            t = r.get("timeout")
            if t is not None:
                self.b.block(tgt, "timeout", t).set(None, t.duration(), t)
            retries = r.get("retries")
            if retries is not None:
                self._retries(tgt, retries)
        self._mirror(svc, r)

    def _split(self, svc: str, dests: Cur) -> None:
        entries: list[tuple[str, float, Cur]] = []
        items = dests.list()
        for d in items:
            dest = d.map().get("destination")
            if dest is None:
                raise d.error("a route needs a destination")
            host = dest.get("host")
            if host is None:
                raise dest.error("a destination needs a host")
            target = service_name(host.as_str())
            w = d.get("weight")
            weight = w.as_num() if w is not None else (100 if len(items) == 1 else 0)
            if target != svc:
                if weight:
                    self.b.warn(
                        host,
                        f"route to another service {target!r} not modelled "
                        f"(meshsim routes calls to {svc!r} to {svc!r})",
                    )
                continue
            subset = dest.get("subset")
            if subset is None:
                if len(items) > 1:
                    self.b.warn(dest, "destination without subset in a weighted route; counted as version 'default'")
                    entries.append(("default", weight, w or d))
                continue
            entries.append((subset.as_str(), weight, w or subset))
        write_split(self.b, (svc, None), entries, dests)

    def _retries(self, tgt: tuple[str, str | None], rc: Cur) -> None:
        rc.map()
        self.b.unmodelled(
            rc, {"attempts", "perTryTimeout", "retryOn", "retryIgnorePreviousHosts", "retryRemoteLocalities", "backoff"}
        )
        blk = self.b.block(tgt, "retries", rc)
        att = rc.get("attempts")
        n = att.as_int() if att is not None else 0
        if n == 0:
            if att is not None:
                blk.set("attempts", 0, att)
            else:
                blk.set("attempts", 0, rc.noted("Istio: a retries block without attempts disables retries, §1 [S3]"))
            return
        assert att is not None  # n > 0 came from it
        blk.set("attempts", n, att)
        on = rc.get("retryOn")
        if on is not None:
            conds, codes = retry_conditions(self.b, [(p, on) for p in on.as_str().split(",")])
            blk.set("retry_on", conds, on)
            if codes:
                blk.set("retriable_status_codes", codes, on)
        ptt = rc.get("perTryTimeout")
        if ptt is not None:
            blk.set("per_try_timeout", ptt.duration(), ptt)
        prev = rc.get("retryIgnorePreviousHosts")
        if prev is not None:
            blk.set("retry_different_host", prev.as_bool(), prev)
        remote = rc.get("retryRemoteLocalities")
        if remote is not None and remote.as_bool():
            self.b.warn(remote, "retrying in other localities not modelled")
        bo = rc.get("backoff")
        if bo is not None:
            base = bo.seconds()
            blk.set("backoff.base", format_duration(base), bo)
            blk.set("backoff.max", format_duration(10 * base), bo.noted("Envoy: max back-off = 10 x base, §0 [E1]"))
        fill(blk, "istio")

    def _fault(self, tgt: tuple[str, str | None], fc: Cur) -> None:
        fc.map()
        self.b.unmodelled(fc, {"delay", "abort"})
        blk = self.b.block(tgt, "fault", fc)
        for kind in ("delay", "abort"):
            part = fc.get(kind)
            if part is None:
                continue
            part.map()
            if kind == "delay":
                self.b.unmodelled(part, {"fixedDelay", "percentage", "percent"})
                fixed = part.get("fixedDelay")
                if fixed is None:
                    continue  # exponentialDelay only: warned above
                blk.set("delay.fixed", fixed.duration(), fixed)
            else:
                self.b.unmodelled(part, {"httpStatus", "percentage", "percent"})
                status = part.get("httpStatus")
                if status is None:
                    continue  # grpcStatus / http2Error only: warned above
                code = status.as_int()
                if not 200 <= code <= 599:
                    raise status.error(f"{code} is not an HTTP status Istio can inject")
                blk.set("abort.status", code, status)
            pct = part.get("percentage")
            old = part.get("percent")
            if pct is not None:
                value = pct.get("value") if isinstance(pct.value, dict) else pct
                if value is not None:
                    blk.set(f"{kind}.percent", value.as_num(), value)
            elif old is not None:
                blk.set(f"{kind}.percent", old.as_num(), old)
            if not blk.has(f"{kind}.percent"):
                values, note = BLOCK_DEFAULTS["istio"][f"fault.{kind}"]
                blk.default(f"{kind}.percent", values["percent"], note)

    def _mirror(self, svc: str, r: Cur) -> None:
        mirrors = r.get("mirrors")
        if mirrors is not None:
            items = mirrors.list()
            if len(items) > 1:
                self.b.warn(mirrors, "only the first of several mirrors is modelled")
            if not items:
                return
            dest, pct = items[0].get("destination"), items[0].get("percentage")
        else:
            dest = r.get("mirror")
            pct = r.get("mirrorPercentage") or r.get("mirrorPercent") or r.get("mirror_percent")
        if dest is None:
            return
        host = dest.get("host")
        if host is None:
            raise dest.error("a mirror needs a host")
        target = service_name(host.as_str())
        subset = dest.get("subset")
        if target != svc or subset is None:
            self.b.warn(
                dest,
                f"mirroring to {'service ' + repr(target) if target != svc else 'the whole service'} "
                "not modelled (meshsim mirrors to a version of the same service)",
            )
            return
        blk = self.b.block((svc, None), "mirror", dest)
        blk.set("to", subset.as_str(), subset)
        if pct is not None:
            value = pct.get("value") if isinstance(pct.value, dict) else pct
            if value is not None:
                blk.set("percent", value.as_num(), value)
        fill(blk, "istio")

    # -- DestinationRule -----------------------------------------------------------------
    def destination_rule(self, root: Cur, ident: Ident) -> None:
        spec = root.get("spec")
        if spec is None:
            raise root.error("a DestinationRule needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"host", "trafficPolicy", "subsets"}, {"exportTo"})
        host = spec.get("host")
        if host is None:
            raise spec.error("a DestinationRule needs a host")
        if "*" in host.as_str():
            self.b.warn(host, f"wildcard host {host.as_str()!r} not modelled")
            return
        svc = service_name(host.as_str())
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
                self.b.unmodelled(s, {"name", "labels", "trafficPolicy"})
                self.b.add_version(svc, name.as_str(), name)
                stp = s.get("trafficPolicy")
                if stp is not None:
                    self._traffic_policy((svc, name.as_str()), stp)

    def _traffic_policy(self, tgt: tuple[str, str | None], tp: Cur) -> None:
        tp.map()
        self.b.unmodelled(
            tp, {"loadBalancer", "connectionPool", "outlierDetection", "retryBudget"}, {"tls", "proxyProtocol"}
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
            fill(blk, "istio")

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
                self.b.warn(simple, "PASSTHROUGH load balancing not modelled")
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
                self.b.warn(maglev, "Maglev is modelled as a ring hash")
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
                for key in ("from", "to"):
                    part = f.get(key)
                    if part is not None and part.as_str() not in order:
                        order.append(part.as_str())
            blk.set("failover", order, failover)
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
        fill(blk, "istio")

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
            self.b.warn(old, "deprecated consecutiveErrors read as consecutiveGatewayErrors (502/503/504)")
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
        fill(blk, "istio")

    # -- Gateway API routes (Istio's GAMMA support) ------------------------------------------
    def gateway_route(self, root: Cur, ident: Ident) -> None:
        import_gateway_route(self.b, root, ident)

    def finish(self) -> None:
        # Under consistent hashing Istio drops the previous-hosts retry predicate [S3].
        leaves = self.b.leaves
        for (svc, ver, key), leaf in list(leaves.items()):
            if key == ("load_balancer", "kind") and leaf.value == "ring_hash":
                rk = (svc, ver, ("retries", "retry_different_host"))
                if rk in leaves and leaves[rk].weak:
                    self.b.put(
                        (svc, ver),
                        rk[2],
                        False,
                        leaf.origin.__class__(
                            leaf.origin.file,
                            leaf.origin.line,
                            leaf.origin.object,
                            leaf.origin.source_field,
                            "Istio: no previous-hosts predicate under consistent hashing, §1 [S3]",
                        ),
                        weak=True,
                    )
        super().finish()


def _wrapped(cur: Cur) -> Cur:
    """Istio UInt32Value fields may be written ``{value: n}``."""
    if isinstance(cur.value, dict):
        inner = cur.get("value")
        if inner is None:
            raise cur.error("expected a number")
        return inner
    return cur


def _match_kinds(r: Cur) -> str:
    m = r.get("match")
    kinds: list[str] = []
    if m is not None:
        for entry in m.list():
            if isinstance(entry.value, dict):
                for k in entry.value:
                    if k != "name" and k not in kinds:
                        kinds.append(str(k))
    return "/".join(kinds) or "request attributes"
