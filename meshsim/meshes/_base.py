"""The shared machinery of every importer: origins, results, cursors and the policy builder.

An importer walks each configuration object with a :class:`Cur` (a value plus
where it sits: file, line, object and field path) and writes scenario policy
fields through a :class:`Builder`, which remembers the :class:`Origin` of every
value, reports conflicts between objects, and turns the lot into an
:class:`ImportResult` in the scenario's own policy format (durations as strings
such as ``"250ms"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from meshsim.errors import MeshsimInputError
from meshsim.meshes._files import Document
from meshsim.meshes._result import ImportResult, Origin
from meshsim.units import format_duration

__all__ = [
    "MESH_WIDE",
    "Block",
    "Builder",
    "Cur",
    "ImportResult",
    "Origin",
    "clean_number",
    "parse_go_duration",
    "service_name",
]

#: Policy key for a policy that applies to every destination service (Kuma
#: ``targetRef: {kind: Mesh}``, Consul ``UpstreamConfig.Defaults``). Fields set on a
#: named service win over it, field by field.
MESH_WIDE = "*"


_DNS_SUFFIXES = (".svc.cluster.local", ".svc", ".cluster.local")
_TLDS = {"com", "org", "net", "io", "dev", "local", "internal", "cloud", "app", "edu", "gov", "co"}


def service_name(host: str) -> str:
    """A Kubernetes host name reduced to the service: ``reviews.default.svc.cluster.local`` -> ``reviews``.

    ``name.namespace`` short forms are reduced too; other names with dots (external
    hosts such as ``api.example.com``) are kept whole.
    """
    h = str(host).strip().rstrip(".")
    if ":" in h and h.rsplit(":", 1)[1].isdigit():
        h = h.rsplit(":", 1)[0]
    for suffix in _DNS_SUFFIXES:
        if h.endswith(suffix):
            return h[: -len(suffix)].split(".")[0]
    parts = h.split(".")
    if len(parts) == 2 and parts[1] not in _TLDS:
        return parts[0]
    return h


def clean_number(value: float) -> float | int:
    """``100.0`` -> ``100``: integral floats render as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float | None:
    """Seconds from a Go/protobuf duration (``"1m30s"``, ``"0.025s"``, ``"250ms"``); None if invalid."""
    s = text.strip()
    if not s:
        return None
    pos, total = 0, 0.0
    neg = s.startswith("-")
    if neg:
        pos = 1
    while pos < len(s):
        m = _GO_PART.match(s, pos)
        if not m:
            return None
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    return -total if neg else total


def _norm(key: Any) -> str:
    return re.sub(r"[_\-]", "", str(key)).lower()


