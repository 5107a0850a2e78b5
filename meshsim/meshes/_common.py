"""What every importer shares: object identity, Kubernetes workloads, retry names, splits.

:class:`MeshImporter` is the base of each mesh's importer. It identifies each object
(Kubernetes ``apiVersion/kind/metadata``, or the mesh's own form), refuses an object of
another mesh naming the format that reads it, sends the mesh's own kinds to the
subclass and Deployments/Services/Pods to :class:`Workloads` (service, replica and
version hints), and notes every other kind: known but not modelled, no effect on
traffic, or unknown (skipped with a note; never an abort).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from meshsim.errors import MeshsimInputError
from meshsim.meshes._builder import Builder
from meshsim.meshes._cursor import Cur, service_name
from meshsim.meshes._envoy import RETRY_ON
from meshsim.meshes._files import Document

if TYPE_CHECKING:
    from meshsim.meshes._preset import MeshUnit

__all__ = [
    "Ident",
    "MeshImporter",
    "WrongFormatError",
    "Workloads",
    "backend_version",
    "group_of",
    "import_traffic_split",
    "k8s_ident",
    "not_applied",
    "quantity",
    "retry_conditions",
    "write_split",
]

#: Kubernetes kinds that never carry traffic policy: noted as having no effect.
NON_TRAFFIC_KINDS = frozenset(
    {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "Job",
        "CronJob",
        "PodDisruptionBudget",
        "StorageClass",
        "LimitRange",
        "ResourceQuota",
        "PriorityClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "Certificate",
        "Issuer",
        "ClusterIssuer",
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
        "Endpoints",
        "EndpointSlice",
        "Kustomization",
        "APIService",
        "Lease",
        "Event",
        "IngressClass",
        "GatewayClass",
        "ReferenceGrant",
        "ReferencePolicy",
        "VerticalPodAutoscaler",
        "NetworkAttachmentDefinition",
    }
)

#: Kubernetes kinds that matter to traffic but are not imported: one note each.
K8S_UNMODELLED = {
    "Ingress": "edge ingress routing is not modelled",
    "NetworkPolicy": "network policies (which may drop traffic) are not modelled",
    "HorizontalPodAutoscaler": "autoscaling is not imported; set services.<name>.autoscaling",
    "Gateway": "gateway (north-south) listeners are not modelled",
    "TCPRoute": "TCP routes are not modelled (meshsim simulates HTTP)",
    "TLSRoute": "TLS routes are not modelled (meshsim simulates HTTP)",
    "UDPRoute": "UDP routes are not modelled (meshsim simulates HTTP)",
    "HTTPRoute": "Gateway API routes are read by formats 'istio' and 'linkerd' only",
    "GRPCRoute": "Gateway API routes are read by formats 'istio' and 'linkerd' only",
}

#: Keys of a kustomization file, which often has no ``kind``.
_KUSTOMIZE = frozenset({"resources", "bases", "patches", "patchesStrategicMerge", "components", "namePrefix"})

WORKLOAD_KINDS = frozenset(
    {
        "Deployment",
        "StatefulSet",
        "ReplicaSet",
        "DaemonSet",
        "ReplicationController",
        "Pod",
        "DeploymentConfig",
        "Rollout",
    }
)


class WrongFormatError(MeshsimInputError):
    """An object that belongs to another mesh's format (the message names it)."""


@dataclass
class Ident:
    """What an object is: its kind, name and label for messages."""

    kind: str
    name: str
    api_version: str = ""
    namespace: str | None = None
    ci: bool = False  # field names compared case- and underscore-insensitively (Consul)

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}" if self.name else self.kind

    @property
    def group(self) -> str:
        return group_of(self.api_version)


def group_of(api_version: str) -> str:
    """The API group of ``apiVersion`` (``networking.istio.io/v1`` -> ``networking.istio.io``; core: "")."""
    return api_version.split("/")[0] if "/" in api_version else ""


