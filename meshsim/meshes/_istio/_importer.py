"""Istio's importer: VirtualService and DestinationRule (and Gateway API routes) -> scenario policies.

Semantics follow docs/references.md section 1:
- the route a request takes is the first ``http[]`` entry without a match (or
  matching everything); header/uri matches are not modelled and give a warning;
- a route with ``fault`` gets no timeout and no retries from Istio [S1];
- ``retries`` without ``attempts`` (or 0) disables retries; without ``retryOn``
  the default conditions stay [S3];
- DestinationRule subset policies replace the parent's blocks whole [S6]; the
  importer writes them as ``versions.<subset>`` blocks, which the scenario
  format gives the same meaning;
- a host is a service in a namespace (``reviews.prod.svc.cluster.local``, or a short
  name in the object's namespace): the same name in two namespaces stays two services.
"""

from __future__ import annotations

from typing import ClassVar

from meshsim.meshes._common import Ident, not_applied, retry_conditions, write_split
from meshsim.meshes._cursor import Cur
from meshsim.meshes._gatewayapi import import_gateway_route
from meshsim.meshes._istio._defaults import BLOCKS
from meshsim.meshes._istio._destination_rule import IstioDestinationRules
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


class IstioImporter(IstioDestinationRules):
    """Istio networking objects."""

    FORMAT = "istio"
    GROUPS: ClassVar[tuple[str, ...]] = ("istio.io",)
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
        "QuotaSpec": "Mixer quotas (removed in Istio 1.8) are not modelled",
        "QuotaSpecBinding": "Mixer quotas (removed in Istio 1.8) are not modelled",
        "RbacConfig": "Mixer-era authorization is not modelled",
        "ServiceRole": "Mixer-era authorization is not modelled",
        "ServiceRoleBinding": "Mixer-era authorization is not modelled",
        "Policy": "Mixer-era authentication policy is not modelled",
        "handler": "Mixer adapters are not modelled",
        "instance": "Mixer adapters are not modelled",
        "rule": "Mixer adapters are not modelled",
        "attributemanifest": "Mixer adapters are not modelled",
    }
    IGNORED: ClassVar[frozenset[str]] = frozenset(
        {"PeerAuthentication", "RequestAuthentication", "Telemetry", "ProxyConfig", "MeshPolicy", "IstioOperator"}
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
            self.b.ignore(spec, "VirtualService without hosts (a delegate) is not modelled")
            return
        gateways = spec.get("gateways")
        if gateways is not None and "mesh" not in [g.as_str() for g in gateways.list()]:
            self.b.approx(
                gateways,
                "bound to gateways only: meshsim has no gateway, so it is applied to the calls into "
                "the service it routes to (from the workload's entry and from other services)",
            )
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
                self.b.ignore(
                    r.get("match") or r,
                    f"route match on {_match_kinds(r)} not modelled; "
                    f"default route {chosen.path} used" + not_applied(r, _ROUTE_FIELDS),
                )
        if chosen is None:
            chosen = routes[-1]
            for r in routes[:-1]:
                self.b.ignore(
                    r.get("match") or r,
                    f"route match on {_match_kinds(r)} not modelled; "
                    f"no catch-all route, so {chosen.path} is used for all traffic" + not_applied(r, _ROUTE_FIELDS),
                )
            self.b.approx(
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
                dest_hosts.add(self._svc(host, ident.namespace))
        names = []
        for h in hosts.list():
            if "*" in h.as_str():
                self.b.ignore(h, f"wildcard host {h.as_str()!r} not modelled")
            else:
                names.append((self._svc(h, ident.namespace), h))
        # A host that is also a destination is the service this policy is for; the
        # other hosts are aliases that route to it, which meshsim does not model.
        own = [(n, h) for n, h in names if n in dest_hosts]
        if own:
            for n, h in names:
                if n not in dest_hosts:
                    self.b.ignore(h, f"calls addressed to {h.as_str()!r} route to other services; not modelled")
            names = own
        for name, _ in names:
            self._route(name, chosen, ident.namespace)

    def _route(self, svc: str, r: Cur, namespace: str | None) -> None:
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
            self._split(svc, dests, namespace)
        fault = r.get("fault")
        if fault is not None:
            self._fault(tgt, fault)
            # "timeouts or retries will not be enabled when faults are enabled" [S1]
            for key in ("timeout", "retries"):
                part = r.get(key)
                if part is not None:
                    self.b.irrelevant(part, "no effect: Istio applies no timeout or retries on a route with a fault")
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
        self._mirror(svc, r, namespace)

    def _split(self, svc: str, dests: Cur, namespace: str | None) -> None:
        entries: list[tuple[str, float, Cur]] = []
        items = dests.list()
        for d in items:
            dest = d.map().get("destination")
            if dest is None:
                raise d.error("a route needs a destination")
            host = dest.get("host")
            if host is None:
                raise dest.error("a destination needs a host")
            target = self._svc(host, namespace)
            w = d.get("weight")
            weight = w.as_num() if w is not None else (100 if len(items) == 1 else 0)
            if target != svc:
                if weight:
                    self.b.ignore(
                        host,
                        f"route to another service {host.as_str()!r} not modelled "
                        f"(meshsim routes calls to a service to that service)",
                    )
                continue
            subset = dest.get("subset")
            if subset is None:
                if len(items) > 1:
                    self.b.approx(dest, "destination without subset in a weighted route; counted as version 'default'")
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
            self.b.ignore(remote, "retrying in other localities not modelled")
        bo = rc.get("backoff")
        if bo is not None:
            base = bo.seconds()
            blk.set("backoff.base", format_duration(base), bo)
            blk.set("backoff.max", format_duration(10 * base), bo.noted("Envoy: max back-off = 10 x base, §0 [E1]"))
        blk.fill(BLOCKS["retries"])

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
                values, note = BLOCKS[f"fault.{kind}"]
                blk.default(f"{kind}.percent", values["percent"], note)

    def _mirror(self, svc: str, r: Cur, namespace: str | None) -> None:
        mirrors = r.get("mirrors")
        if mirrors is not None:
            items = mirrors.list()
            if len(items) > 1:
                self.b.ignore(mirrors, "only the first of several mirrors is modelled; the others are not")
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
        target = self._svc(host, namespace)
        subset = dest.get("subset")
        if target != svc or subset is None:
            self.b.ignore(
                dest,
                f"mirroring to {'service ' + repr(host.as_str()) if target != svc else 'the whole service'} "
                "not modelled (meshsim mirrors to a version of the same service)",
            )
            return
        blk = self.b.block((svc, None), "mirror", dest)
        blk.set("to", subset.as_str(), subset)
        if pct is not None:
            value = pct.get("value") if isinstance(pct.value, dict) else pct
            if value is not None:
                blk.set("percent", value.as_num(), value)
        blk.fill(BLOCKS["mirror"])

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
