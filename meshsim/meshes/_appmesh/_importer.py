"""App Mesh's importer: VirtualRouter routes and VirtualNode listeners -> scenario policies.

Accepted forms: the API/CLI JSON (``create-route --cli-input-json`` input,
``describe-*`` output, or a bare ``{"spec": ...}`` as in the AWS walkthroughs), the
``appmesh.k8s.aws/v1beta2`` CRDs, the older ``v1beta1`` CRDs (a VirtualService with
its router's routes inline) and ``AWS::AppMesh::*`` resources in a CloudFormation
template. Walkthrough ``*.yaml.template`` files with ``${VARS}`` are read with dummy
values (one note per file).

Names: a router's routes set the policy of the VirtualService it provides (else
of the router, without a ``-router`` suffix); each VirtualNode is a version of
its service (``podSelector`` label ``version``, else the node name less the
service prefix). A node's listener limits are per-version policy when the
service has several nodes, service policy otherwise.

Semantics: docs/references.md section 4 (retry events [A4],
15 s default timeout [A2], thresholds 2^31-1 when unset [A1]).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from meshsim.meshes._appmesh import _cloudformation as cfn
from meshsim.meshes._appmesh._defaults import BLOCKS
from meshsim.meshes._builder import Builder
from meshsim.meshes._common import Ident, MeshImporter, backend_version, k8s_ident, write_split
from meshsim.meshes._cursor import Cur
from meshsim.meshes._envoy import envoy_max_ejection
from meshsim.meshes._files import Document
from meshsim.meshes._preset import MeshUnit
from meshsim.units import format_duration

__all__ = ["AppMeshImporter"]

#: App Mesh retry events -> (scenario retry_on, status codes) [A4].
_HTTP_EVENTS = {
    "server-error": (["retriable-status-codes", "reset"], [500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511]),
    "gateway-error": (["gateway-error", "reset"], []),
    "client-error": (["retriable-4xx"], []),
    "stream-error": (["refused-stream"], []),
}
_GRPC_EVENTS = {
    "cancelled": "cancelled",
    "deadline-exceeded": "deadline-exceeded",
    "internal": "internal",
    "resource-exhausted": "resource-exhausted",
    "unavailable": "unavailable",
}
#: Route body keys: the API and v1beta2 (``httpRoute``) and v1beta1 inline routes (``http``).
_ROUTE_KINDS = ("httpRoute", "http2Route", "grpcRoute", "tcpRoute", "http", "http2", "grpc", "tcp")
_TCP = ("tcpRoute", "tcp")
_WRAPPERS = {
    "route": "Route",
    "virtualNode": "VirtualNode",
    "virtualRouter": "VirtualRouter",
    "virtualService": "VirtualService",
    "virtualGateway": "VirtualGateway",
    "gatewayRoute": "GatewayRoute",
    "mesh": "Mesh",
}
#: API JSON keys that name an object, and its kind.
_NAME_KEYS = {
    "routeName": "Route",
    "gatewayRouteName": "GatewayRoute",
    "virtualGatewayName": "VirtualGateway",
    "virtualNodeName": "VirtualNode",
    "virtualServiceName": "VirtualService",
    "virtualRouterName": "VirtualRouter",
}


@dataclass
class _Node:
    name: str
    spec: Cur
    labels: dict[str, str]
    discovery: str | None


@dataclass
class _Router:
    name: str
    routes: list[tuple[str, Cur]] = field(default_factory=list)  # (route name, route spec)


class AppMeshImporter(MeshImporter):
    """App Mesh routers, routes, nodes and services."""

    FORMAT = "appmesh"
    GROUPS: ClassVar[tuple[str, ...]] = ("appmesh.k8s.aws",)
    HANDLERS: ClassVar[dict[str, str]] = {
        "VirtualRouter": "virtual_router",
        "Route": "route",
        "VirtualNode": "virtual_node",
        "VirtualService": "virtual_service",
        "CloudFormation": "cloudformation",
    }
    UNMODELLED: ClassVar[dict[str, str]] = {
        "VirtualGateway": "gateway (north-south) traffic is not modelled",
        "GatewayRoute": "gateway (north-south) traffic is not modelled",
    }
    IGNORED: ClassVar[frozenset[str]] = frozenset({"Mesh", "BackendGroup"})

    def __init__(self, builder: Builder, units: Mapping[str, MeshUnit] | None = None) -> None:
        super().__init__(builder, units)
        self.routers: dict[str, _Router] = {}
        self.nodes: dict[str, _Node] = {}
        self.provider: dict[str, tuple[str, str, Cur]] = {}  # router/node name -> (kind, service, cur)

    # -- identity ------------------------------------------------------------------------------
    @classmethod
    def owns(cls, data: Any) -> bool:
        """App Mesh API JSON (``routeName``, ``{"spec": {"httpRoute": ...}}``...) or a template with its resources."""
        if not isinstance(data, dict) or "kind" in data:
            return False
        if cfn.is_template(data):
            return any(t in cfn.API_NAME_KEY for _, t, _, _ in cfn.resources(data))
        return _api_kind(data, "") is not None

    def identify(self, doc: Document) -> Ident | None:
        data = doc.data
        if not isinstance(data, dict):
            return None
        ident = k8s_ident(data)
        if ident is not None:
            return ident
        if cfn.is_template(data):
            return Ident("CloudFormation", Path(doc.file).name)
        for key in _WRAPPERS:  # describe-* output: {"route": {...}}
            if set(data) == {key} and isinstance(data[key], dict):
                doc.data = data[key]
                doc.extra["path"] = key
                data = doc.data
                break
        return _api_kind(data, Path(doc.file).name.split(".")[0])

    def root(self, doc: Document, ident: Ident) -> Cur:
        return Cur(doc, doc.data, doc.extra.get("path", ""), doc.line, ident.label)

    # -- CloudFormation ------------------------------------------------------------------------------
    def cloudformation(self, root: Cur, ident: Ident) -> None:
        """Each ``AWS::AppMesh::*`` resource, as the API form; other resources are noted once."""
        others: list[str] = []
        for logical, rtype, resource, line in cfn.resources(root.value):
            api = cfn.to_api(root.value, logical, rtype, resource)
            if api is None:
                if rtype not in others:
                    others.append(rtype)
                continue
            data, kind = api
            doc = Document(root.file, line, data, root.doc.explicit, extra={"path": f"Resources.{logical}.Properties"})
            sub = Ident(kind, str(data[cfn.API_NAME_KEY[rtype][1]]))
            method = self.HANDLERS.get(kind)
            if method is not None:
                getattr(self, method)(Cur(doc, data, doc.extra["path"], line, f"{kind}/{sub.name}"), sub)
            elif kind in self.UNMODELLED:
                self.b.ignore(
                    Cur(doc, data, doc.extra["path"], line, kind), f"{kind} not modelled: {self.UNMODELLED[kind]}"
                )
        if others:
            self.b.irrelevant(root, f"resources {', '.join(sorted(others))} have no effect on traffic in meshsim")

    # -- collection (resolved in finish, when every object is known) ------------------------------
    def virtual_router(self, root: Cur, ident: Ident) -> None:
        router = self.routers.setdefault(ident.name, _Router(ident.name))
        spec = root.get("spec")
        if spec is None:
            return
        spec.map()
        self.b.unmodelled(spec, {"listeners", "routes"}, {"awsName", "meshRef", "virtualRouterName", "meshName"})
        routes = spec.get("routes")
        for r in routes.list() if routes is not None else []:
            name = r.map().get("name")
            router.routes.append((name.as_str() if name is not None else "", _checked_route(r)))

    def route(self, root: Cur, ident: Ident) -> None:
        spec = root.get("spec")
        if spec is None:
            raise root.error("a Route needs a spec")
        rname = root.get("virtualRouterName")
        if rname is None:
            stem = Path(root.file).name.split(".")[0]
            self.b.approx(spec, f"Route without virtualRouterName; its policy is keyed by the file name {stem!r}")
            router_name = stem
        else:
            router_name = rname.as_str()
        self.routers.setdefault(router_name, _Router(router_name)).routes.append(
            (ident.name, _checked_route(spec.map()))
        )

    def virtual_node(self, root: Cur, ident: Ident) -> None:
        spec = root.get("spec")
        if spec is None:
            raise root.error("a VirtualNode needs a spec")
        spec.map()
        labels: dict[str, str] = {}
        ps = spec.get("podSelector")
        ml = ps.get("matchLabels") if ps is not None else None
        if ml is not None and isinstance(ml.value, dict):
            labels = {str(k): str(v) for k, v in ml.value.items()}
        discovery = None
        sd = spec.get("serviceDiscovery")
        if sd is not None:
            dns = sd.get("dns")
            cloud = sd.get("awsCloudMap")
            hostname = dns.get("hostname", "hostName") if dns is not None else None
            cloud_name = cloud.get("serviceName") if cloud is not None else None
            if hostname is not None:
                discovery = hostname.as_str().split(".")[0]
            elif cloud_name is not None:
                discovery = cloud_name.as_str()
        self.nodes[ident.name] = _Node(ident.name, spec, labels, discovery)

    def virtual_service(self, root: Cur, ident: Ident) -> None:
        spec = root.get("spec")
        svc = ident.name.split(".")[0] if "." in ident.name else ident.name
        if spec is None:
            return
        spec.map()
        inline = spec.get("routes")
        if inline is not None:
            # v1beta1: the VirtualService carries its router and that router's routes.
            router = spec.get("virtualRouter")
            rname = router.get("name") if router is not None else None
            router_name = rname.as_str() if rname is not None else f"{svc}-router"
            self.provider[router_name] = ("virtualRouter", svc, rname or inline)
            for r in inline.list():
                r.map()
                label = r.get("name")
                self.routers.setdefault(router_name, _Router(router_name)).routes.append(
                    (label.as_str() if label is not None else "", _checked_route(r))
                )
            return
        provider = spec.get("provider")
        if provider is None:
            return
        for kind in ("virtualRouter", "virtualNode"):
            p = provider.get(kind)
            if p is None:
                continue
            ref = p.get(f"{kind}Ref") or p.get(f"{kind}Name")
            if ref is not None:
                named = ref.get("name") if isinstance(ref.value, dict) else ref
                if named is not None:
                    self.provider[named.as_str()] = (kind, svc, named)

    # -- resolution --------------------------------------------------------------------------------
    def _router_service(self, router: str) -> str:
        if router in self.provider and self.provider[router][0] == "virtualRouter":
            return self.provider[router][1]
        for suffix in ("-router", "-vr", "_router"):
            if router.endswith(suffix) and len(router) > len(suffix):
                return router[: -len(suffix)]
        return router

    def _node_service(self, node: str) -> str:
        if node in self.provider and self.provider[node][0] == "virtualNode":
            return self.provider[node][1]
        for rname, router in self.routers.items():
            for _, r in router.routes:
                if node in _targets(r):
                    return self._router_service(rname)
        n = self.nodes.get(node)
        if n is not None:
            return n.labels.get("app") or n.discovery or node
        return node

    def _node_version(self, node: str, svc: str) -> str:
        n = self.nodes.get(node)
        if n is not None and n.labels.get("version"):
            return n.labels["version"]
        # "colorteller-blue", "myapp-backend-v1-node" -> "blue", "v1": the part after the service's name.
        base = next(
            (node[: -len(s)] for s in ("-node", "-vn", "_node") if node.endswith(s) and len(node) > len(s)), node
        )
        if f"{svc}-" in base and not base.endswith(f"{svc}-"):
            return base.split(f"{svc}-", 1)[1]
        return backend_version(svc, base)

    def finish(self) -> None:
        for rname, router in self.routers.items():
            if router.routes:
                self._apply_routes(self._router_service(rname), router)
        per_service: dict[str, list[str]] = {}
        for name in self.nodes:
            per_service.setdefault(self._node_service(name), []).append(name)
        for svc, names in per_service.items():
            for name in names:
                version = self._node_version(name, svc) if len(names) > 1 else None
                self._apply_node(svc, version, self.nodes[name])
        super().finish()

    def _apply_routes(self, svc: str, router: _Router) -> None:
        def priority(item: tuple[str, Cur]) -> int:
            p = item[1].get("priority")
            return p.as_int() if p is not None else 1001  # unset: after every prioritised route

        ordered = sorted(router.routes, key=priority)
        chosen = next((r for _, r in ordered if _catch_all(r)), None)
        for _, r in ordered:
            if r is not chosen:
                self.b.ignore(
                    r,
                    "route match (path/header/method) not modelled; "
                    + ("the catch-all route is used" if chosen is not None else "the first route is used"),
                )
        if chosen is None:
            chosen = ordered[0][1]
        tgt = (svc, None)
        self.b.service(svc, chosen)
        kind = next(k for k in _ROUTE_KINDS if chosen.get(k) is not None)  # checked when collected
        route = chosen.get(kind)
        assert route is not None  # kind was picked because the route has it
        body = route.map()
        self.b.unmodelled(body, {"match", "action", "retryPolicy", "timeout"})
        if kind in _TCP:
            self.b.approx(body, "TCP route: only its weighted targets are modelled (meshsim simulates HTTP)")
        action = body.get("action")
        targets = action.get("weightedTargets") if action is not None else None
        if targets is not None:
            entries = []
            for t in targets.list():
                t.map()
                node = _target_name(t)
                if node is None:
                    raise t.error("a weighted target needs virtualNode, virtualNodeRef or virtualNodeARN")
                w = t.get("weight")
                if w is None:
                    raise t.error("a weighted target needs a weight")
                entries.append((self._node_version(node, svc), w.as_num(), w))
            # One target pins traffic to one version: worth saying only if the service has others.
            nodes_of_service = [n for n in self.nodes if self._node_service(n) == svc]
            if len(entries) > 1 or len(nodes_of_service) > 1:
                write_split(self.b, tgt, entries, targets)
        retry = body.get("retryPolicy")
        if retry is not None and kind not in _TCP:
            self._retry(tgt, retry)
        timeout = body.get("timeout")
        if timeout is not None:
            timeout.map()
            self.b.unmodelled(timeout, {"perRequest"}, {"idle"})
            per = timeout.get("perRequest")
            if per is not None:
                self.b.block(tgt, "timeout", per).set(None, per.duration(), per)

    def _retry(self, tgt: tuple[str, str | None], rp: Cur) -> None:
        rp.map()
        self.b.unmodelled(
            rp,
            {
                "maxRetries",
                "perRetryTimeout",
                "perRetryTimeoutMillis",
                "httpRetryEvents",
                "tcpRetryEvents",
                "grpcRetryEvents",
            },
        )
        blk = self.b.block(tgt, "retries", rp)
        mr = rp.get("maxRetries")
        prt = rp.get("perRetryTimeout", "perRetryTimeoutMillis")  # v1beta1: milliseconds
        if mr is None or prt is None:
            raise rp.error("retryPolicy needs maxRetries and perRetryTimeout")
        blk.set("attempts", mr.as_int(), mr)
        blk.set("per_try_timeout", prt.duration(int_unit=1e-3 if prt.path.endswith("Millis") else None), prt)
        conds: list[str] = []
        codes: list[int] = []
        for fld, table in (
            ("httpRetryEvents", _HTTP_EVENTS),
            ("tcpRetryEvents", {"connection-error": (["connect-failure"], [])}),
            ("grpcRetryEvents", {k: ([v], []) for k, v in _GRPC_EVENTS.items()}),
        ):
            events = rp.get(fld)
            for e in events.list() if events is not None else []:
                if e.as_str() not in table:
                    raise e.error(f"unknown retry event {e.as_str()!r}")
                c, s = table[e.as_str()]
                conds += [x for x in c if x not in conds]
                codes += [x for x in s if x not in codes]
        first = rp.get("httpRetryEvents") or rp.get("tcpRetryEvents") or rp.get("grpcRetryEvents") or rp
        blk.set("retry_on", conds, first)
        if codes:
            blk.set("retriable_status_codes", codes, first)
        blk.fill(BLOCKS["retries"])

    def _apply_node(self, svc: str, version: str | None, node: _Node) -> None:
        spec = node.spec
        self.b.unmodelled(
            spec,
            {"listeners"},
            {
                "podSelector",
                "serviceDiscovery",
                "backends",
                "backendDefaults",
                "logging",
                "awsName",
                "meshRef",
                "meshName",
                "virtualNodeName",
            },
        )
        tgt = (svc, version)
        self.b.service(svc, spec)
        if version is not None:
            self.b.add_version(svc, version, spec)
        listeners = spec.get("listeners")
        items = listeners.list() if listeners is not None else []
        if listeners is not None and len(items) > 1:
            self.b.ignore(listeners, "several listeners: only the first is modelled")
        if not items:
            return
        lst = items[0].map()
        self.b.unmodelled(lst, {"connectionPool", "outlierDetection", "timeout", "healthCheck"}, {"portMapping", "tls"})
        hc = lst.get("healthCheck")
        if hc is not None:
            self.b.ignore(hc, "active health checks not modelled")
        pool = lst.get("connectionPool")
        if pool is not None:
            pool.map()
            blk = self.b.block(tgt, "connection_pool", pool)
            for proto, fields in (
                ("http", (("maxConnections", "max_connections"), ("maxPendingRequests", "max_pending"))),
                ("http2", (("maxRequests", "max_requests"),)),
                ("grpc", (("maxRequests", "max_requests"),)),
                ("tcp", (("maxConnections", "max_connections"),)),
            ):
                part = pool.get(proto)
                if part is None:
                    continue
                for fld, name in fields:
                    c = part.get(fld)
                    if c is not None:
                        blk.set(name, c.as_int(minimum=1), c)
            blk.fill(BLOCKS["connection_pool"])
        od = lst.get("outlierDetection")
        if od is not None:
            od.map()
            blk = self.b.block(tgt, "outlier_detection", od)
            for fld, name in (("maxServerErrors", "consecutive_5xx"), ("maxEjectionPercent", "max_ejection_percent")):
                c = od.get(fld)
                if c is None:
                    raise od.error(f"outlierDetection needs {fld}")
                blk.set(name, c.as_int(minimum=1) if fld == "maxServerErrors" else c.as_num(), c)
            base_s = 30.0
            for fld, name in (("interval", "interval"), ("baseEjectionDuration", "base_ejection_time")):
                c = od.get(fld)
                if c is None:
                    raise od.error(f"outlierDetection needs {fld}")
                blk.set(name, c.duration(), c)
                if fld == "baseEjectionDuration":
                    base_s = c.seconds()
            blk.default(
                "max_ejection_time",
                format_duration(envoy_max_ejection(base_s)),
                "Envoy: max_ejection_time = max(300s, base_ejection_time), §0 [E4]",
            )
            blk.fill(BLOCKS["outlier_detection"])
        timeout = lst.get("timeout")
        if timeout is not None:
            for proto in ("http", "http2", "grpc"):
                part = timeout.get(proto)
                per = part.get("perRequest") if part is not None else None
                if per is None:
                    continue
                if self.b.has((svc, None), ("timeout",), strong_only=True):
                    break  # the route's own timeout decides
                self.b.approx(per, "listener (inbound) timeout modelled as the callers' request timeout")
                self.b.put(tgt, ("timeout",), per.duration(), per.origin(), weak=True)
                break


def _target_name(t: Cur) -> str | None:
    node = t.get("virtualNode", "virtualNodeName")  # v1beta1: virtualNodeName
    if node is not None:
        return node.as_str()
    ref = t.get("virtualNodeRef")
    ref_name = ref.get("name") if ref is not None else None
    if ref_name is not None:
        return ref_name.as_str()
    arn = t.get("virtualNodeARN")
    if arn is not None:
        return arn.as_str().rsplit("/", 1)[-1]
    return None


def _targets(route: Cur) -> list[str]:
    out = []
    for kind in _ROUTE_KINDS:
        body = route.get(kind)
        action = body.get("action") if body is not None else None
        targets = action.get("weightedTargets") if action is not None else None
        for t in targets.list() if targets is not None else []:
            name = _target_name(t)
            if name:
                out.append(name)
    return out


def _catch_all(route: Cur) -> bool:
    for kind in _ROUTE_KINDS:
        body = route.get(kind)
        if body is None:
            continue
        match = body.get("match")
        if match is None or not isinstance(match.value, dict):
            return True
        keys = set(match.value) - {"port"}
        if kind in ("grpcRoute", "grpc"):
            return keys <= {"serviceName"}
        return keys <= {"prefix"} and match.value.get("prefix", "/") == "/"
    return False


def _api_kind(data: dict[str, Any], stem: str) -> Ident | None:
    """The kind of an App Mesh API JSON object (``routeName``..., or a bare ``{"spec": ...}``)."""
    for key, kind in _NAME_KEYS.items():
        if key in data and (kind != "VirtualRouter" or "routeName" not in data):
            return Ident(kind, str(data[key]))
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return None
    for k in _ROUTE_KINDS:
        body = spec.get(k)
        action = body.get("action") if isinstance(body, dict) else None
        if isinstance(action, dict):
            # A gateway route's action names a virtual service target, not weighted nodes.
            return Ident("GatewayRoute" if "target" in action else "Route", "")
    if "provider" in spec:
        return Ident("VirtualService", stem)
    listeners = spec.get("listeners")
    if {"serviceDiscovery", "backends", "podSelector"} & set(spec):
        return Ident("VirtualNode", stem)
    if isinstance(listeners, list) and any(
        isinstance(lst, dict) and {"outlierDetection", "timeout"} & set(lst) for lst in listeners
    ):
        return Ident("VirtualNode", stem)
    if {"logging", "backendDefaults"} & set(spec):
        # Listeners without service discovery: only a virtual gateway may have them [A3].
        return Ident("VirtualGateway", stem)
    if listeners is not None:
        return Ident("VirtualRouter", stem)
    return None


def _checked_route(route: Cur) -> Cur:
    """A route spec, refused now (while its file is known) when it has no route body."""
    if not any(route.get(k) is not None for k in _ROUTE_KINDS):
        raise route.error("a route needs httpRoute, http2Route, grpcRoute or tcpRoute")
    return route
