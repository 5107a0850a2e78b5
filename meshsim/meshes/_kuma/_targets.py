"""Kuma's targetRef model: which calls a policy's ``default`` block is for (docs/references.md §5).

A policy names the proxies it is on (``spec.targetRef``) and the traffic it shapes:
``to[]`` (outbound: calls to a service, a subset, every service, or one MeshHTTPRoute)
or ``from[]``/``rules[]`` (inbound: calls into the service of ``spec.targetRef``, from
some or all callers). meshsim applies a policy in the caller's proxy to every caller,
so this module scopes what it can and notes the rest:

- ``MeshService`` by ``name`` (Kuma up to 2.9) or by ``labels`` (2.10 and later:
  ``kuma.io/display-name``, or the labels of a MeshService object in the import);
- a ``to[]`` entry on a ``MeshHTTPRoute`` (or a top-level ``targetRef`` on one) applies to
  the route's service only when every rule of that route matches every request; a route
  on some paths or headers is noted, not applied (resolved once every route is read);
- an inbound entry limited to some callers (``from[].targetRef`` other than ``Mesh``,
  ``rules[].matches`` on a ``spiffeID``) is noted, not applied to everyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from meshsim.meshes._builder import MESH_WIDE, Builder, Target
from meshsim.meshes._common import Ident, MeshImporter, k8s_ident
from meshsim.meshes._cursor import Cur, split_host
from meshsim.meshes._files import Document
from meshsim.meshes._gatewayapi import catch_all_rule
from meshsim.meshes._preset import MeshUnit

__all__ = ["Entry", "KumaTargets", "kuma_service"]

_KUMA_SVC = re.compile(r"^(.+?)_([^_]+)_svc(?:_\d+)?$")
#: Labels that name the service a MeshService (or MeshMultiZoneService) is.
_NAME_LABELS = ("kuma.io/display-name", "k8s.kuma.io/service-name", "kuma.io/service", "app")
_NS_LABELS = ("k8s.kuma.io/namespace", "kuma.io/namespace")
#: Top-level kinds that put a policy on some proxies only (its callers, for a ``to`` policy).
_SOME_PROXIES = ("MeshSubset", "MeshService", "MeshServiceSubset", "Dataplane")


def kuma_service(name: str) -> str:
    """``backend_kuma-demo_svc_3001`` -> ``backend``; other names as the Kubernetes host's service."""
    return _kuma_name(name)[0]


def _kuma_name(name: str) -> tuple[str, str | None]:
    m = _KUMA_SVC.match(name)
    return (m.group(1), m.group(2)) if m else split_host(name)


@dataclass
class Entry:
    """One ``default`` block and the calls it is for."""

    tgt: Target
    default: Cur
    inbound: bool  # from[]/rules[]: set in the called service's own (inbound) proxy


