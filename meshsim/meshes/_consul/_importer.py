"""Consul's importer: service-router, -splitter, -resolver and -defaults config entries.

Accepted forms: HCL and JSON config entries (``Kind = "service-router"``), agent
configuration wrappers (``config_entries { bootstrap { ... } }``) and the
``consul.hashicorp.com/v1alpha1`` Kubernetes CRDs (``kind: ServiceRouter``).
Field names are matched whatever their case or underscores (``RequestTimeout``,
``requestTimeout``, ``request_timeout``), as Consul itself does.

Semantics follow docs/references.md section 3:
- the discovery chain is router -> splitter -> resolver; the first matching
  router route wins and a catch-all to the service itself is implied [C4][C7];
- a retry policy exists only if a retry field is set; ``NumRetries`` 0 leaves
  Envoy's 1 retry [C1];
- the resolver's ``RequestTimeout`` applies only with no router or splitter [C1];
- ``UpstreamConfig`` belongs to the *calling* service; meshsim keys policies by
  the called service, so ``Overrides[].Name`` sets that service's policy and
  ``Defaults`` sets the mesh-wide ``"*"`` policy (each noted as approximated scope).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from meshsim.meshes._builder import Builder
from meshsim.meshes._common import (
    Ident,
    backend_version,
    not_applied,
    retry_conditions,
    write_split,
)
from meshsim.meshes._consul._defaults import BLOCKS
from meshsim.meshes._consul._entries import META as _META
from meshsim.meshes._consul._entries import ConsulDefaultsEntries
from meshsim.meshes._consul._entries import consul_seconds as _consul_seconds
from meshsim.meshes._cursor import Cur, service_name
from meshsim.meshes._files import Document
from meshsim.meshes._preset import MeshUnit
from meshsim.units import format_duration

__all__ = ["ConsulImporter"]

_KINDS = {
    "servicerouter": "ServiceRouter",
    "servicesplitter": "ServiceSplitter",
    "serviceresolver": "ServiceResolver",
    "servicedefaults": "ServiceDefaults",
    "proxydefaults": "ProxyDefaults",
    "serviceintentions": "ServiceIntentions",
    "ingressgateway": "IngressGateway",
    "terminatinggateway": "TerminatingGateway",
    "apigateway": "APIGateway",
    "httproute": "HTTPRoute",
    "tcproute": "TCPRoute",
    "mesh": "Mesh",
    "exportedservices": "ExportedServices",
    "samenessgroup": "SamenessGroup",
    "jwtprovider": "JWTProvider",
    "inlinecertificate": "InlineCertificate",
    "filecertificate": "FileCertificate",
    "controlplanerequestlimit": "ControlPlaneRequestLimit",
    "ratelimit": "RateLimit",
    "registration": "Registration",
    "peeringacceptor": "PeeringAcceptor",
    "peeringdialer": "PeeringDialer",
    "gatewaypolicy": "GatewayPolicy",
    "gatewayclassconfig": "GatewayClassConfig",
    "meshservice": "MeshService",
    "routeauthfilter": "RouteAuthFilter",
    "routeretryfilter": "RouteRetryFilter",
    "routetimeoutfilter": "RouteTimeoutFilter",
    "routeextproc": "RouteExtProc",
    "trafficpermissions": "TrafficPermissions",
}
#: Kinds a bare config entry (HCL/JSON ``Kind = "..."``) may have: the keys above.
ENTRY_KINDS = frozenset(_KINDS)
_NS = 1e-9  # Consul decodes a bare number as a Go time.Duration: nanoseconds


def _norm(key: str) -> str:
    return key.replace("-", "").replace("_", "").lower()


class ConsulImporter(ConsulDefaultsEntries):
    """Consul config entries."""

    FORMAT = "consul"
    GROUPS: ClassVar[tuple[str, ...]] = (
        "consul.hashicorp.com",
        "auth.consul.hashicorp.com",
        "mesh.consul.hashicorp.com",
    )
    HANDLERS: ClassVar[dict[str, str]] = {
        "ServiceRouter": "router",
        "ServiceSplitter": "splitter",
        "ServiceResolver": "resolver",
        "ServiceDefaults": "service_defaults",
        "ProxyDefaults": "proxy_defaults",
    }
    UNMODELLED: ClassVar[dict[str, str]] = {
        "ServiceIntentions": "intentions (which may deny requests) are not modelled",
        "IngressGateway": "gateway (north-south) traffic is not modelled",
        "TerminatingGateway": "gateway traffic is not modelled",
        "APIGateway": "gateway traffic is not modelled",
        "HTTPRoute": "API-gateway routes are not modelled",
        "TCPRoute": "API-gateway routes are not modelled",
        "SamenessGroup": "cross-partition failover groups are not modelled",
        "RouteRetryFilter": "API-gateway route filters are not modelled",
        "RouteTimeoutFilter": "API-gateway route filters are not modelled",
        "RouteAuthFilter": "API-gateway route filters are not modelled",
        "RouteExtProc": "API-gateway route filters are not modelled",
        "GatewayPolicy": "API-gateway listener policies are not modelled",
        "TrafficPermissions": "authorization (which may deny requests) is not modelled",
        "PeeringAcceptor": "cluster peering (cross-cluster failover) is not modelled",
        "PeeringDialer": "cluster peering (cross-cluster failover) is not modelled",
    }
    IGNORED: ClassVar[frozenset[str]] = frozenset(
        {
            "Mesh",
            "ExportedServices",
            "JWTProvider",
            "InlineCertificate",
            "FileCertificate",
            "ControlPlaneRequestLimit",
            "RateLimit",
            "Registration",
            "GatewayClassConfig",
            "MeshService",
        }
    )

    def __init__(self, builder: Builder, units: Mapping[str, MeshUnit] | None = None) -> None:
        super().__init__(builder, units)
        self.chain: dict[str, set[str]] = {}  # service -> kinds of chain entries seen
        self.resolver_timeouts: dict[str, Cur] = {}

    # -- identity ---------------------------------------------------------------------------
    def identify(self, doc: Document) -> Ident | None:
        data = doc.data
        if not isinstance(data, dict):
            return None
        if isinstance(data.get("apiVersion"), str) and isinstance(data.get("kind"), str):
            raw = data.get("metadata")
            meta: dict[Any, Any] = raw if isinstance(raw, dict) else {}
            kind = str(data["kind"])
            ns = meta.get("namespace")
            return Ident(
                _KINDS.get(_norm(kind), kind),
                str(meta.get("name", "")),
                str(data["apiVersion"]),
                str(ns) if ns is not None else None,
                ci=True,
            )
        keys = {_norm(str(k)): k for k in data}
        if "kind" in keys and isinstance(data[keys["kind"]], str):
            kind = str(data[keys["kind"]])
            name = data.get(keys["name"], "") if "name" in keys else ""
            return Ident(_KINDS.get(_norm(kind), kind), str(name), "", None, ci=True)
        return None

    @classmethod
    def owns(cls, data: object) -> bool:
        """A bare config entry: ``Kind = "service-router"`` (HCL or JSON), or an agent config wrapper."""
        if not isinstance(data, dict):
            return False
        keys = {_norm(str(k)): k for k in data}
        if "configentries" in keys:
            return True
        kind = data.get(keys["kind"]) if "kind" in keys else None
        return isinstance(kind, str) and "apiversion" not in keys and _norm(kind) in ENTRY_KINDS

    def root(self, doc: Document, ident: Ident) -> Cur:
        cur = Cur(doc, doc.data, doc.extra.get("path", ""), doc.line, ident.label, ci=True)
        if ident.api_version and self.owns_group(ident.group):  # a Consul CRD: the entry's fields sit under spec
            spec = cur.get("spec")
            return spec.map() if spec is not None else Cur(doc, {}, "spec", doc.line, ident.label, ci=True)
        return cur

    def handle(self, doc: Document) -> None:
        data = doc.data
        if isinstance(data, dict):
            keys = {_norm(str(k)): k for k in data}
            top = Cur(doc, data, "", doc.line, "config", ci=True)
            agent = "configentries" in keys or (("service" in keys or "services" in keys) and "kind" not in keys)
            if agent:
                self.own += 1
                self.b.unmodelled(
                    top,
                    {"config_entries", "service", "services"},
                    {k for k in data if _norm(str(k)) not in ("configentries", "service", "services")},
                )
            if "configentries" in keys:  # agent configuration: config_entries { bootstrap { ... } }
                wrapper = top.get("config_entries")
                boot = wrapper.get("bootstrap") if wrapper is not None else None
                for entry in boot.list() if boot is not None else []:
                    self.handle(Document(doc.file, entry.line, entry.value, doc.explicit, extra={"path": entry.path}))
            if agent:
                # An agent service definition: a service, and the upstream settings of its sidecar.
                svc = top.get("service", "services")
                for item in svc.list() if svc is not None else []:
                    self._agent_service(item.map())
                return
        super().handle(doc)

    def _agent_service(self, item: Cur) -> None:
        """``services { name, connect { sidecar_service { proxy { upstreams = [{destination_name, config}] } } } }``."""
        name = item.get("name")
        if name is None:
            raise item.error("a service definition needs a name")
        svc = service_name(name.as_str())
        self.b.service(svc, name)
        self.b.unmodelled(
            item, {"name", "connect"}, {str(k) for k in item.value if _norm(str(k)) not in ("name", "connect")}
        )
        connect = item.get("connect")
        sidecar = connect.get("sidecar_service") if connect is not None else None
        proxy = sidecar.get("proxy") if sidecar is not None else None
        upstreams = proxy.get("upstreams") if proxy is not None else None
        for up in upstreams.list() if upstreams is not None else []:
            up.map()
            dest = up.get("destination_name")
            config = up.get("config")
            if dest is None or config is None:
                continue
            target = service_name(dest.as_str())
            self.b.approx(
                dest,
                f"upstream settings of {svc!r} apply to its calls to {target!r} only; "
                f"meshsim applies them to every caller of {target!r}",
            )
            self._upstream((target, None), config.map())

    # -- service-router ---------------------------------------------------------------------
    def router(self, root: Cur, ident: Ident) -> None:
        svc = service_name(ident.name)
        self.chain.setdefault(svc, set()).add("router")
        self.b.unmodelled(root, {"Routes"}, _META)
        routes = root.get("Routes")
        if routes is None:
            return
        chosen = None
        for r in routes.list():
            r.map()
            self.b.unmodelled(r, {"Match", "Destination"})
            if _catch_all(r):
                chosen = r
                break
            self.b.ignore(
                r.get("Match") or r,
                "route match on request attributes not modelled; "
                "the catch-all route (or Consul's implied default route) is used" + not_applied(r, ("Destination",)),
            )
        if chosen is None:
            return
        dest = chosen.get("Destination")
        if dest is None:
            return
        dest.map()
        self.b.unmodelled(
            dest,
            {
                "Service",
                "ServiceSubset",
                "RequestTimeout",
                "NumRetries",
                "RetryOnConnectFailure",
                "RetryOn",
                "RetryOnStatusCodes",
            },
            {"Namespace", "Partition", "PrefixRewrite", "IdleTimeout", "RequestHeaders", "ResponseHeaders"},
        )
        tgt = (svc, None)
        target = dest.get("Service")
        if target is not None and service_name(target.as_str()) != svc:
            self.b.ignore(target, f"route to another service {target.as_str()!r} not modelled")
            return
        subset = dest.get("ServiceSubset")
        if subset is not None and subset.as_str():
            write_split(self.b, tgt, [(subset.as_str(), 100, subset)], subset)
        rt = dest.get("RequestTimeout")
        if rt is not None:
            secs = _consul_seconds(rt)
            self.b.block(tgt, "timeout", rt).set(None, format_duration(max(secs, 0.0)), rt)  # < 0: off [C1]
        retry_fields = [dest.get(k) for k in ("NumRetries", "RetryOnConnectFailure", "RetryOn", "RetryOnStatusCodes")]
        if not any(f is not None for f in retry_fields):
            return
        num, on_connect, on, codes_cur = retry_fields
        blk = self.b.block(tgt, "retries", next(f for f in retry_fields if f is not None))
        if num is not None and num.as_int() > 0:
            blk.set("attempts", num.as_int(), num)
        conds: list[str] = []
        codes: list[int] = []
        if on is not None:
            conds, codes = retry_conditions(self.b, [(c.as_str(), c) for c in on.list()])
        if on_connect is not None and on_connect.as_bool() and "connect-failure" not in conds:
            conds.append("connect-failure")
        if codes_cur is not None:
            codes += [c.as_int() for c in codes_cur.list()]
            if codes and "retriable-status-codes" not in conds:
                conds.append("retriable-status-codes")
        src = on or on_connect or codes_cur or num
        assert src is not None  # at least one retry field is set (checked above)
        blk.set("retry_on", conds, src)
        if codes:
            codes_src = codes_cur or on
            assert codes_src is not None  # codes come from one of the two
            blk.set("retriable_status_codes", codes, codes_src)
        blk.fill(BLOCKS["retries"])

    # -- service-splitter -------------------------------------------------------------------
    def splitter(self, root: Cur, ident: Ident) -> None:
        svc = service_name(ident.name)
        self.chain.setdefault(svc, set()).add("splitter")
        self.b.unmodelled(root, {"Splits"}, _META)
        splits = root.get("Splits")
        if splits is None:
            return
        entries = []
        for s in splits.list():
            s.map()
            self.b.unmodelled(
                s,
                {"Weight", "Service", "ServiceSubset"},
                {"Namespace", "Partition", "RequestHeaders", "ResponseHeaders"},
            )
            weight = s.get("Weight")
            if weight is None:
                self.b.irrelevant(s, "a split without a Weight takes no traffic (weight 0)")
                continue
            target = s.get("Service")
            subset = s.get("ServiceSubset")
            name = service_name(target.as_str()) if target is not None and target.as_str() else svc
            if subset is not None and subset.as_str():
                version = subset.as_str() if name == svc else f"{backend_version(svc, name)}/{subset.as_str()}"
            else:
                version = backend_version(svc, name)
            entries.append((version, weight.as_num(), weight))
        if not (len(entries) == 1 and entries[0][0] == svc):
            write_split(self.b, (svc, None), entries, splits)

    # -- service-resolver -------------------------------------------------------------------
    def resolver(self, root: Cur, ident: Ident) -> None:
        svc = service_name(ident.name)
        tgt = (svc, None)
        self.b.service(svc, root)
        self.b.unmodelled(
            root, {"DefaultSubset", "Subsets", "Failover", "ConnectTimeout", "RequestTimeout", "LoadBalancer"}, _META
        )
        subsets = root.get("Subsets")
        if subsets is not None:
            for name, sub in subsets.items():
                self.b.add_version(svc, str(name), sub)
        default = root.get("DefaultSubset")
        if default is not None and default.as_str():
            # Weak: a router or splitter for the same service decides instead.
            self.b.put(tgt, ("split", default.as_str()), 100, default.origin("resolver DefaultSubset"), weak=True)
            self.b.add_version(svc, default.as_str(), default)
        failover = root.get("Failover")
        if failover is not None:
            self._failover(tgt, failover)
        ct = root.get("ConnectTimeout")
        if ct is not None:
            blk = self.b.block(tgt, "connection_pool", ct, replace=False)
            blk.set("connect_timeout", format_duration(_consul_seconds(ct)), ct)
            blk.fill(BLOCKS["connection_pool"])
        rt = root.get("RequestTimeout")
        if rt is not None:
            self.resolver_timeouts[svc] = rt
        lb = root.get("LoadBalancer")
        if lb is not None:
            self._load_balancer(tgt, lb)

    def _failover(self, tgt: tuple[str, str | None], failover: Cur) -> None:
        order: list[str] = []
        for key, entry in failover.items():
            entry.map()
            self.b.unmodelled(
                entry, {"Datacenters", "Targets", "Service", "ServiceSubset", "Namespace", "Partition", "Peer"}
            )
            self._failover_target(entry, order, "Datacenters")
            targets = entry.get("Targets")
            for t in targets.list() if targets is not None else []:
                t.map()
                self.b.unmodelled(t, {"Datacenter", "Peer", "Service", "ServiceSubset", "Namespace", "Partition"})
                self._failover_target(t, order, "Datacenter")
            if key != "*":
                self.b.approx(entry, f"failover for subset {key!r} only; modelled for the whole service")
        if order:
            blk = self.b.block(tgt, "locality", failover)
            blk.set("failover", order, failover)
            blk.default("prefer", "region", "Consul: stay in the local datacenter, fail over in list order, §3 [C3]")

    def _failover_target(self, entry: Cur, order: list[str], dc_key: str) -> None:
        """One failover target: its datacenters (or peer) join ``order``; other kinds are noted."""
        places = entry.get(dc_key)
        peer = entry.get("Peer")
        for dc in places.list() if places is not None and dc_key == "Datacenters" else []:
            if dc.as_str() not in order:
                order.append(dc.as_str())
        for one in (places if dc_key == "Datacenter" else None, peer):
            if one is not None and one.as_str() and one.as_str() not in order:
                order.append(one.as_str())
        for fld, what in (
            ("Service", "another service"),
            ("ServiceSubset", "another subset"),
            ("Namespace", "the service in another namespace"),
            ("Partition", "the service in another admin partition"),
        ):
            part = entry.get(fld)
            if part is not None and part.as_str():
                self.b.ignore(
                    part,
                    f"failover to {what} ({part.as_str()!r}) not modelled: meshsim fails over only to "
                    "other locations of the same service",
                )

    def _load_balancer(self, tgt: tuple[str, str | None], lb: Cur) -> None:
        lb.map()
        self.b.unmodelled(lb, {"Policy", "LeastRequestConfig", "RingHashConfig", "HashPolicies"})
        policy = lb.get("Policy")
        if policy is None:
            return
        name = {
            "round_robin": "round_robin",
            "least_request": "least_request",
            "ring_hash": "ring_hash",
            "maglev": "ring_hash",
            "random": "random",
            "": "round_robin",
        }.get(policy.as_str())
        if name is None:
            raise policy.error(f"unknown load balancer policy {policy.as_str()!r}")
        blk = self.b.block(tgt, "load_balancer", lb)
        if policy.as_str() == "maglev":
            self.b.approx(policy, "Maglev is modelled as a ring hash")
        if name == "least_request":
            cc = lb.get("LeastRequestConfig")
            count = cc.get("ChoiceCount") if cc is not None else None
            blk.set("kind", "least_request", policy)
            if count is not None:
                blk.set("choice_count", count.as_int(minimum=1), count)
            else:
                blk.default("choice_count", 2, "Envoy least_request choice_count 2, §3 [C6][E10]")
        elif name == "ring_hash":
            blk.set("kind", "ring_hash", policy)
            hp = lb.get("HashPolicies")
            for h in hp.list() if hp is not None else []:
                fld, value, sip = h.get("Field"), h.get("FieldValue"), h.get("SourceIP")
                if sip is not None and sip.as_bool():
                    blk.set("key", "source-ip", sip)
                    break
                if fld is not None and value is not None:
                    prefix = {"header": "", "cookie": "cookie:", "query_parameter": "query:"}.get(fld.as_str(), "")
                    blk.set("key", prefix + value.as_str(), value)
                    break
        else:
            blk.set(None, name, policy)

    # -- resolution --------------------------------------------------------------------------------
    def finish(self) -> None:
        for svc, rt in self.resolver_timeouts.items():
            if self.chain.get(svc):
                self.b.irrelevant(
                    rt, "resolver RequestTimeout has no effect: a router or splitter starts the chain (§3 [C1])"
                )
                continue
            secs = _consul_seconds(rt)
            self.b.block((svc, None), "timeout", rt).set(None, format_duration(max(secs, 0.0)), rt)
        super().finish()


def _catch_all(route: Cur) -> bool:
    match = route.get("Match")
    if match is None or not match.value:
        return True
    http = match.get("HTTP")
    if http is None or not http.value:
        return True
    keys = {_norm(str(k)) for k in http.value}
    if not keys <= {"pathprefix"}:
        return False
    prefix = http.get("PathPrefix")
    assert prefix is not None  # the only key left (Consul entries are read case-insensitively)
    return prefix.value in ("/", "")