class Cur:
    """A value inside a document, with its file, line, object label and field path."""

    __slots__ = ("ci", "doc", "line", "obj", "path", "value")

    def __init__(self, doc: Document, value: Any, path: str, line: int, obj: str, ci: bool = False) -> None:
        self.doc, self.value, self.path, self.line, self.obj, self.ci = doc, value, path, line, obj, ci

    # -- navigation ---------------------------------------------------------------
    @property
    def file(self) -> str:
        return self.doc.file

    def _child_path(self, key: Any) -> str:
        return f"{self.path}.{key}" if self.path else str(key)

    def child(self, key: Any, value: Any, line: int | None) -> Cur:
        return Cur(self.doc, value, self._child_path(key), line or self.line, self.obj, self.ci)

    def get(self, *keys: str) -> Cur | None:
        """The first of ``keys`` present in this mapping (case and ``_`` insensitive if ``ci``)."""
        if not isinstance(self.value, dict):
            return None
        lines = getattr(self.value, "lines", {})
        for key in keys:
            if key in self.value:
                return self.child(key, self.value[key], lines.get(key))
        if self.ci:
            wanted = {_norm(k) for k in keys}
            for k, v in self.value.items():
                if _norm(k) in wanted:
                    return self.child(k, v, lines.get(k))
        return None

    def keys(self) -> list[Any]:
        return list(self.value) if isinstance(self.value, dict) else []

    def items(self) -> Iterator[tuple[Any, Cur]]:
        """``(key, Cur)`` pairs of a mapping; an error if this is not a mapping."""
        value = self.map().value
        lines = getattr(value, "lines", {})
        for k, v in value.items():
            yield k, self.child(k, v, lines.get(k))

    def list(self) -> list[Cur]:
        """The items of a list (an HCL single block counts as a list of one)."""
        if isinstance(self.value, dict) and self.ci:
            return [self]
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_type_name(self.value)}")
        lines = getattr(self.value, "lines", [])
        return [
            Cur(self.doc, v, f"{self.path}[{i}]", lines[i] if i < len(lines) else self.line, self.obj, self.ci)
            for i, v in enumerate(self.value)
        ]

    # -- typed reads (wrong types are errors naming file, line and field) ------------
    def error(self, message: str) -> MeshsimInputError:
        return MeshsimInputError(f"{self.obj}: {message}", file=self.file, line=self.line, field=self.path or None)

    def map(self) -> Cur:
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_type_name(self.value)}")
        return self

    def as_str(self) -> str:
        if isinstance(self.value, bool) or not isinstance(self.value, (str, int, float)):
            raise self.error(f"expected a string, got {_type_name(self.value)}")
        return str(self.value)

    def as_int(self, minimum: int | None = 0) -> int:
        v = self.value
        if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
            v = int(v)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(f"expected a whole number, got {v!r}")
        if minimum is not None and v < minimum:
            raise self.error(f"must be at least {minimum}, got {v}")
        return v

    def as_num(self, minimum: float | None = 0.0) -> float | int:
        v = self.value
        if isinstance(v, str):
            try:
                v = float(v.strip().rstrip("%"))
            except ValueError:
                raise self.error(f"expected a number, got {self.value!r}") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(f"expected a number, got {_type_name(v)}")
        if minimum is not None and v < minimum:
            raise self.error(f"must be at least {minimum}, got {v}")
        return clean_number(v)

    def as_bool(self) -> bool:
        v = self.value
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        if not isinstance(v, bool):
            raise self.error(f"expected true or false, got {v!r}")
        return v

    def seconds(self, int_unit: float | None = None) -> float:
        """A duration in seconds. ``int_unit``: what a bare number means (None: refuse it)."""
        v = self.value
        if isinstance(v, dict) and ("value" in v or "unit" in v):  # App Mesh {value, unit}
            amount = self.get("value")
            unit = self.get("unit")
            if amount is None or unit is None:
                raise self.error("a duration needs both value and unit")
            factor = {"ms": 1e-3, "s": 1.0}.get(unit.as_str())
            if factor is None:
                raise unit.error(f"unit must be ms or s, got {unit.value!r}")
            return float(amount.as_num()) * factor
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if v == 0:
                return 0.0
            if int_unit is not None:
                return float(v) * int_unit
            raise self.error(f"give a unit, e.g. {v}ms or {v}s")
        if isinstance(v, str):
            secs = parse_go_duration(v)
            if secs is not None and secs >= 0:
                return secs
        raise self.error(f"cannot read duration {v!r}; write e.g. 250ms, 2s or 1m30s")

    def duration(self, int_unit: float | None = None) -> str:
        """The duration in scenario syntax (``"250ms"``)."""
        return format_duration(self.seconds(int_unit))

    def origin(self, note: str = "") -> Origin:
        return Origin(self.file, self.line, self.obj, self.path, note)

    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def noted(self, note: str) -> Noted:
        """This place, for a value the mesh implies here rather than one written here."""
        return Noted(self, note)


class Noted:
    """A :class:`Cur` stand-in whose origin carries a note (a mesh default)."""

    def __init__(self, cur: Cur, note: str) -> None:
        self.cur, self.note = cur, note

    def origin(self, note: str = "") -> Origin:
        return self.cur.origin(note or self.note)