def k8s_ident(data: Any) -> Ident | None:
    """``apiVersion``/``kind``/``metadata.name`` of a Kubernetes object, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        return None
    raw = data.get("metadata")
    meta: dict[Any, Any] = raw if isinstance(raw, dict) else {}
    name = meta.get("name", "")
    ns = meta.get("namespace")
    return Ident(
        data["kind"],
        str(name) if name is not None else "",
        str(data.get("apiVersion", "")),
        str(ns) if ns is not None else None,
    )


def retry_conditions(
    b: Builder, items: list[tuple[str, Cur]], table: Mapping[str, str | None] | None = None
) -> tuple[list[str], list[int]]:
    """Map condition names (and bare status codes) to ``(retry_on, retriable_status_codes)``.

    Conditions meshsim does not model give one note each and are left out.
    """
    table = table or RETRY_ON
    conds: list[str] = []
    codes: list[int] = []
    for text, cur in items:
        part = text.strip()
        if not part:
            continue
        if part.isdigit():
            code = int(part)
            if not 100 <= code <= 599:
                raise cur.error(f"{code} is not an HTTP status code")
            codes.append(code)
            continue
        if part not in table:
            raise cur.error(f"unknown retry condition {part!r}")
        mapped = table[part]
        if mapped is None:
            b.ignore(cur, f"retry condition {part!r} not modelled; left out")
        elif mapped not in conds:
            conds.append(mapped)
    if codes and "retriable-status-codes" not in conds:
        conds.append("retriable-status-codes")
    return conds, codes


def not_applied(route: Cur, keys: tuple[str, ...]) -> str:
    """``"; its fault and retries are not applied"`` for the policy fields a skipped route carries."""
    present = [k for k in keys if route.get(k) is not None]
    if not present:
        return ""
    names = ", ".join(present[:-1]) + (" and " if len(present) > 1 else "") + present[-1]
    return f"; its {names} {'are' if len(present) > 1 else 'is'} not applied"


def backend_version(parent: str, backend: str) -> str:
    """Version name for a backend *service* of a split: ``orders-v2`` of ``orders`` -> ``v2``."""
    if backend.startswith(parent + "-") and len(backend) > len(parent) + 1:
        return backend[len(parent) + 1 :]
    return backend


def write_split(b: Builder, tgt: tuple[str, str | None], entries: list[tuple[str, float, Cur]], cur: Cur) -> None:
    """Write ``split`` from ``(version, weight, cur)`` entries (weights of one version add up)."""
    if not entries:
        return
    total = sum(w for _, w, _ in entries)
    if total <= 0:
        b.ignore(cur, "all split weights are 0; no split imported")
        return
    blk = b.block(tgt, "split", cur)
    sums: dict[str, float] = {}
    where: dict[str, Cur] = {}
    for ver, weight, wcur in entries:
        sums[ver] = sums.get(ver, 0) + weight
        where.setdefault(ver, wcur)
    for ver, weight in sums.items():
        blk.set(ver, weight if not float(weight).is_integer() else int(weight), where[ver])
        b.add_version(tgt[0], ver, where[ver])


@dataclass
class _Workload:
    name: str
    labels: dict[str, str]
    replicas: int
    cur: Cur
    replicas_cur: Cur
    namespace: str | None


@dataclass
class _Service:
    name: str
    selector: dict[str, str]
    cur: Cur
    namespace: str | None


@dataclass
class Workloads:
    """Kubernetes Deployments, Pods and Services, turned into ``services`` hints at the end."""

    b: Builder
    workloads: list[_Workload] = field(default_factory=list)
    services: list[_Service] = field(default_factory=list)

    def add(self, root: Cur, ident: Ident) -> None:
        if ident.kind == "Service":
            spec = root.get("spec")
            sel = spec.get("selector") if spec is not None and isinstance(spec.value, dict) else None
            selector = (
                {str(k): str(v) for k, v in sel.value.items()}
                if sel is not None and isinstance(sel.value, dict)
                else {}
            )
            self.services.append(_Service(ident.name, selector, root, ident.namespace))
            return
        spec = root.get("spec")
        if ident.kind == "Pod":
            pmeta = root.get("metadata")
            plabels = _labels(pmeta.get("labels") if pmeta is not None else None)
            self.workloads.append(_Workload(ident.name, plabels, 1, root, root, ident.namespace))
            return
        if spec is None or not isinstance(spec.value, dict):
            return
        rep = spec.get("replicas")
        replicas = rep.as_int() if rep is not None else 1  # Kubernetes default for a Deployment
        tmpl = spec.get("template")
        tmeta = tmpl.get("metadata") if tmpl is not None else None
        labels = _labels(tmeta.get("labels") if tmeta is not None else None)
        if not labels:
            meta = root.get("metadata")
            labels = _labels(meta.get("labels") if meta is not None else None)
        if ident.kind == "DaemonSet":
            self.b.approx(root, "DaemonSet replica count depends on the nodes; counted as 1")
        self.workloads.append(_Workload(ident.name, labels, replicas, root, rep or root, ident.namespace))

    def finish(self) -> None:
        for svc in self.services:
            self.b.service(self.b.qualify(svc.name, svc.namespace), svc.cur)
        for wl in self.workloads:
            matches = [
                s
                for s in self.services
                if s.selector
                and (s.namespace == wl.namespace or s.namespace is None or wl.namespace is None)
                and all(wl.labels.get(k) == v for k, v in s.selector.items())
            ]
            if matches:
                # The most specific selector names the service (reviews, not a catch-all).
                best = min(matches, key=lambda s: (-len(s.selector), s.name))
                name = self.b.qualify(best.name, best.namespace or wl.namespace)
            else:
                plain = wl.labels.get("app") or wl.labels.get("app.kubernetes.io/name") or wl.name
                name = self.b.qualify(plain, wl.namespace)
            self.b.add_replicas(name, wl.replicas, wl.replicas_cur, wl.name)
            version = wl.labels.get("version") or wl.labels.get("app.kubernetes.io/version")
            if version:
                self.b.add_version(name, str(version), wl.cur)


def _labels(cur: Cur | None) -> dict[str, str]:
    if cur is None or not isinstance(cur.value, dict):
        return {}
    return {str(k): str(v) for k, v in cur.value.items()}


class MeshImporter:
    """Base of each mesh's importer; subclasses fill ``HANDLERS`` and the kind tables."""

    FORMAT = "kubernetes"
    #: kind -> method name, for this mesh's traffic objects.
    HANDLERS: ClassVar[dict[str, str]] = {}
    #: this mesh's kinds that matter to traffic but are not modelled -> reason.
    UNMODELLED: ClassVar[dict[str, str]] = {}
    #: this mesh's kinds that do not matter to traffic in meshsim: noted as having no effect.
    IGNORED: ClassVar[frozenset[str]] = frozenset()
    #: API groups of this mesh's own objects (``istio.io`` covers ``networking.istio.io``).
    GROUPS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, builder: Builder, units: Mapping[str, MeshUnit] | None = None) -> None:
        self.b = builder
        self.k8s = Workloads(builder)
        self.units: Mapping[str, MeshUnit] = units or {}
        self.own = 0  # objects of this mesh read so far
        self.foreign: list[WrongFormatError] = []  # objects of another mesh met so far

    # -- what a document is ---------------------------------------------------------------
    @classmethod
    def owns(cls, data: Any) -> bool:
        """Whether a document with no Kubernetes ``kind`` is this mesh's own (Consul HCL, App Mesh JSON...)."""
        return False

    @classmethod
    def owns_group(cls, group: str) -> bool:
        return any(group == g or group.endswith("." + g) for g in cls.GROUPS)

    def identify(self, doc: Document) -> Ident | None:
        """Who this document is (override for formats without ``kind``)."""
        return k8s_ident(doc.data)

    def root(self, doc: Document, ident: Ident) -> Cur:
        return Cur(doc, doc.data, "", doc.line, ident.label, ident.ci)

    def on_service(self, root: Cur, ident: Ident) -> None:
        """Hook for Service annotations (Linkerd, Traefik Mesh)."""

    def owner(self, ident: Ident | None, data: Any) -> str | None:
        """The other format whose object this is (None: ours, Kubernetes' or nobody's)."""
        group = ident.group if ident is not None else ""
        for name, unit in self.units.items():
            if name == self.FORMAT:
                continue
            if group and unit.importer.owns_group(group):
                return name
            if ident is None and unit.importer.owns(data):
                return name
        return None

    # -- dispatch -----------------------------------------------------------------------------
    def handle(self, doc: Document) -> None:
        """Import one document (another mesh's object is skipped and remembered in :attr:`foreign`)."""
        data = doc.data
        if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
            items = Cur(doc, data, "", doc.line, "List").get("items")
            assert items is not None
            for item in items.list():
                self.handle(Document(doc.file, item.line, item.value, doc.explicit, index=doc.index))
            return
        ident = self.identify(doc)
        if ident is not None and ident.group and not self.owns_group(ident.group):
            owner = self.owner(ident, data)
            if owner is not None:
                top = Cur(doc, data, "", doc.line, ident.label)
                self._wrong_format(top.get("kind") or top, ident.kind, owner)
                return
        if ident is None:
            self._not_an_object(doc)
            return
        root = self.root(doc, ident)
        method = self.HANDLERS.get(ident.kind)
        if method is not None:
            self.own += 1
            getattr(self, method)(root, ident)
            return
        if ident.kind in WORKLOAD_KINDS or ident.kind == "Service":
            if ident.kind == "Service":
                self.on_service(root, ident)
            self.k8s.add(root, ident)
            return
        if ident.kind in NON_TRAFFIC_KINDS or ident.kind in self.IGNORED:
            self.b.irrelevant(root, f"kind {ident.kind} has no effect on traffic in meshsim; skipped")
            return
        reason = self.UNMODELLED.get(ident.kind) or K8S_UNMODELLED.get(ident.kind)
        if reason is not None:
            self.b.ignore(root, f"{ident.kind} not modelled: {reason}")
            return
        self._unknown(root, ident)

    def _wrong_format(self, root: Cur, kind: str, owner: str) -> None:
        """Skip another mesh's object with a note; a file of nothing but such objects is refused by the caller."""
        message = f"{kind} is a {owner} object, not {self.FORMAT}: import it with `meshsim import {owner}`"
        if self.FORMAT == "kubernetes":
            self.b.irrelevant(root, message + "; skipped")
            return
        self.b.ignore(root, message + "; skipped")
        self.foreign.append(
            WrongFormatError(f"{root.obj}: {message}", file=root.file, line=root.line, field=root.path or None)
        )

    def _unknown(self, root: Cur, ident: Ident) -> None:
        """A kind nobody here reads: skipped with a note, in a named file as in a folder."""
        owner = self.owner(None, root.doc.data) if not ident.group else None
        if owner is not None:  # a bare Consul entry (kind = "service-router"), a Kuma Universal policy...
            self._wrong_format(root.get("kind", "type", "Kind") or root, ident.kind, owner)
            return
        where = f" ({ident.api_version})" if ident.api_version else ""
        self.b.ignore(root, f"kind {ident.kind}{where} is not one meshsim imports for {self.FORMAT}; skipped")

    def _not_an_object(self, doc: Document) -> None:
        cur = Cur(doc, doc.data, "", doc.line, "document")
        if doc.data is None:
            return  # an empty document (a trailing ---)
        owner = self.owner(None, doc.data)
        if owner is not None:
            self._wrong_format(cur, "this document", owner)
            return
        if isinstance(doc.data, dict) and _KUSTOMIZE & set(doc.data):
            self.b.irrelevant(cur, "a kustomize file lists other files: import their folder; skipped")
            return
        if doc.explicit:
            raise cur.error(f"not a {self.FORMAT} configuration object (no kind); is this a fragment?")
        self.b.ignore(cur, "not a configuration object (no kind); skipped")

    def finish(self) -> None:
        """Resolve cross-object references; subclasses call ``super().finish()`` last."""
        self.k8s.finish()

    # -- one document at a time ------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """This importer's own collections, copied, to :meth:`rollback` to after a malformed document."""
        return {
            k: (v.copy() if isinstance(v, (dict, list, set)) else v)
            for k, v in vars(self).items()
            if k not in ("b", "units")
        } | {"k8s": Workloads(self.k8s.b, list(self.k8s.workloads), list(self.k8s.services))}

    def rollback(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)

    # -- helpers shared by the subclasses ------------------------------------------------
    def each(self, cur: Cur | None, fn: Callable[[Cur], None]) -> None:
        if cur is not None and cur.value is not None:
            for item in cur.list():
                fn(item)

    def host(self, cur: Cur) -> str:
        return service_name(cur.as_str())