class KumaTargets(MeshImporter):
    """Identity and targetRef resolution shared by every Kuma policy."""

    #: policy kind -> the method that applies one ``default`` block to one target.
    APPLY: ClassVar[dict[str, str]] = {}

    def __init__(self, builder: Builder, units: Mapping[str, MeshUnit] | None = None) -> None:
        super().__init__(builder, units)
        self.mesh_services: dict[str, tuple[str, dict[str, str]]] = {}  # builder key -> (name, labels)
        self.routes: dict[str, list[tuple[str, bool]]] = {}  # route name -> [(service key, catch-all only)]
        self.route_scoped: list[tuple[str, Cur, str, Cur]] = []  # (route, targetRef, policy kind, default)

    @classmethod
    def owns(cls, data: Any) -> bool:
        """A Universal policy: ``type: MeshRetry`` (and ``name``, ``mesh``) without a Kubernetes ``kind``."""
        if not isinstance(data, dict) or "kind" in data:
            return False
        kind = data.get("type")
        return isinstance(kind, str) and (kind in cls.HANDLERS or kind in cls.UNMODELLED or kind in cls.IGNORED)

    def identify(self, doc: Document) -> Ident | None:
        ident = k8s_ident(doc.data)
        if ident is not None:
            return ident
        data = doc.data
        if isinstance(data, dict) and isinstance(data.get("type"), str) and "name" in data:
            return Ident(data["type"], str(data.get("name", "")))
        return None

    def shadow(self, root: Cur) -> bool:
        """True (and noted) for a policy labelled ``kuma.io/effect: shadow``: it does not take effect.

        Kuma computes shadow policies only for inspection (``IsShadowedResource``,
        pkg/core/resources/model/resource.go:579-584).
        """
        meta = root.get("metadata") or root
        labels = meta.get("labels")
        effect = labels.get("kuma.io/effect") if labels is not None and isinstance(labels.value, dict) else None
        if effect is not None and effect.as_str() == "shadow":
            self.b.irrelevant(effect, "a shadow policy (kuma.io/effect: shadow) does not take effect; skipped")
            return True
        return False

    # -- services --------------------------------------------------------------------------------
    def _svc(self, name: str, namespace: str | None = None) -> str:
        base, ns = _kuma_name(name)
        return self.b.qualify(base, ns or namespace)

    def mesh_service(self, root: Cur, ident: Ident) -> None:
        """A MeshService object: a service, and the labels policies may select it by."""
        meta = root.get("metadata") or root
        raw = meta.get("labels")
        labels = (
            {str(k): str(v) for k, v in raw.value.items()} if raw is not None and isinstance(raw.value, dict) else {}
        )
        name = labels.get("kuma.io/display-name") or ident.name
        key = self._svc(name, ident.namespace or next((labels[k] for k in _NS_LABELS if k in labels), None))
        self.mesh_services[key] = (ident.name, labels)
        self.b.service(key, root)

    def _by_labels(self, ref: Cur, labels: dict[str, str]) -> str | None:
        """The service a label selector picks: a name label, else the one MeshService it matches."""
        ns = next((labels[k] for k in _NS_LABELS if k in labels), None)
        for key in _NAME_LABELS:
            if key in labels:
                return self._svc(labels[key], ns)
        matches = [
            key for key, (_, own) in self.mesh_services.items() if all(own.get(k) == v for k, v in labels.items())
        ]
        if len(matches) == 1:
            return matches[0]
        self.b.ignore(
            ref,
            f"selects services by labels {labels}, which name no single MeshService in this import "
            f"({len(matches)} match); skipped",
        )
        return None

    # -- target references -----------------------------------------------------------------------
    def _ref_target(self, ref: Cur) -> Target | None:
        """The service (and version) a ``to[]``/top-level targetRef names; None: not resolvable (noted)."""
        ref.map()
        kind_cur = ref.get("kind")
        if kind_cur is None:
            raise ref.error("a targetRef needs a kind")
        kind = kind_cur.as_str()
        name, labels_cur, tags = ref.get("name"), ref.get("labels"), ref.get("tags")
        labels = _strings(labels_cur)
        tagmap = _strings(tags)
        ns_cur = ref.get("namespace")
        namespace = ns_cur.as_str() if ns_cur is not None else None
        section = ref.get("sectionName")
        if section is not None:
            self.b.irrelevant(section, "port section: meshsim has one port per service")
        if kind == "Mesh":
            return (MESH_WIDE, None)
        if kind in ("MeshService", "MeshMultiZoneService"):
            if name is not None:
                return (self._svc(name.as_str(), namespace), None)
            if labels:
                assert labels_cur is not None
                svc = self._by_labels(labels_cur, labels)
                return (svc, None) if svc is not None else None
            self.b.approx(ref, f"a {kind} targetRef without name or labels selects every service: applied mesh-wide")
            return (MESH_WIDE, None)
        if kind == "MeshServiceSubset":
            if name is None:
                raise ref.error("a MeshServiceSubset targetRef needs a name")
            return (self._svc(name.as_str(), namespace), tagmap.get("version"))
        if kind == "MeshSubset":
            svc = tagmap.get("kuma.io/service") or tagmap.get("app") or tagmap.get("k8s.kuma.io/service-name")
            if svc is None:
                self.b.ignore(ref, "MeshSubset without a service tag not modelled")
                return None
            return (self._svc(svc), tagmap.get("version"))
        if kind == "Dataplane":
            svc = next((labels[k] for k in _NAME_LABELS if k in labels), None)
            if svc is None:
                self.b.ignore(ref, "a Dataplane targetRef without a service label names no service; skipped")
                return None
            ns = next((labels[k] for k in _NS_LABELS if k in labels), namespace)
            return (self._svc(svc, ns), labels.get("version"))
        if kind == "MeshExternalService":
            self.b.ignore(ref, "calls to an external service are not simulated")
            return None
        self.b.ignore(ref, f"targetRef kind {kind} not modelled")
        return None

    def _route_name(self, ref: Cur) -> str | None:
        """The MeshHTTPRoute a targetRef names (by ``name`` or ``kuma.io/display-name``), else None."""
        if not isinstance(ref.value, dict) or ref.value.get("kind") != "MeshHTTPRoute":
            return None
        name = ref.get("name")
        if name is not None:
            return name.as_str()
        labels = _strings(ref.get("labels"))
        return labels.get("kuma.io/display-name") or (next(iter(labels.values())) if labels else "")

    def _scope_top(self, top: Cur | None, outbound: bool = True) -> bool:
        """Note a top-level targetRef that limits the calling proxies; False if the policy is not for the mesh.

        For ``to[]`` entries the top-level targetRef names the callers; for ``from[]``/``rules[]``
        it names the called service (resolved by :meth:`entries`).
        """
        if top is None or not isinstance(top.value, dict):
            return True
        kind = top.value.get("kind")
        if kind == "MeshGateway":
            self.b.ignore(top, "policy on a MeshGateway (north-south traffic) not modelled")
            return False
        if outbound and kind in _SOME_PROXIES:
            self.b.approx(top, "applies to calls from these proxies only; meshsim applies it to every caller")
        return True

    # -- entries -----------------------------------------------------------------------------------
    def entries(self, root: Cur, ident: Ident) -> list[Entry]:
        """Every ``default`` block of a policy with the calls it is for (route-scoped ones deferred)."""
        spec = root.get("spec")
        if spec is None:
            raise root.error(f"a {ident.kind} needs a spec")
        spec.map()
        self.b.unmodelled(spec, {"targetRef", "to", "from", "rules", "default"})
        top = spec.get("targetRef")
        if not self._scope_top(top, outbound=spec.get("to") is not None or spec.get("default") is not None):
            return []
        out: list[Entry] = []
        top_route = self._route_name(top) if top is not None else None
        outbound = [(e.map().get("targetRef"), e.get("default"), e) for e in _items(spec.get("to"))]
        single = spec.get("default")
        if single is not None:  # Kuma 2.3-2.6: a top-level default on a MeshHTTPRoute (or Mesh) target
            outbound.append((None, single, spec))
        for ref, default, entry in outbound:
            if default is None:
                continue
            if ref is None and entry is not spec:
                raise entry.error("a to[] entry needs a targetRef")
            route = self._route_name(ref) if ref is not None else None
            where = ref if route is not None else top
            if (route is not None or top_route is not None) and where is not None:
                self.route_scoped.append((route or top_route or "", where, ident.kind, default.map()))
                continue
            tgt = self._ref_target(ref) if ref is not None else (MESH_WIDE, None)
            if tgt is not None:
                out.append(Entry(tgt, default.map(), inbound=False))
        inbound = _items(spec.get("from")) + _items(spec.get("rules"))
        if inbound:
            dest = self._ref_target(top) if top is not None and top_route is None else (MESH_WIDE, None)
            for entry in inbound:
                default = entry.map().get("default")
                if dest is None or default is None:
                    continue
                if self._some_callers(entry):
                    continue
                out.append(Entry(dest, default.map(), inbound=True))
        return out

    def _some_callers(self, entry: Cur) -> bool:
        """True (and noted) when an inbound entry is for some callers only: meshsim cannot scope it."""
        ref = entry.get("targetRef")
        if ref is not None and isinstance(ref.value, dict) and ref.value.get("kind") != "Mesh":
            self.b.ignore(
                ref,
                "inbound policy for some callers only; meshsim applies policies to every caller, so it is not applied",
            )
            return True
        matches = entry.get("matches")
        if matches is not None and matches.value:
            self.b.ignore(
                matches,
                "inbound rule for callers matching an identity (spiffeID) only; meshsim applies policies to "
                "every caller, so it is not applied",
            )
            return True
        return False

    # -- routes ----------------------------------------------------------------------------------------
    def note_route(self, name: str, svc: str, rules: list[Cur]) -> None:
        """Remember a MeshHTTPRoute's service and whether every rule matches every request."""
        every = bool(rules) and all(catch_all_rule(r, ("PathPrefix", "Prefix")) for r in rules)
        self.routes.setdefault(name, []).append((svc, every))

    def finish(self) -> None:
        for route, ref, kind, default in self.route_scoped:
            targets = self.routes.get(route)
            if not targets:
                self.b.ignore(ref, f"MeshHTTPRoute {route!r} is not in this import; the policy is not applied")
                continue
            for svc, every in targets:
                if not every:
                    self.b.ignore(
                        ref,
                        f"applies to the requests MeshHTTPRoute {route!r} matches (some paths or headers) only; "
                        "meshsim has one policy per service, so it is not applied",
                    )
                    continue
                getattr(self, self.APPLY[kind])(Entry((svc, None), default, inbound=False))
        super().finish()


def _items(cur: Cur | None) -> list[Cur]:
    return cur.list() if cur is not None and cur.value is not None else []


def _strings(cur: Cur | None) -> dict[str, str]:
    if cur is None or not isinstance(cur.value, dict):
        return {}
    return {str(k): str(v) for k, v in cur.value.items()}
