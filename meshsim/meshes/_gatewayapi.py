"""Gateway API ``HTTPRoute``/``GRPCRoute`` attached to a Service (GAMMA), shared by Istio and Linkerd.

A route whose parent is a Service sets policy for calls to that Service: the
rule without matches (or matching every path) gives the weighted ``backendRefs``
(a split; backend Services named ``<parent>-<v>`` become version ``<v>``), the
``timeouts.request`` timeout, an experimental ``retry`` block and a
``RequestMirror`` filter. Rules with matches on headers, methods or query
parameters are not modelled and give a warning.
"""

from __future__ import annotations

from meshsim.meshes._builder import Builder
from meshsim.meshes._common import Ident, backend_version, not_applied, write_split
from meshsim.meshes._cursor import Cur

__all__ = ["import_gateway_route", "route_parents"]


def route_parents(b: Builder, root: Cur, ident: Ident) -> list[tuple[str, Cur]]:
    """The Services a route is attached to (warning about other parents)."""
    spec = root.get("spec")
    if spec is None:
        raise root.error(f"a {ident.kind} needs a spec")
    spec.map()
    parents = spec.get("parentRefs")
    out: list[tuple[str, Cur]] = []
    if parents is None:
        b.ignore(spec, f"{ident.kind} without parentRefs not modelled")
        return out
    for p in parents.list():
        p.map()
        kind = p.get("kind")
        group = p.get("group")
        name = p.get("name")
        if name is None:
            raise p.error("a parentRef needs a name")
        k = kind.as_str() if kind is not None else "Gateway"
        g = group.as_str() if group is not None else "gateway.networking.k8s.io"
        ns = p.get("namespace")
        namespace = ns.as_str() if ns is not None else ident.namespace
        if k == "Service" and g in ("", "core"):
            out.append((b.qualify(name.as_str(), namespace), name))
        elif k == "Server":
            b.ignore(p, f"route on Server {name.as_str()!r} (inbound authorization policy) not modelled")
        else:
            b.ignore(p, f"route on {k} {name.as_str()!r} (north-south gateway traffic) not modelled")
    return out


def catch_all_rule(rule: Cur, prefix_types: tuple[str, ...] = ("PathPrefix",)) -> bool:
    """Whether a Gateway-API-style rule (also Kuma's MeshHTTPRoute) matches every request.

    That is: no matches, an empty match, or only a path prefix of "/" (of one of ``prefix_types``).
    """
    matches = rule.get("matches")
    if matches is None or not matches.value:
        return True
    for m in matches.list():
        if not isinstance(m.value, dict):
            continue
        keys = set(m.value)
        if not keys:
            return True
        if keys == {"path"}:
            path = m.value["path"]
            if (
                isinstance(path, dict)
                and path.get("value", "/") == "/"
                and path.get("type", "PathPrefix") in prefix_types
            ):
                return True
    return False


def default_rule(b: Builder, spec: Cur) -> Cur | None:
    """The rule most requests take; warns about the others."""
    rules = spec.get("rules")
    if rules is None:
        return None
    items = rules.list()
    if not items:
        return None
    chosen = next((r for r in items if catch_all_rule(r.map())), None)
    for r in items:
        if r is chosen:
            continue
        if chosen is None and r is items[-1]:
            continue
        b.ignore(
            r.get("matches") or r,
            "route match on request attributes not modelled; default rule used"
            + not_applied(r, ("backendRefs", "timeouts", "retry", "filters")),
        )
    if chosen is None:
        chosen = items[-1]
        b.approx(
            chosen.get("matches") or chosen,
            "route match not modelled; no catch-all rule, so this last rule is used for all traffic",
        )
    return chosen


def import_gateway_route(b: Builder, root: Cur, ident: Ident) -> list[tuple[str, Cur]]:
    """Import one route; returns the parent services it applied to."""
    parents = route_parents(b, root, ident)
    spec = root.get("spec")
    assert spec is not None
    b.unmodelled(spec, {"parentRefs", "rules"}, {"hostnames", "useDefaultGateways"})
    rule = default_rule(b, spec)
    if rule is None:
        return parents
    b.unmodelled(rule, {"matches", "backendRefs", "timeouts", "filters", "retry"}, {"name"})
    for svc, where in parents:
        tgt = (svc, None)
        b.service(svc, where)
        refs = rule.get("backendRefs")
        if refs is not None:
            entries = []
            items = refs.list()
            for ref in items:
                ref.map()
                name = ref.get("name")
                if name is None:
                    raise ref.error("a backendRef needs a name")
                kind = ref.get("kind")
                if kind is not None and kind.as_str() != "Service":
                    b.ignore(kind, f"backendRef kind {kind.as_str()!r} not modelled")
                    continue
                w = ref.get("weight")
                weight = w.as_num() if w is not None else 1  # Gateway API default weight
                plain = b.plain(svc)
                entries.append((backend_version(plain, name.as_str()), weight, w or name))
            plain = b.plain(svc)
            if not (len(entries) == 1 and entries[0][0] == plain):  # all to itself: no split
                write_split(b, tgt, entries, refs)
        timeouts = rule.get("timeouts")
        if timeouts is not None:
            timeouts.map()
            b.unmodelled(timeouts, {"request", "backendRequest"})
            req, per = timeouts.get("request"), timeouts.get("backendRequest")
            if req is not None:
                b.block(tgt, "timeout", req).set(None, req.duration(), req)
            if per is not None:
                if req is None:
                    b.approx(per, "backendRequest timeout used as the request timeout (no retries configured here)")
                    b.block(tgt, "timeout", per).set(None, per.duration(), per)
                else:
                    b.ignore(per, "backendRequest timeout not modelled alongside a request timeout")
        retry = rule.get("retry")
        if retry is not None:
            retry.map()
            b.unmodelled(retry, {"attempts", "codes", "backoff"})
            blk = b.block(tgt, "retries", retry)
            att = retry.get("attempts")
            if att is not None:
                blk.set("attempts", att.as_int(), att)
            codes = retry.get("codes")
            if codes is not None:
                blk.set("retriable_status_codes", [c.as_int() for c in codes.list()], codes)
                blk.set("retry_on", ["retriable-status-codes"], codes)
            bo = retry.get("backoff")
            if bo is not None:
                blk.set("backoff.base", bo.duration(), bo)
        filters = rule.get("filters")
        if filters is not None:
            for f in filters.list():
                f.map()
                ftype = f.get("type")
                t = ftype.as_str() if ftype is not None else ""
                if t == "RequestMirror":
                    mirror = f.get("requestMirror")
                    mref = mirror.get("backendRef") if mirror is not None else None
                    name = mref.get("name") if mref is not None else None
                    if name is None:
                        raise f.error("RequestMirror needs requestMirror.backendRef.name")
                    blk = b.block(tgt, "mirror", f)
                    blk.set("to", backend_version(b.plain(svc), name.as_str()), name)
                    pct = mirror.get("percent") if mirror is not None else None
                    if pct is not None:
                        blk.set("percent", pct.as_num(), pct)
                    else:
                        blk.default("percent", 100, "Gateway API: no percent => every request mirrored")
                elif t in ("RequestRedirect", "ExtensionRef"):
                    b.ignore(f, f"filter {t} not modelled")
                elif t:
                    b.irrelevant(f, f"filter {t} has no effect on traffic in meshsim")
    return parents
