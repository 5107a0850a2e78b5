"""From spans to requests, calls and the service call graph (networkx).

Vocabulary (times in seconds):

- An **entry span** is a span whose parent is missing or belongs to another
  service: one request handled by that service. The spans below it in the same
  service (internal work, outgoing client spans) belong to that request.
- A **call** is a request's call to another service: a span of another service
  whose parent is in this request, or a client span naming a ``peer.service``
  that is not traced itself (a database, a cache). Its interval is the caller's
  client span when there is one (it covers network and proxies, on the caller's
  clock, so clock skew between hosts does not matter) and the callee's entry
  span otherwise.
- **Self time** of a request is its entry span's duration minus the length of
  the *union* of its call intervals, so parallel calls are not subtracted twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import networkx as nx
import numpy as np
import pandas as pd

from meshsim.calibrate._traces import coerce_spans

__all__ = ["SpanAnalysis", "analyse_spans", "call_steps", "interval_union"]

_CALLER_KINDS = ("client", "producer")
#: Two calls of one request run in parallel when they overlap by at least this
#: share of the shorter one (sequential calls touch at most by clock jitter).
PARALLEL_OVERLAP = 0.5
#: Requests per caller service examined for the order/parallel structure.
MAX_STRUCTURE_REQUESTS = 2000
_ALWAYS = 0.995  # a probability above this is written as a plain call


@dataclass
class SpanAnalysis:
    """Requests, calls and the call graph found in a span table.

    Attributes:
        entries: one row per request a service handled (``req`` key, ``service``,
            ``start_s``, ``duration_s``, ``self_s``, ``error``, ``own_error``, ``is_root``,
            ``orphan`` (parent not in the input), ``partial`` (client spans of a lost
            request, grouped; not fit for service times), ``observed_by`` = ``span``
            or ``client`` for untraced peers, ...).
        calls: one row per call (``req`` of the caller, ``caller``, ``callee``,
            ``start_s``, ``end_s``, ``offset_s`` from the caller's start, ``error``, ``via``).
        graph: services as nodes (``requests``, ``roots``), calls as edges with
            ``calls``, ``requests_with_call``, ``per_request``, ``probability``,
            ``count_when_called``, ``parallel_with``, ``self_parallel``, ``optional``,
            ``median_offset_s``, ``errors``.
        warnings: sentences with counts about data that was used with care.
    """

    entries: pd.DataFrame
    calls: pd.DataFrame
    graph: nx.DiGraph
    warnings: list[str] = field(default_factory=list)


def interval_union(group: pd.Series, start: pd.Series, end: pd.Series) -> pd.Series:
    """Length of the union of intervals ``[start, end]`` per value of ``group`` (seconds)."""
    if len(group) == 0:
        return pd.Series(dtype=float)
    d = pd.DataFrame({"g": group.to_numpy(), "s": start.to_numpy(), "e": end.to_numpy()})
    d = d.sort_values(["g", "s"], kind="mergesort").reset_index(drop=True)
    reach = d.groupby("g")["e"].cummax()
    prev_reach = reach.groupby(d["g"]).shift()
    new_block = prev_reach.isna() | (d["s"] > prev_reach)
    d["block"] = new_block.cumsum()
    blocks = d.groupby(["g", "block"]).agg(s=("s", "min"), e=("e", "max"))
    return (blocks["e"] - blocks["s"]).groupby(level="g").sum()


def _entry_positions(is_entry: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, int]:
    """Walk each span up through its own service to its entry span; count broken chains."""
    n = len(is_entry)
    pos = np.where(is_entry, np.arange(n), parent)
    for _ in range(256):  # deeper local nesting than this is not seen in practice
        todo = ~is_entry[pos]
        if not todo.any():
            return pos, 0
        pos[todo] = parent[pos[todo]]
    # A parent cycle inside one service: make those spans their own entries.
    stuck = ~is_entry[pos]
    pos[stuck] = np.arange(n)[stuck]
    is_entry[stuck] = True
    return pos, int(stuck.sum())


def analyse_spans(spans: pd.DataFrame) -> SpanAnalysis:
    """Find requests, calls, self times and the call graph in a normalised span table."""
    df = coerce_spans(spans).drop_duplicates(["trace_id", "span_id"]).reset_index(drop=True)
    warnings: list[str] = []
    n = len(df)
    keys = pd.Index(df["trace_id"] + "/" + df["span_id"])
    parent = keys.get_indexer(pd.Index(df["trace_id"] + "/" + df["parent_id"].fillna("\x00")))
    parent[parent == np.arange(n)] = -1  # a span that names itself as parent is a root
    has_parent = parent >= 0
    svc = df["service"].to_numpy(dtype=object)
    kind = df["kind"].to_numpy(dtype=object)
    start = df["start_s"].to_numpy(float)
    dur = df["duration_s"].to_numpy(float)
    end = start + dur
    err = df["error"].to_numpy(bool)
    parent_svc = np.where(has_parent, svc[np.where(has_parent, parent, 0)], np.array(None, dtype=object))
    is_entry = ~has_parent | (parent_svc != svc)
    entry_pos, broken = _entry_positions(is_entry.copy(), np.where(has_parent, parent, np.arange(n)))
    if broken:
        warnings.append(f"{broken:,} span(s) sit in a parent cycle; each was used as its own request")
    is_entry = entry_pos == np.arange(n)
    # Client spans whose parent is missing are fragments of one lost request:
    # those of one trace, service and missing parent become one partial request.
    fragment = is_entry & df["parent_id"].notna().to_numpy() & ~has_parent & np.isin(kind, _CALLER_KINDS)
    rep = np.arange(n)
    if fragment.any():
        frag_pos = np.flatnonzero(fragment)
        group = df.iloc[frag_pos][["trace_id", "parent_id", "service"]].astype(str).agg("/".join, axis=1)
        first = pd.Series(frag_pos, index=group.to_numpy()).groupby(level=0).transform("min").to_numpy()
        rep[frag_pos] = first
        entry_pos = rep[entry_pos]
        is_entry = entry_pos == np.arange(n)

    # --- calls to traced services
    child = np.flatnonzero(has_parent & (parent_svc != svc))
    par = parent[child]
    via_client = np.isin(kind[par], _CALLER_KINDS) & (~is_entry[par] | fragment[par])
    cid = np.where(via_client, par, child)
    calls = pd.DataFrame(
        {
            "cid": cid,
            "req": entry_pos[par],
            "caller": svc[par],
            "callee": svc[child],
            "callee_req": child,
            "start_s": np.where(via_client, start[par], start[child]),
            "end_s": np.where(via_client, end[par], end[child]),
            "error": err[child] | (via_client & err[par]),
            "via": np.where(via_client, "client", "server"),
            "hop_overhead_s": np.where(via_client, dur[par] - dur[child], np.nan),
        }
    ).drop_duplicates(["cid", "callee"])

    # --- calls to peers that are not traced themselves (client spans with peer.service)
    peer = df["peer_service"].to_numpy(dtype=object)
    with_children = np.zeros(n, bool)
    with_children[par] = True
    is_peer_call = np.isin(kind, _CALLER_KINDS) & pd.notna(peer) & (peer != svc) & ~with_children & ~is_entry
    peer_rows = np.flatnonzero(is_peer_call)
    traced = set(svc[is_entry])
    virtual = np.array([p not in traced for p in peer[peer_rows]], dtype=bool)
    v_keys = n + np.arange(len(peer_rows))
    peer_calls = pd.DataFrame(
        {
            "cid": peer_rows,
            "req": entry_pos[peer_rows],
            "caller": svc[peer_rows],
            "callee": peer[peer_rows],
            "callee_req": np.where(virtual, v_keys, -1),
            "start_s": start[peer_rows],
            "end_s": end[peer_rows],
            "error": err[peer_rows],
            "via": "peer",
            "hop_overhead_s": np.nan,
        }
    )
    calls = pd.concat([calls, peer_calls], ignore_index=True) if len(peer_calls) else calls

    # --- requests: entry spans, plus peer calls seen only from the client side
    ent = df.loc[is_entry].copy()
    ent.insert(0, "req", np.flatnonzero(is_entry))
    ent["is_root"] = df.loc[is_entry, "parent_id"].isna().to_numpy()
    ent["orphan"] = ~ent["is_root"] & ~has_parent[is_entry]
    ent["partial"] = fragment[is_entry]
    ent["observed_by"] = "span"
    if fragment.any():
        # A partial request spans its fragments; its duration is a lower bound only.
        span_of = pd.DataFrame({"rep": rep[fragment], "s": start[fragment], "e": end[fragment]}).groupby("rep")
        bounds = span_of.agg(s=("s", "min"), e=("e", "max"))
        at = ent["req"].isin(bounds.index).to_numpy()
        ent.loc[at, "start_s"] = bounds.loc[ent.loc[at, "req"], "s"].to_numpy()
        ent.loc[at, "duration_s"] = (
            bounds.loc[ent.loc[at, "req"], "e"] - bounds.loc[ent.loc[at, "req"], "s"]
        ).to_numpy()
        warnings.append(
            f"{int(fragment.sum()):,} client span(s) lost their parent; grouped into {int(at.sum()):,} partial "
            "request(s), used for the call graph but not for service times or error rates"
        )
    if virtual.any():
        rows = df.iloc[peer_rows[virtual]].copy()
        rows.insert(0, "req", v_keys[virtual])
        rows["service"] = peer[peer_rows[virtual]]
        rows["kind"] = "server"
        rows["version"] = rows["instance"] = rows["location"] = rows["peer_service"] = np.nan
        rows["is_root"] = False
        rows["orphan"] = False
        rows["partial"] = False
        rows["observed_by"] = "client"
        ent = pd.concat([ent, rows], ignore_index=True)
    ent = ent.set_index("req", drop=False).sort_index()
    ent.index.name = None
    ent["end_s"] = ent["start_s"] + ent["duration_s"]
    calls = calls[calls["req"].isin(ent.index)].reset_index(drop=True)
    calls["offset_s"] = calls["start_s"].to_numpy() - ent.loc[calls["req"], "start_s"].to_numpy()

    union = interval_union(calls["req"], calls["start_s"], calls["end_s"]).reindex(ent.index, fill_value=0.0)
    raw_self = ent["duration_s"] - union
    negative = raw_self < -1e-9
    if negative.any():
        warnings.append(
            f"{int(negative.sum()):,} request(s) spent less time than their calls took "
            "(clock skew, or calls that outlive the request); their self time is set to 0"
        )
    ent["self_s"] = raw_self.clip(lower=0.0)
    ent["calls_n"] = calls.groupby("req").size().reindex(ent.index, fill_value=0)
    failed_calls = calls.loc[calls["error"]].groupby("req").size()
    ent["downstream_error"] = failed_calls.reindex(ent.index, fill_value=0) > 0
    # A request that failed while one of its calls failed is blamed on the call:
    # the scenario's error_rate counts only requests that fail by themselves.
    ent["own_error"] = ent["error"] & ~ent["downstream_error"]

    graph = _build_graph(ent, calls)
    return SpanAnalysis(entries=ent, calls=calls, graph=graph, warnings=warnings)


def _build_graph(ent: pd.DataFrame, calls: pd.DataFrame) -> nx.DiGraph:
    g = nx.DiGraph()
    by_service = ent.groupby("service")
    for name, rows in by_service:
        g.add_node(
            name,
            requests=len(rows),
            roots=int(rows["is_root"].sum()),
            observed_by=rows["observed_by"].iloc[0],
        )
    if calls.empty:
        return g
    caller_err = ent["error"].reindex(calls["req"]).to_numpy()
    calls = calls.assign(caller_error=caller_err)
    # as_index=False gives a DataFrame; the stubs type every SeriesGroupBy.min as a Series.
    first = cast(pd.DataFrame, calls.groupby(["req", "callee"], as_index=False)["offset_s"].min())
    first["caller"] = ent.loc[first["req"], "service"].to_numpy()
    med_offset = first.groupby(["caller", "callee"])["offset_s"].median()
    agg = calls.groupby(["caller", "callee"]).agg(
        calls=("cid", "size"), requests_with_call=("req", "nunique"), errors=("error", "sum")
    )
    failed = calls[calls["error"]]
    survived = failed.groupby(["caller", "callee"])["caller_error"].agg(lambda s: float((~s.astype(bool)).mean()))
    failed_n = failed.groupby(["caller", "callee"]).size()
    pair_par, self_par = _parallel_pairs(calls, ent)
    before = _precedence(first)
    for pair, row in agg.iterrows():
        a, b = cast("tuple[str, str]", pair)
        n_req = g.nodes[a]["requests"]
        n_fail = int(failed_n.get((a, b), 0))
        g.add_edge(
            a,
            b,
            calls=int(row["calls"]),
            requests_with_call=int(row["requests_with_call"]),
            per_request=float(row["calls"] / n_req),
            probability=float(row["requests_with_call"] / n_req),
            count_when_called=float(row["calls"] / row["requests_with_call"]),
            errors=int(row["errors"]),
            # A call whose failures the caller survives (>= 90% of at least 5) is optional.
            optional=bool(n_fail >= 5 and survived.get((a, b), 0.0) >= 0.9),
            median_offset_s=float(med_offset.get((a, b), 0.0)),
            # callee -> (requests where b's first call started before that callee's, requests with both)
            before={y: v for (c, x, y), v in before.items() if c == a and x == b},
            self_parallel=bool(self_par.get((a, b), False)),
            parallel_with=sorted(
                {y for (c, x, y), v in pair_par.items() if c == a and x == b and v}
                | {x for (c, x, y), v in pair_par.items() if c == a and y == b and v}
            ),
        )
    return g


def _precedence(first: pd.DataFrame) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Per caller and ordered callee pair (x, y): requests where x's first call started before y's.

    Median offsets alone misorder two rare calls made one after the other (10% and 5%
    of requests, say): both usually start right after the same earlier step. Requests
    that make both calls say directly which comes first.
    """
    multi = first[first.groupby("req")["callee"].transform("size") > 1]
    if multi.empty:
        return {}
    multi = multi[multi["req"].isin(multi["req"].drop_duplicates().head(50 * MAX_STRUCTURE_REQUESTS))]
    pairs = multi.merge(multi[["req", "callee", "offset_s"]], on="req", suffixes=("_x", "_y"))
    pairs = pairs[pairs["callee_x"] != pairs["callee_y"]]
    pairs = pairs.assign(first=pairs["offset_s_x"] < pairs["offset_s_y"])
    agg = pairs.groupby(["caller", "callee_x", "callee_y"])["first"].agg(["sum", "size"])
    return {cast("tuple[str, str, str]", k): (int(v["sum"]), int(v["size"])) for k, v in agg.iterrows()}


def _order_groups(graph: nx.DiGraph, service: str, groups: list[list[str]]) -> list[list[str]]:
    """Order call groups by what the requests that make both show; median offsets break ties."""
    offset = {c: graph.edges[service, c]["median_offset_s"] for g in groups for c in g}
    key = {i: (min(offset[c] for c in g), sorted(g)) for i, g in enumerate(groups)}
    order = nx.DiGraph()
    order.add_nodes_from(key)
    for i, gi in enumerate(groups):
        for j, gj in enumerate(groups):
            if i >= j:
                continue
            ahead = both = 0
            for x in gi:
                for y in gj:
                    k, n = graph.edges[service, x].get("before", {}).get(y, (0, 0))
                    ahead, both = ahead + k, both + n
            if both and 2 * ahead != both:
                order.add_edge(*((i, j) if 2 * ahead > both else (j, i)))
    try:
        ranked = list(nx.lexicographical_topological_sort(order, key=lambda i: key[i]))
    except nx.NetworkXUnfeasible:  # contradictory majorities: trust the offsets
        ranked = sorted(key, key=lambda i: key[i])
    return [groups[i] for i in ranked]


def _parallel_pairs(calls: pd.DataFrame, ent: pd.DataFrame) -> tuple[dict[Any, bool], dict[Any, bool]]:
    """Decide, per caller, which callees run in parallel with which (majority of requests)."""
    counts = calls.groupby("req").size()
    multi = calls[calls["req"].isin(counts[counts > 1].index)]
    # Bound the pairwise work: the first requests of each caller are enough to see the shape.
    first_reqs = (
        ent.loc[ent.index.isin(multi["req"].unique())]
        .sort_values("start_s")
        .groupby("service")
        .head(MAX_STRUCTURE_REQUESTS)
        .index
    )
    m = multi[multi["req"].isin(first_reqs)][["req", "caller", "callee", "start_s", "end_s"]]
    m = m.reset_index(drop=True)
    m["k"] = np.arange(len(m))
    pairs = m.merge(m, on=["req", "caller"], suffixes=("_x", "_y"))
    pairs = pairs[pairs["k_x"] < pairs["k_y"]]
    if pairs.empty:
        return {}, {}
    overlap = np.minimum(pairs["end_s_x"], pairs["end_s_y"]) - np.maximum(pairs["start_s_x"], pairs["start_s_y"])
    shorter = np.minimum(pairs["end_s_x"] - pairs["start_s_x"], pairs["end_s_y"] - pairs["start_s_y"])
    pairs = pairs.assign(
        par=(overlap > 0) & (overlap >= PARALLEL_OVERLAP * shorter),
        a=np.minimum(pairs["callee_x"].astype(str), pairs["callee_y"].astype(str)),
        b=np.maximum(pairs["callee_x"].astype(str), pairs["callee_y"].astype(str)),
    )
    per_req = pairs.groupby(["caller", "a", "b", "req"])["par"].any()
    share = per_req.groupby(level=["caller", "a", "b"]).mean()
    pair_par: dict[Any, bool] = {}
    self_par: dict[Any, bool] = {}
    for key, value in share.items():
        caller, a, b = cast("tuple[str, str, str]", key)
        if a == b:
            self_par[(caller, a)] = bool(value >= 0.5)
        else:
            pair_par[(caller, a, b)] = bool(value >= 0.5)
    return pair_par, self_par


def _call_items(callee: str, attrs: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The scenario call entries for one callee (whole repeats, then a fractional one)."""
    p = float(attrs["probability"])
    k = float(attrs["count_when_called"])
    if abs(k - round(k)) < 0.05:
        k = float(round(k))
    whole = max(1, int(math.floor(k + 1e-9)))
    frac = k - whole
    items = [{"to": callee, "probability": p, "count": whole}]
    if frac >= 0.01:
        items.append({"to": callee, "probability": p * frac, "count": 1})
    for it in items:
        it["optional"] = bool(attrs.get("optional"))
    return items, bool(attrs.get("self_parallel"))


def _render(item: dict[str, Any]) -> Any:
    out: dict[str, Any] = {"to": item["to"]}
    if item["probability"] < _ALWAYS:
        out["probability"] = round(float(item["probability"]), 4)
    if item.get("count", 1) > 1:
        out["count"] = int(item["count"])
    if item.get("optional"):
        out["optional"] = True
    return item["to"] if len(out) == 1 else out


def call_steps(graph: nx.DiGraph, service: str, drop: set[str] | None = None) -> list[Any]:
    """The scenario ``calls:`` list of ``service``: sequential steps and ``{parallel: [...]}`` groups.

    Callees that run in parallel with each other (overlap in most requests) form
    one group; groups are ordered by when their first call starts. A callee called
    ``k`` times per request when it is called at all, on a share ``p`` of requests,
    becomes ``{to, count: floor(k), probability: p}`` plus one more call with
    probability ``p * (k - floor(k))``, which keeps the mean number of calls exact.
    ``drop`` names callees to leave out (edges removed to break a cycle); edges
    that did not come from traces (``source`` attribute set) are left out too.
    """
    drop = drop or set()
    callees = [c for c in graph.successors(service) if c not in drop and "source" not in graph.edges[service, c]]
    if not callees:
        return []
    parent = {c: c for c in callees}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for c in callees:
        for other in graph.edges[service, c]["parallel_with"]:
            if other in parent:
                parent[find(other)] = find(c)
    groups: dict[str, list[str]] = {}
    for c in callees:
        groups.setdefault(find(c), []).append(c)
    offset = {c: graph.edges[service, c]["median_offset_s"] for c in callees}
    ordered = _order_groups(graph, service, list(groups.values()))
    steps: list[Any] = []
    for members in ordered:
        members.sort(key=lambda c: (offset[c], c))
        if len(members) == 1:
            items, self_parallel = _call_items(members[0], graph.edges[service, members[0]])
            if self_parallel and items[0]["count"] > 1:
                first = dict(items[0], count=1)
                steps.append({"parallel": [_render(first)] * items[0]["count"] + [_render(i) for i in items[1:]]})
            else:
                steps.extend(_render(i) for i in items)
            continue
        group: list[Any] = []
        for c in members:
            items, _ = _call_items(c, graph.edges[service, c])
            for it in items:
                group.extend([_render(dict(it, count=1))] * int(it["count"]))
        steps.append({"parallel": group})
    return steps
