"""Traefik Mesh v1.4: Service annotations and SMI TrafficSplit -> scenario policies.

Annotations (prefix ``mesh.traefik.io/``, or the legacy ``maesh.containo.us/`` that
Traefik Mesh still reads when the new one is absent; reference section 6 [T1][T2]):

- ``retry-attempts: "3"`` counts *all* tries, so it becomes ``attempts: 2``; retries
  have no back-off and happen on connection errors only [T4];
- ``circuit-breaker-expression`` -> ``circuit_breaker`` (defaults [T5]);
- ``ratelimit-average`` + ``ratelimit-burst`` -> ``rate_limit``, only when both are
  present and above zero, as Traefik Mesh requires [T2];
- ``traffic-type: tcp|udp`` turns the HTTP middlewares off for that service.

TrafficTarget and HTTPRouteGroup matter only in ACL mode and are noted.
"""

from __future__ import annotations

from typing import ClassVar

from meshsim.meshes._common import Ident, MeshImporter, import_traffic_split
from meshsim.meshes._cursor import Cur
from meshsim.meshes._traefik._defaults import BLOCKS

__all__ = ["PREFIXES", "TraefikMesh"]

#: Annotation prefixes, in the order Traefik Mesh reads them (annotations.go getAnnotation).
PREFIXES = ("mesh.traefik.io/", "maesh.containo.us/")
_KNOWN = {
    "traffic-type",
    "scheme",
    "retry-attempts",
    "circuit-breaker-expression",
    "ratelimit-average",
    "ratelimit-burst",
}


class TraefikMesh(MeshImporter):
    """Traefik Mesh annotations and SMI objects."""

    UNMODELLED: ClassVar[dict[str, str]] = {
        "TrafficTarget": "SMI access control (ACL mode denies what is not allowed) is not modelled",
        "HTTPRouteGroup": "SMI route groups (used by ACL mode) are not modelled",
        "TCPRoute": "SMI TCP routes are not modelled",
        "IngressRouteTCP": "TCP routes are not modelled (meshsim simulates HTTP)",
        "IngressRouteUDP": "UDP routes are not modelled (meshsim simulates HTTP)",
        "MiddlewareTCP": "TCP middlewares are not modelled (meshsim simulates HTTP)",
        "ServersTransport": "transport settings (per-service dial and response timeouts) are not imported",
    }
    IGNORED: ClassVar[frozenset[str]] = frozenset({"TLSOption", "TLSStore", "ServersTransportTCP"})

    #: True once a Traefik Mesh object (annotation or SMI split) was read: the import implies ``traefik-mesh``.
    saw_mesh = False

    def traffic_split(self, root: Cur, ident: Ident) -> None:
        self.saw_mesh = True
        import_traffic_split(self.b, root, ident)

    def on_service(self, root: Cur, ident: Ident) -> None:
        meta = root.get("metadata")
        ann = meta.get("annotations") if meta is not None else None
        if ann is None or not isinstance(ann.value, dict):
            return
        found: dict[str, Cur] = {}
        for prefix in reversed(PREFIXES):  # the new prefix wins over the legacy one
            for key, cur in ann.items():
                if str(key).startswith(prefix):
                    short = str(key)[len(prefix) :]
                    if short in found and prefix == PREFIXES[0]:
                        self.b.irrelevant(found[short], f"legacy annotation overridden by {PREFIXES[0]}{short}")
                    found[short] = cur
        if not found:
            return
        self.saw_mesh = True
        tgt = (self.b.qualify(ident.name, ident.namespace), None)
        for key, cur in found.items():
            if key not in _KNOWN:
                self.b.ignore(cur, f"annotation {key} not modelled")
        ttype = found.get("traffic-type")
        if ttype is not None:
            kind = ttype.as_str().lower()
            if kind not in ("http", "tcp", "udp"):
                raise ttype.error(f"traffic-type must be http, tcp or udp, got {ttype.as_str()!r}")
            if kind != "http":
                self.b.ignore(
                    ttype,
                    f"{kind} service: meshsim simulates HTTP; Traefik applies no retries, breaker or rate limit to it",
                )
                for key in ("retry-attempts", "circuit-breaker-expression", "ratelimit-average", "ratelimit-burst"):
                    if key in found:
                        self.b.irrelevant(found[key], f"no effect on a {kind} service")
                return
        scheme = found.get("scheme")
        if scheme is not None:
            self.b.irrelevant(scheme, "the scheme (http, https, h2c) has no effect on traffic in meshsim")
        attempts = found.get("retry-attempts")
        if attempts is not None:
            n = attempts.as_int(minimum=1)
            blk = self.b.block(tgt, "retries", attempts)
            # Traefik counts every try; the scenario counts retries after the first [T4].
            blk.set(
                "attempts", n - 1, attempts.noted("Traefik attempts count every try: retries = attempts - 1, §6 [T4]")
            )
            blk.fill(BLOCKS["retries"])
        expr = found.get("circuit-breaker-expression")
        if expr is not None:
            text = expr.as_str().strip()
            if not text:
                raise expr.error("the circuit-breaker expression is empty")
            blk = self.b.block(tgt, "circuit_breaker", expr)
            blk.set("expression", text, expr)
            blk.fill(BLOCKS["circuit_breaker"])
        self._annotation_rate_limit(tgt, found.get("ratelimit-average"), found.get("ratelimit-burst"))

    def _annotation_rate_limit(self, tgt: tuple[str, str | None], avg: Cur | None, burst: Cur | None) -> None:
        rate_src = avg or burst
        if rate_src is None:
            return
        a = avg.as_int() if avg is not None else 0
        bu = burst.as_int() if burst is not None else 0
        if avg is not None and burst is not None and a > 0 and bu > 0:
            blk = self.b.block(tgt, "rate_limit", avg)
            blk.set("rate", f"{a}/s", avg)
            blk.set("burst", bu, burst)
        else:
            self.b.irrelevant(
                rate_src,
                "no effect: Traefik Mesh adds a rate limit only when ratelimit-average and ratelimit-burst "
                "are both above 0 (§6 [T2])",
            )