_QUANTITY = {"m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}


def quantity(cur: Cur) -> float | int:
    """A Kubernetes quantity (``500m``, ``1``, ``2k``) as a number (SMI v1alpha1 weights)."""
    v = cur.value
    if isinstance(v, str):
        s = v.strip()
        suffix = s[-1] if s and s[-1] in "mkMG" else ""
        try:
            number = float(s[: len(s) - len(suffix)])
        except ValueError:
            raise cur.error(f"expected a number or quantity such as 500m, got {v!r}") from None
        value = number * _QUANTITY[suffix]
        return int(value) if float(value).is_integer() else value
    return cur.as_num()


def import_traffic_split(b: Builder, root: Cur, ident: Ident) -> None:
    """SMI ``TrafficSplit``: ``spec.service`` split over ``spec.backends`` by weight."""
    spec = root.get("spec")
    if spec is None:
        raise root.error("a TrafficSplit needs a spec")
    spec.map()
    b.unmodelled(spec, {"service", "backends"}, set())
    svc_cur = spec.get("service")
    if svc_cur is None:
        raise spec.error("a TrafficSplit needs spec.service")
    svc = service_name(svc_cur.as_str())
    b.service(svc, svc_cur)
    backends = spec.get("backends")
    if backends is None:
        raise spec.error("a TrafficSplit needs spec.backends")
    entries = []
    for be in backends.list():
        be.map()
        name = be.get("service")
        weight = be.get("weight")
        if name is None or weight is None:
            raise be.error("each backend needs service and weight")
        entries.append((backend_version(svc, service_name(name.as_str())), quantity(weight), weight))
    write_split(b, (svc, None), entries, backends)
