"""Traefik Mesh: Service annotations and SMI TrafficSplit -> scenario policies.

Annotations (prefix ``mesh.traefik.io/``, reference section 6 [T1][T2]):
- ``retry-attempts: "3"`` counts *all* tries, so it becomes ``attempts: 2``;
  retries have no back-off and happen on connection errors only [T4];
- ``circuit-breaker-expression`` -> ``circuit_breaker`` (oxy defaults [T5]);
- ``ratelimit-average`` + ``ratelimit-burst`` -> ``rate_limit``, only when both
  are present and above zero, as Traefik Mesh requires [T2];
- ``traffic-type: tcp|udp`` turns the HTTP middlewares off for that service.
TrafficTarget and HTTPRouteGroup matter only in ACL mode and give a warning.
"""

from __future__ import annotations

from typing import ClassVar

from meshsim.meshes._base import Cur
from meshsim.meshes._block_defaults import fill
from meshsim.meshes._common import Ident, MeshImporter, import_traffic_split

__all__ = ["TraefikImporter"]

_PREFIX = "mesh.traefik.io/"
_KNOWN = {
    "traffic-type",
    "scheme",
    "retry-attempts",
    "circuit-breaker-expression",
    "ratelimit-average",
    "ratelimit-burst",
}


class TraefikImporter(MeshImporter):
    """Traefik Mesh annotations and SMI objects."""

    FORMAT = "traefik"
    HANDLERS: ClassVar[dict[str, str]] = {"TrafficSplit": "traffic_split"}
    UNMODELLED: ClassVar[dict[str, str]] = {
        "TrafficTarget": "SMI access control (ACL mode denies what is not allowed) is not modelled",
        "HTTPRouteGroup": "SMI route groups (used by ACL mode) are not modelled",
        "TCPRoute": "SMI TCP routes are not modelled",
    }

    def traffic_split(self, root: Cur, ident: Ident) -> None:
        import_traffic_split(self.b, root, ident)

    def on_service(self, root: Cur, ident: Ident) -> None:
        meta = root.get("metadata")
        ann = meta.get("annotations") if meta is not None else None
        if ann is None or not isinstance(ann.value, dict):
            return
        found = {str(k)[len(_PREFIX) :]: c for k, c in ann.items() if str(k).startswith(_PREFIX)}
        if not found:
            return
        svc = ident.name
        tgt = (svc, None)
        for key, cur in found.items():
            if key not in _KNOWN:
                self.b.warn(cur, f"annotation {_PREFIX}{key} not modelled")
        ttype = found.get("traffic-type")
        if ttype is not None:
            kind = ttype.as_str().lower()
            if kind not in ("http", "tcp", "udp"):
                raise ttype.error(f"traffic-type must be http, tcp or udp, got {ttype.as_str()!r}")
            if kind != "http":
                self.b.warn(
                    ttype,
                    f"{kind} service: meshsim simulates HTTP; Traefik applies no retries, breaker or rate limit to it",
                )
                for key in ("retry-attempts", "circuit-breaker-expression", "ratelimit-average", "ratelimit-burst"):
                    if key in found:
                        self.b.warn(found[key], f"ignored for a {kind} service")
                return
        attempts = found.get("retry-attempts")
        if attempts is not None:
            n = attempts.as_int(minimum=1)
            blk = self.b.block(tgt, "retries", attempts)
            # Traefik counts every try; the scenario counts retries after the first [T4].
            blk.set(
                "attempts", n - 1, attempts.noted("Traefik attempts count every try: retries = attempts - 1, §6 [T4]")
            )
            fill(blk, "traefik")
        expr = found.get("circuit-breaker-expression")
        if expr is not None:
            text = expr.as_str().strip()
            if not text:
                raise expr.error("the circuit-breaker expression is empty")
            blk = self.b.block(tgt, "circuit_breaker", expr)
            blk.set("expression", text, expr)
            fill(blk, "traefik")
        avg, burst = found.get("ratelimit-average"), found.get("ratelimit-burst")
        rate_src = avg or burst
        if rate_src is not None:
            a = avg.as_int() if avg is not None else 0
            bu = burst.as_int() if burst is not None else 0
            if avg is not None and burst is not None and a > 0 and bu > 0:
                blk = self.b.block(tgt, "rate_limit", avg)
                blk.set("rate", f"{a}/s", avg)
                blk.set("burst", bu, burst)
            else:
                self.b.warn(
                    rate_src,
                    "rate limit ignored: Traefik Mesh needs both ratelimit-average "
                    "and ratelimit-burst above 0 (§6 [T2])",
                )
