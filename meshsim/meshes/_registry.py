"""The one list of meshes meshsim knows; every other list of mesh names is derived from it.

Each line names an import format and the module that holds everything meshsim knows
about that mesh (its :class:`~meshsim.meshes._preset.MeshUnit`: presets, proxy, block
defaults, importer, cited semantics). Adding a mesh is one module and one line here.
"""

from __future__ import annotations

import importlib
from typing import Any

from meshsim.meshes._envoy import ENVOY
from meshsim.meshes._envoy import RETRY_BUDGET as _ENVOY_BUDGET
from meshsim.meshes._linkerd import PROFILE_BUDGET as _LINKERD_BUDGET
from meshsim.meshes._preset import MeshUnit, Preset, Proxy

__all__ = [
    "FORMATS",
    "MESHES",
    "NO_PRESET",
    "PRESETS",
    "PRESET_FOR_FORMAT",
    "PRESET_NAMES",
    "PRESET_VERSIONS",
    "PROXIES",
    "PROXY_FOR_PRESET",
    "PROXY_NAMES",
    "PROXY_OVERHEAD",
    "RETRY_BUDGET_DEFAULTS",
    "preset",
]

#: import format -> the module holding that mesh's unit (its ``UNIT``).
_MODULES: dict[str, str] = {
    "istio": "meshsim.meshes._istio",
    "linkerd": "meshsim.meshes._linkerd",
    "consul": "meshsim.meshes._consul",
    "appmesh": "meshsim.meshes._appmesh",
    "kuma": "meshsim.meshes._kuma",
    "traefik": "meshsim.meshes._traefik",
    "kubernetes": "meshsim.meshes._kubernetes",
}


def _unit(path: str) -> MeshUnit:
    unit = getattr(importlib.import_module(path), "UNIT", None)
    if not isinstance(unit, MeshUnit):
        raise TypeError(f"{path} has no UNIT (a MeshUnit)")
    return unit


#: format -> everything meshsim knows about that mesh, in the registry's order.
MESHES: dict[str, MeshUnit] = {fmt: _unit(path) for fmt, path in _MODULES.items()}
#: the formats ``meshsim import`` reads.
FORMATS: tuple[str, ...] = tuple(MESHES)

#: With no preset an unset policy does nothing (docs/scenario.md): no retries, no timeouts,
#: round robin, no limits, no ejection, no proxy cost. Written, like every preset, as the
#: differences from plain Envoy.
NO_PRESET: Preset = ENVOY.but(
    source="no preset (docs/scenario.md: unset policy does nothing)",
    proxy="none",
    timeout_s=None,
    retry_on=("5xx",),  # what a retries block means when it names no condition
    retry_different_host=True,
    max_connections=None,
    max_pending=None,
    max_requests=None,
    max_retries=None,
    version="",
)

#: ``mesh.defaults`` name -> preset, for every mesh.
PRESETS: dict[str, Preset] = {name: p for unit in MESHES.values() for name, p in unit.presets.items()}
#: the ``mesh.defaults`` names, in the registry's order.
PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)
#: the ``mesh.defaults`` preset each import format implies (None: plain Kubernetes).
PRESET_FOR_FORMAT: dict[str, str | None] = {fmt: unit.import_preset for fmt, unit in MESHES.items()}

#: proxy name -> proxy, from every mesh (plus ``none``: no proxy, no cost).
PROXIES: dict[str, Proxy] = {p.name: p for unit in MESHES.values() for p in unit.proxies} | {
    "none": Proxy("none", "0ms", "no proxy")
}
#: the ``mesh.proxy`` names.
PROXY_NAMES: tuple[str, ...] = tuple(PROXIES)
#: proxy name -> its per-traversal overhead prior, a DistSpec (docs/proxies.md).
PROXY_OVERHEAD: dict[str, Any] = {name: p.overhead for name, p in PROXIES.items()}
#: ``mesh.defaults`` (None: no preset) -> the proxy that mesh runs.
PROXY_FOR_PRESET: dict[str | None, str] = {name: p.proxy for name, p in PRESETS.items()} | {None: NO_PRESET.proxy}


#: What a ``retry_budget`` block's unset fields mean, by its form: Envoy's (budget_percent,
#: min_retry_concurrency) [E3] and Linkerd's (ratio, min_per_second, ttl seconds) [L6].
RETRY_BUDGET_DEFAULTS: dict[str, tuple[float, ...]] = {"envoy": _ENVOY_BUDGET, "linkerd": _LINKERD_BUDGET}


#: ``mesh.defaults`` name -> major release -> its preset, for presets with several releases.
PRESET_VERSIONS: dict[str, dict[str, Preset]] = {
    name: dict(by_major) for unit in MESHES.values() for name, by_major in unit.versions.items()
}


def major_release(version: str) -> str:
    """``"v3.7.15"`` -> ``"3"``: the major release a ``mesh.version`` names."""
    return version.strip().lstrip("vV").split(".", 1)[0]


def preset(name: str | None, version: str | None = None) -> Preset:
    """The preset named ``name`` (``None``: no preset), of release ``version`` when given.

    Raises:
        ValueError: ``version`` is not a release the preset has.
    """
    if name is None:
        if version is not None:
            raise ValueError("mesh.version needs mesh.defaults (the mesh whose release it names)")
        return NO_PRESET
    if version is None:
        return PRESETS[name]
    releases = PRESET_VERSIONS.get(name, {})
    found = releases.get(major_release(version))
    if found is None:
        known = ", ".join(sorted(releases)) or "none (this preset models one release)"
        raise ValueError(
            f"mesh.version {version!r} is not a release of the {name} preset; known major releases: {known}"
        )
    return found
