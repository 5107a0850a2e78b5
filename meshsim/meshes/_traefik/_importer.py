"""Traefik's importer: Traefik 3.x configuration, and Traefik Mesh's (:mod:`._mesh`).

Traefik 3.x (and 2.x) configuration comes as Kubernetes CRDs (``traefik.io`` or the older
``traefik.containo.us``: Middleware, IngressRoute, TraefikService) or as the file
provider's dynamic configuration (``http: {routers, services, middlewares}``). A router
(or an IngressRoute route) sends calls to its services through its middlewares, so each
service gets the retry, circuit-breaker and rate-limit middlewares of the routers that
reach it; a weighted service splits over its children; a load balancer's strategy and
passive health check set the service's balancer and ejection. Resolved once every
object is read. Each option is modelled, approximated (the note says how) or noted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from meshsim.meshes._builder import Builder
from meshsim.meshes._common import Ident, backend_version, k8s_ident, write_split
from meshsim.meshes._cursor import Cur
from meshsim.meshes._files import Document
from meshsim.meshes._preset import MeshUnit
from meshsim.meshes._traefik._mesh import TraefikMesh
from meshsim.meshes._traefik._middlewares import apply_middleware, apply_servers

__all__ = ["TraefikImporter"]


@dataclass
class _Route:
    """A router or IngressRoute route: the services it reaches through its middlewares."""

    where: Cur
    services: list[tuple[str, Cur, Cur | None]] = field(default_factory=list)  # (name, cur, weight)
    middlewares: list[tuple[str, Cur]] = field(default_factory=list)  # (name, reference)


class TraefikImporter(TraefikMesh):
    """Traefik Mesh annotations and SMI objects, Traefik 3.x CRDs and dynamic configuration."""

    FORMAT = "traefik"
    GROUPS: ClassVar[tuple[str, ...]] = ("traefik.io", "traefik.containo.us")
    HANDLERS: ClassVar[dict[str, str]] = {
        "TrafficSplit": "traffic_split",
        "Middleware": "middleware",
        "IngressRoute": "ingress_route",
        "TraefikService": "traefik_service",
        "DynamicConfiguration": "dynamic",
    }

    def __init__(self, builder: Builder, units: Mapping[str, MeshUnit] | None = None) -> None:
        super().__init__(builder, units)
        self.middlewares: dict[str, Cur] = {}  # name (and namespace/name) -> middleware body
        self.routes: list[_Route] = []
        self.weighted: dict[str, list[tuple[str, Cur, Cur | None]]] = {}  # service -> children
        self.balancers: dict[str, Cur] = {}  # service -> loadBalancer (file) or route service entry (CRD)
        self.saw_proxy = False

    @classmethod
    def owns(cls, data: Any) -> bool:
        """The file provider's dynamic configuration: ``http`` with routers, services or middlewares."""
        if not isinstance(data, dict) or "kind" in data:
            return False
        http = data.get("http")
        return isinstance(http, dict) and bool({"routers", "services", "middlewares"} & set(http))

    def identify(self, doc: Document) -> Ident | None:
        ident = k8s_ident(doc.data)
        if ident is None and self.owns(doc.data):
            return Ident("DynamicConfiguration", Path(doc.file).name)
        return ident

    # -- Kubernetes CRDs ---------------------------------------------------------------------------
    def middleware(self, root: Cur, ident: Ident) -> None:
        self.saw_proxy = True
        spec = root.get("spec")
        if spec is None:
            raise root.error("a Middleware needs a spec")
        self.middlewares[ident.name] = spec.map()
        if ident.namespace:
            self.middlewares[f"{ident.namespace}/{ident.name}"] = spec

    def ingress_route(self, root: Cur, ident: Ident) -> None:
        self.saw_proxy = True
        spec = root.get("spec")
        if spec is None:
            raise root.error("an IngressRoute needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"routes"}, {"entryPoints", "tls", "parentRefs"})
        routes = spec.get("routes")
        for r in routes.list() if routes is not None else []:
            r.map()
            self.b.unmodelled(r, {"services", "middlewares", "match"}, {"kind", "priority", "syntax", "observability"})
            match = r.get("match")
            if match is not None and r.get("middlewares") is not None:
                self.b.approx(
                    match,
                    "edge routing rule: meshsim applies this route's middlewares to every call to its services",
                )
            route = _Route(r)
            for s in _items(r.get("services")):
                s.map()
                name = s.get("name")
                if name is None:
                    raise s.error("a route service needs a name")
                self.b.unmodelled(
                    s,
                    {"name", "weight", "strategy", "passiveHealthCheck", "healthCheck", "sticky"},
                    {
                        "kind",
                        "namespace",
                        "port",
                        "scheme",
                        "passHostHeader",
                        "nativeLB",
                        "nodePortLB",
                        "responseForwarding",
                        "serversTransport",
                    },
                )
                key = self.b.qualify(name.as_str(), _namespace(s, ident))
                route.services.append((key, name, s.get("weight")))
                self.balancers.setdefault(key, s)
            for m in _items(r.get("middlewares")):
                m.map()
                name = m.get("name")
                if name is None:
                    raise m.error("a middleware reference needs a name")
                ns = m.get("namespace")
                ref = f"{ns.as_str()}/{name.as_str()}" if ns is not None else name.as_str()
                route.middlewares.append((ref, name))
            self.routes.append(route)

    def traefik_service(self, root: Cur, ident: Ident) -> None:
        self.saw_proxy = True
        spec = root.get("spec")
        if spec is None:
            raise root.error("a TraefikService needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"weighted", "mirroring"}, {"highestRandomWeight"})
        key = self.b.qualify(ident.name, ident.namespace)
        weighted = spec.get("weighted")
        if weighted is not None:
            self._weighted(key, weighted.map(), ident)
        mirroring = spec.get("mirroring")
        if mirroring is not None:
            self._mirroring(key, mirroring.map())

    # -- the file provider -----------------------------------------------------------------------
    def dynamic(self, root: Cur, ident: Ident) -> None:
        """``http: {routers, services, middlewares}`` of the file provider (YAML or JSON)."""
        self.saw_proxy = True
        self.b.unmodelled(root, {"http"}, {"tls", "tcp", "udp"})
        http = root.get("http")
        assert http is not None  # owns() checked it
        http.map()
        self.b.unmodelled(http, {"routers", "services", "middlewares"}, {"serversTransports"})
        for name, body in _pairs(http.get("middlewares")):
            self.middlewares[_strip(name)] = body.map()
        for name, body in _pairs(http.get("services")):
            body.map()
            self.b.unmodelled(body, {"loadBalancer", "weighted", "mirroring"}, {"failover", "highestRandomWeight"})
            key = _strip(name)
            lb = body.get("loadBalancer")
            if lb is not None:
                self.balancers[key] = lb.map()
            weighted = body.get("weighted")
            if weighted is not None:
                self._weighted(key, weighted.map(), None)
            mirroring = body.get("mirroring")
            if mirroring is not None:
                self._mirroring(key, mirroring.map())
        for _, body in _pairs(http.get("routers")):
            body.map()
            self.b.unmodelled(
                body,
                {"service", "middlewares", "rule"},
                {"entryPoints", "tls", "priority", "ruleSyntax", "observability"},
            )
            route = _Route(body)
            svc = body.get("service")
            if svc is not None:
                route.services.append((_strip(svc.as_str()), svc, None))
            for m in _items(body.get("middlewares")):
                route.middlewares.append((_strip(m.as_str()), m))
            rule = body.get("rule")
            if rule is not None and route.middlewares:
                self.b.approx(
                    rule, "edge routing rule: meshsim applies this router's middlewares to every call to its service"
                )
            self.routes.append(route)

    # -- services --------------------------------------------------------------------------------
    def _weighted(self, key: str, weighted: Cur, ident: Ident | None) -> None:
        self.b.unmodelled(weighted, {"services"}, {"sticky", "healthCheck"})
        children = []
        for s in _items(weighted.get("services")):
            s.map()
            name = s.get("name")
            if name is None:
                raise s.error("a weighted service needs a name")
            child = self.b.qualify(_strip(name.as_str()), _namespace(s, ident)) if ident else _strip(name.as_str())
            children.append((child, name, s.get("weight")))
        self.weighted[key] = children

    def _mirroring(self, key: str, mirroring: Cur) -> None:
        self.b.unmodelled(mirroring, {"service", "mirrors", "name"}, {"maxBodySize", "mirrorBody", "kind", "port"})
        mirrors = _items(mirroring.get("mirrors"))
        if not mirrors:
            return
        first = mirrors[0].map()
        if len(mirrors) > 1:
            self.b.ignore(mirrors[1], "only the first of several mirrors is modelled")
        name = first.get("name")
        if name is None:
            raise first.error("a mirror needs a name")
        blk = self.b.block((key, None), "mirror", first)
        blk.set("to", backend_version(self.b.plain(key), _strip(name.as_str())), name)
        pct = first.get("percent")
        if pct is not None:
            blk.set("percent", pct.as_num(), pct)
        else:
            blk.default("percent", 0, "Traefik mirroring: no percent => nothing mirrored, §6 [T10]")

    # -- resolution ------------------------------------------------------------------------------
    def finish(self) -> None:
        for route in self.routes:
            for svc, where, _ in route.services:
                self.b.service(svc, where)
                for ref, cur in route.middlewares:
                    body = self.middlewares.get(ref) or self.middlewares.get(ref.split("/")[-1])
                    if body is None:
                        self.b.ignore(cur, f"middleware {ref!r} is not in this import; not applied")
                        continue
                    apply_middleware(self.b, (svc, None), body, self.middlewares)
            if len(route.services) > 1:
                self._split(route.services[0][0], route.services, route.where)
        for key, children in self.weighted.items():
            self._split(key, children, children[0][1] if children else None)
        for key, lb in self.balancers.items():
            apply_servers(self.b, (key, None), lb)
        if self.saw_mesh and not self.saw_proxy:
            self.b.defaults = "traefik-mesh"
        elif self.saw_mesh:
            self.b.file_note(
                None,
                "approximated",
                "both Traefik Mesh (v1.4 on Traefik v2) and Traefik 3.x objects were read: mesh.defaults is traefik",
            )
        super().finish()

    def _split(self, parent: str, children: list[tuple[str, Cur, Cur | None]], where: Cur | None) -> None:
        if where is None:
            return
        top = self.b.plain(parent)
        entries = [
            (backend_version(top, self.b.plain(c)), w.as_num() if w is not None else 1, w or cur)
            for c, cur, w in children
        ]
        if not (len(entries) == 1 and entries[0][0] == top):
            write_split(self.b, (parent, None), entries, where)


def _items(cur: Cur | None) -> list[Cur]:
    return cur.list() if cur is not None and cur.value is not None else []


def _pairs(cur: Cur | None) -> list[tuple[str, Cur]]:
    if cur is None or not isinstance(cur.value, dict):
        return []
    return [(str(k), v) for k, v in cur.items()]


def _strip(name: str) -> str:
    """``retry@file`` -> ``retry``: a reference names its provider after ``@``."""
    return name.split("@", 1)[0]


def _namespace(entry: Cur, ident: Ident | None) -> str | None:
    ns = entry.get("namespace")
    if ns is not None:
        return ns.as_str()
    return ident.namespace if ident is not None else None
