"""Span attributes and labels -> the normalised span fields, and zone names -> locations.

Attribute names follow the OpenTelemetry semantic conventions (old and new HTTP
names), Envoy's Zipkin tags (``request_size``/``response_size``) and the labels
Istio and the OpenTelemetry Collector's ``k8sattributes`` processor add.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["span_fields_from_attributes", "location_from", "split_zone"]

_STATUS_KEYS = ("http.status_code", "http.response.status_code")
_REQUEST_SIZE_KEYS = (
    "http.request_content_length",
    "http.request.body.size",
    "http.request.size",
    "request_size",  # Envoy
)
_RESPONSE_SIZE_KEYS = (
    "http.response_content_length",
    "http.response.body.size",
    "http.response.size",
    "response_size",  # Envoy
)
_VERSION_KEYS = (
    "service.version",
    "istio.canonical_revision",
    "k8s.pod.labels.version",
    "k8s.pod.label.version",
    "k8s.pod.labels.app.kubernetes.io/version",
    "app.kubernetes.io/version",
    "version",
)
_INSTANCE_KEYS = ("service.instance.id", "k8s.pod.name", "host.name", "hostname", "ip", "zipkin.instance")


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value not in (None, ""):
            return value
    return None


def span_fields_from_attributes(attrs: dict[str, Any], kind: str | None) -> dict[str, Any]:
    """Return status_code, sizes, version, instance, location and peer_service (NaN if absent)."""
    version = _first(attrs, _VERSION_KEYS)
    if version == "latest":  # Istio's canonical revision when the pod has no version label
        version = None
    instance = _first(attrs, _INSTANCE_KEYS)
    peer = attrs.get("peer.service") if kind in ("client", "producer") else None
    return {
        "status_code": _number(_first(attrs, _STATUS_KEYS)),
        "request_bytes": _number(_first(attrs, _REQUEST_SIZE_KEYS)),
        "response_bytes": _number(_first(attrs, _RESPONSE_SIZE_KEYS)),
        "version": str(version) if version is not None else math.nan,
        "instance": str(instance) if instance is not None else math.nan,
        "location": location_from(
            attrs.get("cloud.provider"), attrs.get("cloud.region"), attrs.get("cloud.availability_zone")
        )
        or math.nan,
        "peer_service": str(peer) if peer not in (None, "") else math.nan,
    }


_PROVIDERS = {"gcp": "gcp", "google_cloud_platform": "gcp", "aws": "aws", "azure": "azure"}
_AWS_ZONE = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d)([a-z])$")  # us-east-1a
_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d)-([a-z])$")  # us-central1-a
_AZURE_ZONE = re.compile(r"^([a-z]+\d?)-(\d)$")  # eastus-1 (AKS zone label)


def split_zone(zone: str, region: str | None = None) -> tuple[str | None, str | None, str]:
    """Split a zone label into (cloud, region, zone short name), guessing the cloud by its shape.

    ``us-east-1a`` -> (aws, us-east-1, a); ``us-central1-a`` -> (gcp, us-central1, a);
    ``eastus-1`` -> (azure, eastus, 1). Unknown shapes come back unchanged with no cloud.
    """
    z = zone.strip()
    for cloud, pattern in (("aws", _AWS_ZONE), ("gcp", _GCP_ZONE), ("azure", _AZURE_ZONE)):
        m = pattern.match(z)
        if m and (region is None or m.group(1) == region):
            return cloud, m.group(1), m.group(2)
    if region and z.startswith(region):
        return None, region, z[len(region) :].lstrip("-") or z
    return None, region, z


def location_from(provider: Any, region: Any, zone: Any) -> str | None:
    """Return ``cloud/region/zone`` (or ``cloud/region``) from cloud attributes, None if unknown."""
    cloud = _PROVIDERS.get(str(provider).lower(), str(provider).lower()) if provider else None
    region = str(region) if region else None
    short = None
    if zone:
        guessed_cloud, guessed_region, short = split_zone(str(zone), region)
        cloud = cloud or guessed_cloud
        region = region or guessed_region
    if not cloud or not region:
        return None
    return f"{cloud}/{region}/{short}" if short else f"{cloud}/{region}"