def _type_name(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    return f"{type(v).__name__} {v!r}"


Target = tuple[str, "str | None"]


@dataclass
class _Leaf:
    value: Any
    origin: Origin
    weak: bool


class Builder:
    """Collects policy values with their origins; later objects win, with a warning."""

    def __init__(self, fmt: str, defaults: str | None) -> None:
        self.fmt, self.defaults = fmt, defaults
        self.leaves: dict[tuple[str, str | None, tuple[str, ...]], _Leaf] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.service_origins: dict[str, Origin] = {}
        self.warnings: list[str] = []
        self._replica_sources: dict[tuple[str, str], int] = {}

    # -- warnings -------------------------------------------------------------------
    def warn(self, cur: Cur, message: str) -> None:
        text = f"{cur.where()}: {cur.obj}: {cur.path or '(object)'}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)

    def warn_raw(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def unmodelled(
        self,
        cur: Cur,
        handled: set[str] | frozenset[str],
        ignored: set[str] | frozenset[str] = frozenset(),
        what: str = "not modelled",
    ) -> None:
        """Warn once per key of this mapping that is neither handled nor known to be irrelevant."""
        if not isinstance(cur.value, dict):
            return
        hn = {_norm(k) for k in handled} if cur.ci else set(handled)
        ig = {_norm(k) for k in ignored} if cur.ci else set(ignored)
        for key, sub in cur.items():
            k = _norm(key) if cur.ci else key
            if k not in hn and k not in ig:
                self.warn(sub, f"field {key!r} {what}")

    # -- policy values ----------------------------------------------------------------
    def put(self, tgt: Target, key: tuple[str, ...], value: Any, origin: Origin, weak: bool = False) -> None:
        svc, ver = tgt
        full = (svc, ver, key)
        old = self.leaves.get(full)
        if old is not None:
            if weak and not old.weak:
                return
            if not weak and not old.weak and old.value != value and _other_object(old.origin, origin):
                self.warn_raw(
                    f"{origin.file}:{origin.line}: {origin.object}: {origin.source_field}: "
                    f"{_dotted(tgt, key)} was also set by {old.origin.describe()}; the later value "
                    f"{value!r} replaces {old.value!r}"
                )
        self.leaves[full] = _Leaf(value, origin, weak)

    def has(self, tgt: Target, key: tuple[str, ...], strong_only: bool = False) -> bool:
        svc, ver = tgt
        for (s, v, k), leaf in self.leaves.items():
            related = k[: len(key)] == key or key[: len(k)] == k  # under it, or a value above it
            if s == svc and v == ver and related and (not strong_only or not leaf.weak):
                return True
        return False

    def clear(self, tgt: Target, block: str, origin: Origin) -> None:
        """Drop a whole block before an object sets it anew (blocks replace, never merge)."""
        svc, ver = tgt
        doomed = [full for full in self.leaves if full[0] == svc and full[1] == ver and full[2][0] == block]
        others = [
            self.leaves[f] for f in doomed if not self.leaves[f].weak and _other_object(self.leaves[f].origin, origin)
        ]
        if others:
            self.warn_raw(
                f"{origin.file}:{origin.line}: {origin.object}: {origin.source_field}: "
                f"{_dotted(tgt, (block,))} was also set by {others[0].origin.describe()}; "
                "the later block replaces it"
            )
        for full in doomed:
            del self.leaves[full]

    def block(self, tgt: Target, name: str, cur: Cur, replace: bool = True) -> Block:
        """Start writing block ``name`` for ``tgt`` (clearing an earlier one unless ``replace=False``)."""
        if replace:
            self.clear(tgt, name, cur.origin())
        return Block(self, tgt, name, cur)

    # -- service hints ------------------------------------------------------------------
    def service(self, name: str, cur: Cur) -> dict[str, Any]:
        if name not in self.services:
            self.services[name] = {}
            self.service_origins[f"services.{name}"] = cur.origin()
        return self.services[name]

    def add_replicas(self, name: str, n: int, cur: Cur, source: str) -> None:
        """Add ``n`` replicas from workload ``source`` (counted once per workload)."""
        hints = self.service(name, cur)
        prev = self._replica_sources.get((name, source), 0)
        self._replica_sources[(name, source)] = n
        hints["replicas"] = int(hints.get("replicas", 0)) - prev + n
        self.service_origins[f"services.{name}.replicas"] = cur.origin()

    def add_version(self, name: str, version: str, cur: Cur) -> None:
        hints = self.service(name, cur)
        versions = hints.setdefault("versions", {})
        if version not in versions:
            versions[version] = {}
            self.service_origins[f"services.{name}.versions.{version}"] = cur.origin()

    # -- the result ------------------------------------------------------------------------
    def result(self, files: list[str]) -> ImportResult:
        policies: dict[str, dict[str, Any]] = {}
        origins: dict[str, Origin] = {}
        for (svc, ver, key), leaf in self.leaves.items():
            pol = policies.setdefault(svc, {})
            node = pol.setdefault("versions", {}).setdefault(ver, {}) if ver is not None else pol
            for part in key[:-1]:
                nxt = node.get(part)
                if not isinstance(nxt, dict):
                    nxt = node[part] = {}
                node = nxt
            node[key[-1]] = leaf.value
            origins[_dotted((svc, ver), key)] = leaf.origin
        for name, origin in self.service_origins.items():
            origins[name] = origin
        return ImportResult(
            format=self.fmt,
            policies=policies,
            services=self.services,
            origins=origins,
            warnings=list(self.warnings),
            defaults=self.defaults,
            files=files,
        )


class Block:
    """Writes the fields of one policy block for one target."""

    def __init__(self, builder: Builder, tgt: Target, name: str, cur: Cur) -> None:
        self.b, self.tgt, self.name, self.cur = builder, tgt, name, cur

    def set(self, fld: str | None, value: Any, cur: Cur | Noted, weak: bool = False) -> None:
        """Set a field (``None``: the block itself is a single value, e.g. ``timeout``)."""
        key = (self.name,) if fld is None else (self.name, *fld.split("."))
        self.b.put(self.tgt, key, value, cur.origin(), weak=weak)

    def default(self, fld: str | None, value: Any, note: str) -> None:
        """Fill a field the object left unset with the mesh's own default (weak)."""
        key = (self.name,) if fld is None else (self.name, *fld.split("."))
        self.b.put(self.tgt, key, value, self.cur.origin(note), weak=True)

    def has(self, fld: str) -> bool:
        """True if the field (or anything under it) already has a value, default or not."""
        return self.b.has(self.tgt, (self.name, *fld.split(".")))


def _other_object(a: Origin, b: Origin) -> bool:
    return (a.file, a.object) != (b.file, b.object)


def _dotted(tgt: Target, key: tuple[str, ...]) -> str:
    svc, ver = tgt
    mid = f".versions.{ver}" if ver is not None else ""
    return f"policies.{svc}{mid}." + ".".join(str(k) for k in key)
