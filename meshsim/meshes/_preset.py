"""The types every mesh module fills in: its preset, its proxy, its cited semantics, its unit.

A :class:`Preset` says what an unset policy field means in one mesh (``mesh.defaults``).
Every mesh's preset is written as the differences from one Envoy base
(:data:`meshsim.meshes._envoy.ENVOY`) with :meth:`Preset.but`, so the differences are what
a reader sees. Durations are seconds; ``None`` means "off" (no timeout, no limit).

A :class:`MeshUnit` is everything meshsim knows about one mesh: its presets, the proxy
it runs, the per-field defaults of the blocks its objects write partly, its importer
and a table of the semantics it implements, each row with its source and version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshsim.meshes._common import MeshImporter

__all__ = ["BlockDefaults", "MeshUnit", "OutlierDefaults", "Preset", "Proxy", "Semantic"]


@dataclass(frozen=True)
class Proxy:
    """A data-plane proxy and its per-traversal processing cost (a DistSpec, docs/proxies.md)."""

    name: str
    overhead: Mapping[str, str] | str
    source: str


@dataclass(frozen=True)
class OutlierDefaults:
    """Envoy outlier detection with every field given (seconds, percents)."""

    consecutive_5xx: int
    consecutive_gateway_errors: int
    enforcing_consecutive_gateway_errors: float
    interval: float
    base_ejection_time: float
    max_ejection_time: float
    max_ejection_percent: float

    def as_dict(self) -> dict[str, Any]:
        """The fields by name, as the effective policy takes them."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Preset:
    """What every unset policy field means in one mesh (durations in seconds, None = off)."""

    name: str | None
    source: str  # how ``meshsim explain`` names it: "istio preset (docs/references.md §1, §7)"
    proxy: str  # the proxy the mesh runs (its overhead prior, docs/proxies.md)
    timeout_s: float | None  # route timeout covering every try
    retry_attempts: int  # retries when no ``retries`` block is given
    retry_attempts_in_block: int  # retries when a ``retries`` block leaves ``attempts`` out
    per_try_timeout_s: float | None
    retry_on: tuple[str, ...]
    retriable_status_codes: tuple[int, ...]
    backoff_s: tuple[float, float] | None  # (base, max) of the retry back-off; None: retry at once
    retry_different_host: bool  # a retry avoids the hosts already tried
    load_balancer: str
    max_connections: int | None
    max_pending: int | None
    max_requests: int | None
    max_retries: int | None
    connect_timeout_s: float
    outlier_always: bool  # outlier detection runs even with no ``outlier_detection`` block
    outlier: OutlierDefaults  # the values of the fields an ``outlier_detection`` block leaves out
    gateway_enforcing_when_set: float  # enforcement % of a gateway-error count given without one
    panic_percent: float  # Envoy's healthy panic threshold (0 = panic mode off)
    locality: bool  # locality-aware routing (same zone first) with no ``locality`` block
    locality_cross_zone: bool  # with locality on: may traffic leave the region at all
    locality_needs_outlier: bool  # locality failover acts only with outlier detection (Istio)
    version: str = ""  # the release this preset models, e.g. "1.24 and later"
    # how the proxy runs retries: "envoy" (retry_on conditions, full-jitter back-off) or
    # "traefik" (Traefik's retry middleware: connect errors and status codes, its own back-off)
    retry_kind: str = "envoy"
    # a refused connection costs one network round trip only, not the proxies' processing
    refusal_round_trip: bool = False
    # how a version split picks a version: "random" (a weighted draw, Envoy) or "smooth"
    # (Traefik's deterministic weighted round robin, one schedule per caller proxy)
    split_kind: str = "random"
    # the retry options the release has beyond connect errors (Traefik 3.7: status, timeout)
    retry_status_supported: bool = True
    # the back-off cap when a ``backoff`` block gives no max (s); None: 10 x base, as Envoy's
    backoff_cap_s: float | None = None
    # the proxy is a hop away from its caller (an edge or per-node proxy, not a sidecar), so its
    # own answers (an open breaker, no server left) cost the caller a network round trip
    local_reply_hop: bool = False

    def but(self, **changes: Any) -> Preset:
        """This preset with ``changes``: how a mesh preset states its differences from its base."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Semantic:
    """One behaviour a mesh module implements, with where it was read and for which release."""

    behaviour: str  # "route timeout when none is set"
    value: str  # "off (Istio writes 0, not Envoy's 15 s)"
    source: str  # "istio/istio pilot/pkg/networking/core/route/route.go:1331-1333"
    version: str  # "1.31 dev (86c9f01, Aug 2026)"
    ref: str = ""  # the tag in docs/references.md, e.g. "§1 [S7]"


#: The per-field defaults of one block an object writes partly, and the citation that says so.
BlockDefaults = tuple[Mapping[str, Any], str]


@dataclass(frozen=True)
class MeshUnit:
    """Everything meshsim knows about one mesh (or plain Kubernetes)."""

    name: str  # the import format: ``meshsim import <name> PATH``
    title: str  # "Istio"
    presets: Mapping[str, Preset]  # ``mesh.defaults`` names this module provides
    import_preset: str | None  # the preset an import of this format implies
    importer: type[MeshImporter]  # its API groups and object forms name the format of a misplaced file
    proxies: tuple[Proxy, ...] = ()
    block_defaults: Mapping[str, BlockDefaults] = field(default_factory=dict)
    semantics: tuple[Semantic, ...] = ()
    # ``mesh.version`` choices: preset name -> major release -> the preset of that release
    # (a preset without an entry has one release; ``mesh.version`` is then refused)
    versions: Mapping[str, Mapping[str, Preset]] = field(default_factory=dict)
