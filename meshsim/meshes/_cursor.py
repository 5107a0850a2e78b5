"""Cursors: a value inside a configuration object that knows where it sits.

An importer walks each object with a :class:`Cur` (a value plus its file, line,
object label and field path). Typed reads (``as_int``, ``seconds``...) raise a
:class:`~meshsim.errors.MeshsimInputError` naming the file, the line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from meshsim.errors import MeshsimInputError
from meshsim.meshes._files import Document
from meshsim.meshes._result import Origin
from meshsim.units import format_duration

__all__ = ["Cur", "Noted", "clean_number", "norm_key", "parse_go_duration", "service_name", "split_host"]

_DNS_SUFFIXES = (".svc.cluster.local", ".svc", ".cluster.local")
_TLDS = {"com", "org", "net", "io", "dev", "local", "internal", "cloud", "app", "edu", "gov", "co"}


def service_name(host: str) -> str:
    """A Kubernetes host name reduced to the service: ``reviews.default.svc.cluster.local`` -> ``reviews``.

    ``name.namespace`` short forms are reduced too; other names with dots (external
    hosts such as ``api.example.com``) are kept whole.
    """
    return split_host(host)[0]


def split_host(host: str) -> tuple[str, str | None]:
    """``(service, namespace)`` of a Kubernetes host name; the namespace is None when the name has none.

    ``reviews.prod.svc.cluster.local`` and ``reviews.prod`` -> ``("reviews", "prod")``;
    ``reviews`` -> ``("reviews", None)``; external names (``api.example.com``) stay whole.
    """
    h = str(host).strip().rstrip(".")
    if ":" in h and h.rsplit(":", 1)[1].isdigit():
        h = h.rsplit(":", 1)[0]
    for suffix in _DNS_SUFFIXES:
        if h.endswith(suffix):
            parts = h[: -len(suffix)].split(".")
            return parts[0], (parts[1] if len(parts) > 1 else None)
    parts = h.split(".")
    if len(parts) == 2 and parts[1] not in _TLDS:
        return parts[0], parts[1]
    return h, None


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


def norm_key(key: Any) -> str:
    """A field name compared without case, ``_`` or ``-`` (Consul's field matching)."""
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
            wanted = {norm_key(k) for k in keys}
            for k, v in self.value.items():
                if norm_key(k) in wanted:
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
