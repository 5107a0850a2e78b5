"""Consul service-defaults and proxy-defaults entries -> scenario policies (docs/references.md §3).

``UpstreamConfig`` belongs to the *calling* service; meshsim keys policies by the called
service, so ``Overrides[].Name`` sets that service's policy and ``Defaults`` sets the
mesh-wide ``"*"`` policy (each noted as approximated scope).
"""

from __future__ import annotations

from typing import Any

from meshsim.meshes._builder import MESH_WIDE
from meshsim.meshes._common import Ident, MeshImporter
from meshsim.meshes._consul._defaults import BLOCKS
from meshsim.meshes._cursor import Cur, service_name
from meshsim.meshes._envoy import OFF, envoy_max_ejection
from meshsim.units import format_duration

__all__ = ["META", "ConsulDefaultsEntries", "consul_seconds"]

_NS = 1e-9  # Consul decodes a bare number as a Go time.Duration: nanoseconds

META = frozenset({"Kind", "Name", "Namespace", "Partition", "Meta"})


class ConsulDefaultsEntries(MeshImporter):
    """The service-defaults and proxy-defaults half of the Consul importer."""

    # -- service-defaults --------------------------------------------------------------------
    def service_defaults(self, root: Cur, ident: Ident) -> None:
        svc = service_name(ident.name)
        self.b.service(svc, root)
        self.b.unmodelled(
            root,
            {"Protocol", "UpstreamConfig", "RateLimits"},
            META
            | {
                "BalanceInboundConnections",
                "Mode",
                "TransparentProxy",
                "MutualTLSMode",
                "Expose",
                "MeshGateway",
                "ExternalSNI",
                "Connect",
                "Destination",
            },
        )
        up = root.get("UpstreamConfig")
        if up is not None:
            up.map()
            self.b.unmodelled(up, {"Defaults", "Overrides"})
            defaults = up.get("Defaults")
            if defaults is not None:
                self.b.approx(
                    defaults,
                    f"upstream defaults of {svc!r} apply to its calls only; "
                    "meshsim applies them to every caller (policy '*')",
                )
                self._upstream((MESH_WIDE, None), defaults)
            overrides = up.get("Overrides")
            for o in overrides.list() if overrides is not None else []:
                o.map()
                name = o.get("Name")
                if name is None:
                    raise o.error("an upstream override needs a Name")
                target = service_name(name.as_str())
                self.b.approx(
                    name,
                    f"upstream override for {target!r} applies to calls from {svc!r} only; "
                    f"meshsim applies it to every caller of {target!r}",
                )
                self._upstream((target, None), o)
        limits = root.get("RateLimits")
        if limits is not None:
            limits.map()
            self.b.unmodelled(limits, {"InstanceLevel"})
            inst = limits.get("InstanceLevel")
            if inst is not None:
                inst.map()
                self.b.unmodelled(inst, {"RequestsPerSecond", "RequestsMaxBurst", "Routes"})
                rps = inst.get("RequestsPerSecond")
                if rps is not None and rps.as_num() > 0:
                    self.b.approx(
                        rps,
                        "instance-level (inbound) rate limit: a token bucket at each replica of the service, "
                        "refilled continuously as Envoy 1.32+ does",
                    )
                    blk = self.b.block((svc, None), "rate_limit", inst)
                    blk.set("rate", f"{rps.as_num()}/s", rps)
                    burst = inst.get("RequestsMaxBurst")
                    if burst is not None:
                        blk.set("burst", burst.as_int(minimum=1), burst)
                    else:
                        blk.default(
                            "burst",
                            max(1, int(rps.as_num())),
                            "Consul: RequestsMaxBurst unset => equal to RequestsPerSecond (assumed), §3 [C5]",
                        )
                routes = inst.get("Routes")
                if routes is not None:
                    self.b.ignore(routes, "per-route rate limits not modelled")

    def _upstream(self, tgt: tuple[str, str | None], cfg: Cur) -> None:
        self.b.unmodelled(
            cfg,
            {"Name", "ConnectTimeoutMs", "Limits", "PassiveHealthCheck"},
            {
                "Protocol",
                "MeshGateway",
                "Namespace",
                "Partition",
                "Peer",
                "BalanceOutboundConnections",
                "EnvoyListenerJSON",
                "EnvoyClusterJSON",
            },
        )
        ctm = cfg.get("ConnectTimeoutMs")
        limits = cfg.get("Limits")
        pool_src = limits or ctm
        if pool_src is not None:
            # Merged, not replaced: a resolver's ConnectTimeout may share this block.
            blk = self.b.block(tgt, "connection_pool", pool_src, replace=False)
            if ctm is not None:
                blk.set("connect_timeout", format_duration(ctm.as_num() / 1000.0), ctm)
            if limits is not None:
                limits.map()
                self.b.unmodelled(limits, {"MaxConnections", "MaxPendingRequests", "MaxConcurrentRequests"})
                for fld, name in (
                    ("MaxConnections", "max_connections"),
                    ("MaxPendingRequests", "max_pending"),
                    ("MaxConcurrentRequests", "max_requests"),
                ):
                    c = limits.get(fld)
                    if c is not None and c.as_int() > 0:  # 0 means unset [C5]
                        blk.set(name, c.as_int(), c)
            blk.fill(BLOCKS["connection_pool"])
        phc = cfg.get("PassiveHealthCheck")
        if phc is not None:
            phc.map()
            self.b.unmodelled(
                phc, {"Interval", "MaxFailures", "EnforcingConsecutive5xx", "MaxEjectionPercent", "BaseEjectionTime"}
            )
            blk = self.b.block(tgt, "outlier_detection", phc)
            # Zero Interval and MaxFailures mean "unset": Envoy's 10 s and 5 apply (ToOutlierDetection).
            mf = phc.get("MaxFailures")
            if mf is not None and mf.as_int() > 0:
                blk.set("consecutive_5xx", mf.as_int(), mf)
            enf = phc.get("EnforcingConsecutive5xx")
            if enf is not None:
                pct = enf.as_num()
                if pct == 0:
                    # Enforcement 0 % never ejects on consecutive 5xx [E4]: the detector is off.
                    blk.set(
                        "consecutive_5xx", OFF, enf.noted("EnforcingConsecutive5xx 0: consecutive-5xx ejection off")
                    )
                elif pct < 100:
                    self.b.approx(
                        enf,
                        f"enforcing {pct}%: Envoy ejects a host that crossed the threshold {pct}% of the time; "
                        "meshsim ejects it every time",
                    )
            interval = phc.get("Interval")
            if interval is not None and consul_seconds(interval) > 0:
                blk.set("interval", format_duration(consul_seconds(interval)), interval)
            base = phc.get("BaseEjectionTime")
            if base is not None:
                blk.set("base_ejection_time", format_duration(consul_seconds(base)), base)
            mep = phc.get("MaxEjectionPercent")
            if mep is not None:
                blk.set("max_ejection_percent", mep.as_num(), mep)
            blk.default(
                "max_ejection_time",
                format_duration(envoy_max_ejection(consul_seconds(base) if base is not None else 30.0)),
                "Envoy: max_ejection_time = max(300s, base_ejection_time), §0 [E4]",
            )
            blk.fill(BLOCKS["outlier_detection"])

    # -- proxy-defaults ------------------------------------------------------------------------
    def proxy_defaults(self, root: Cur, ident: Ident) -> None:
        self.b.unmodelled(
            root,
            {"Config"},
            META
            | {"MeshGateway", "Mode", "TransparentProxy", "Expose", "MutualTLSMode", "AccessLogs", "EnvoyExtensions"},
        )
        config = root.get("Config")
        if config is not None and isinstance(config.value, dict):
            self.b.unmodelled(
                config,
                set(),
                {"protocol", "envoy_prometheus_bind_addr", "envoy_stats_bind_addr"},
                what="(proxy configuration) not modelled",
            )


def consul_seconds(cur: Cur) -> Any:
    """Seconds; a negative duration (Consul: "no timeout") comes back as -1."""
    v = cur.value
    if (isinstance(v, str) and v.strip().startswith("-")) or (
        isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0
    ):
        return -1.0
    return cur.seconds(int_unit=_NS)
