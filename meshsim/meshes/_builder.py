"""The policy builder: every value an importer writes, where it came from, and every note about a field.

An importer writes scenario policy fields through a :class:`Builder`, which remembers
the :class:`Origin` of every value, reports conflicts between objects, and turns the
lot into an :class:`ImportResult` in the scenario's own policy format (durations as
strings such as ``"250ms"``). Whatever it does not write as given, it notes:

- ``approximated``: modelled differently from the mesh; the note says how;
- ``ignored``: matters to traffic but is not modelled (file:line);
- ``irrelevant``: has no effect on traffic in meshsim (listed by ``--report`` only);
- ``problem``: a file or object that could not be imported (``--strict`` fails on it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from meshsim.meshes._cursor import Cur, Noted, norm_key
from meshsim.meshes._preset import BlockDefaults
from meshsim.meshes._result import ImportResult, Note, Origin

__all__ = ["MESH_WIDE", "Block", "Builder", "Target"]

#: Policy key for a policy that applies to every destination service (Kuma
#: ``targetRef: {kind: Mesh}``, Consul ``UpstreamConfig.Defaults``). Fields set on a
#: named service win over it, field by field.
MESH_WIDE = "*"

#: ``(service, version)``: whose policy a value belongs to.
Target = tuple[str, "str | None"]

#: Joins a service name and its namespace in a builder key until :meth:`Builder.result` names them.
_NS = "\x1f"


@dataclass
class _Leaf:
    value: Any
    origin: Origin
    weak: bool


class Builder:
    """Collects policy values with their origins; later objects win, with a note."""

    def __init__(self, fmt: str, defaults: str | None) -> None:
        self.fmt, self.defaults = fmt, defaults
        self.leaves: dict[tuple[str, str | None, tuple[str, ...]], _Leaf] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.service_origins: dict[tuple[str, str], Origin] = {}  # (service key, "replicas"...)
        self.notes: list[Note] = []
        self._texts: set[str] = set()
        self._replica_sources: dict[tuple[str, str], int] = {}

    # -- notes --------------------------------------------------------------------------------
    def _add(self, note: Note) -> None:
        if note.text not in self._texts:
            self._texts.add(note.text)
            self.notes.append(note)

    def note(self, cur: Cur, kind: str, message: str) -> None:
        """A note about the field at ``cur`` (see the module docstring for the kinds)."""
        text = f"{cur.where()}: {cur.obj}: {cur.path or '(object)'}: {message}"
        self._add(Note(kind, cur.file, cur.line, text))

    def ignore(self, cur: Cur, message: str) -> None:
        """A field that matters to traffic but is not modelled."""
        self.note(cur, "ignored", message)

    def approx(self, cur: Cur, message: str) -> None:
        """A field modelled differently from the mesh; ``message`` says how."""
        self.note(cur, "approximated", message)

    def irrelevant(self, cur: Cur, message: str) -> None:
        """A field with no effect on traffic in meshsim (listed by ``--report`` only)."""
        self.note(cur, "irrelevant", message)

    def problem(self, file: str | None, line: int | None, message: str) -> None:
        """A file or object that could not be imported."""
        self._add(Note("problem", file, line, message))

    def file_note(self, file: str | None, kind: str, message: str) -> None:
        """A note about a whole file (``message`` names the file itself)."""
        self._add(Note(kind, file, None, message))

    def unmodelled(
        self,
        cur: Cur,
        handled: set[str] | frozenset[str],
        ignored: set[str] | frozenset[str] = frozenset(),
        what: str = "not modelled",
    ) -> None:
        """Note once per key of this mapping: ``ignored`` keys have no effect; others are not modelled."""
        if not isinstance(cur.value, dict):
            return
        hn = {norm_key(k) for k in handled} if cur.ci else set(handled)
        ig = {norm_key(k) for k in ignored} if cur.ci else set(ignored)
        for key, sub in cur.items():
            k = norm_key(key) if cur.ci else key
            if k in hn:
                continue
            if k in ig:
                self.irrelevant(sub, f"field {key!r} has no effect on traffic in meshsim")
            else:
                self.ignore(sub, f"field {key!r} {what}")

    # -- service names ----------------------------------------------------------------------
    @staticmethod
    def qualify(name: str, namespace: str | None) -> str:
        """A service key that remembers its namespace; :meth:`result` keeps the namespace only when needed."""
        return f"{name}{_NS}{namespace}" if namespace else name

    @staticmethod
    def plain(key: str) -> str:
        """The service name of a builder key, without its namespace."""
        return key.partition(_NS)[0]

    @staticmethod
    def same(a: str, b: str) -> bool:
        """Whether two builder keys name one service (a key without a namespace matches any namespace)."""
        if a == b:
            return True
        (na, _, sa), (nb, _, sb) = a.partition(_NS), b.partition(_NS)
        return na == nb and (not sa or not sb)

    # -- policy values ----------------------------------------------------------------------
    def put(self, tgt: Target, key: tuple[str, ...], value: Any, origin: Origin, weak: bool = False) -> None:
        svc, ver = tgt
        full = (svc, ver, key)
        old = self.leaves.get(full)
        if old is not None:
            if weak and not old.weak:
                return
            if not weak and not old.weak and old.value != value and _other_object(old.origin, origin):
                self._add(
                    Note(
                        "approximated",
                        origin.file,
                        origin.line,
                        f"{origin.file}:{origin.line}: {origin.object}: {origin.source_field}: "
                        f"{_dotted(tgt, key)} was also set by {old.origin.describe()}; the later value "
                        f"{value!r} replaces {old.value!r}",
                    )
                )
        self.leaves[full] = _Leaf(value, origin, weak)

    def has(self, tgt: Target, key: tuple[str, ...], strong_only: bool = False) -> bool:
        svc, ver = tgt
        for (s, v, k), leaf in self.leaves.items():
            related = k[: len(key)] == key or key[: len(k)] == k  # under it, or a value above it
            if s == svc and v == ver and related and (not strong_only or not leaf.weak):
                return True
        return False

    def value(self, tgt: Target, key: tuple[str, ...]) -> Any:
        """The value written at ``key`` for ``tgt`` (None when unset)."""
        leaf = self.leaves.get((tgt[0], tgt[1], key))
        return leaf.value if leaf is not None else None

    def clear(self, tgt: Target, block: str, origin: Origin) -> None:
        """Drop a whole block before an object sets it anew (blocks replace, never merge)."""
        svc, ver = tgt
        doomed = [full for full in self.leaves if full[0] == svc and full[1] == ver and full[2][0] == block]
        others = [
            self.leaves[f] for f in doomed if not self.leaves[f].weak and _other_object(self.leaves[f].origin, origin)
        ]
        if others:
            self._add(
                Note(
                    "approximated",
                    origin.file,
                    origin.line,
                    f"{origin.file}:{origin.line}: {origin.object}: {origin.source_field}: "
                    f"{_dotted(tgt, (block,))} was also set by {others[0].origin.describe()}; "
                    "the later block replaces it",
                )
            )
        for full in doomed:
            del self.leaves[full]

    def block(self, tgt: Target, name: str, cur: Cur, replace: bool = True) -> Block:
        """Start writing block ``name`` for ``tgt`` (clearing an earlier one unless ``replace=False``)."""
        if replace:
            self.clear(tgt, name, cur.origin())
        return Block(self, tgt, name, cur)

    # -- service hints ------------------------------------------------------------------------
    def service(self, name: str, cur: Cur) -> dict[str, Any]:
        if name not in self.services:
            self.services[name] = {}
            self.service_origins[(name, "")] = cur.origin()
        return self.services[name]

    def add_replicas(self, name: str, n: int, cur: Cur, source: str) -> None:
        """Add ``n`` replicas from workload ``source`` (counted once per workload)."""
        hints = self.service(name, cur)
        prev = self._replica_sources.get((name, source), 0)
        self._replica_sources[(name, source)] = n
        hints["replicas"] = int(hints.get("replicas", 0)) - prev + n
        self.service_origins[(name, "replicas")] = cur.origin()

    def add_version(self, name: str, version: str, cur: Cur) -> None:
        hints = self.service(name, cur)
        versions = hints.setdefault("versions", {})
        if version not in versions:
            versions[version] = {}
            self.service_origins[(name, f"versions.{version}")] = cur.origin()

    # -- one document at a time ----------------------------------------------------------------
    def checkpoint(self) -> tuple[Any, ...]:
        """The builder's state, to :meth:`rollback` to when a document turns out malformed."""
        return (
            dict(self.leaves),
            copy.deepcopy(self.services),
            dict(self.service_origins),
            list(self.notes),
            dict(self._replica_sources),
        )

    def rollback(self, state: tuple[Any, ...]) -> None:
        """Forget everything written since ``state`` was taken (keeping later problems)."""
        problems = [n for n in self.notes if n.kind == "problem" and n not in state[3]]
        self.leaves, self.services, self.service_origins, self.notes, self._replica_sources = (
            dict(state[0]),
            copy.deepcopy(state[1]),
            dict(state[2]),
            list(state[3]),
            dict(state[4]),
        )
        self._texts = {n.text for n in self.notes}
        for note in problems:
            self._add(note)

    # -- the result --------------------------------------------------------------------------------
    def _names(self) -> dict[str, str]:
        """Builder key -> service name: ``name``, or ``name-namespace`` when the name lives in several.

        A dash, not Kubernetes' dot, so ``--set policies.reviews-prod.timeout=2s`` still addresses it.
        """
        keys = {k[0] for k in self.leaves} | set(self.services)
        by_name: dict[str, set[str | None]] = {}
        for key in keys:
            name, _, ns = key.partition(_NS)
            by_name.setdefault(name, set()).add(ns or None)
        out: dict[str, str] = {}
        for key in keys:
            name, _, ns = key.partition(_NS)
            namespaces = {n for n in by_name[name] if n is not None}
            out[key] = f"{name}-{ns}" if ns and len(namespaces) > 1 else name
        for name, spaces in sorted(by_name.items()):
            named = sorted(n for n in spaces if n is not None)
            if len(named) > 1:
                self._add(
                    Note(
                        "approximated",
                        None,
                        None,
                        f"services named {name!r} in namespaces {', '.join(named)} are different services: "
                        f"imported as {', '.join(repr(f'{name}-{n}') for n in named)}"
                        + (f" (and {name!r} where no namespace is given)" if None in spaces else "")
                        + "; name the scenario's services so",
                    )
                )
        return out

    def result(self, files: list[str]) -> ImportResult:
        names = self._names()
        policies: dict[str, dict[str, Any]] = {}
        origins: dict[str, Origin] = {}
        for (key, ver, path), leaf in self.leaves.items():
            svc = names[key]
            pol = policies.setdefault(svc, {})
            node = pol.setdefault("versions", {}).setdefault(ver, {}) if ver is not None else pol
            for part in path[:-1]:
                nxt = node.get(part)
                if not isinstance(nxt, dict):
                    nxt = node[part] = {}
                node = nxt
            node[path[-1]] = leaf.value
            origins[_dotted((svc, ver), path)] = leaf.origin
        services: dict[str, dict[str, Any]] = {}
        for key, hints in self.services.items():
            merged = services.setdefault(names[key], {})
            for field_name, value in hints.items():
                if field_name == "versions":
                    merged.setdefault("versions", {}).update(value)
                elif field_name == "replicas":
                    merged["replicas"] = int(merged.get("replicas", 0)) + int(value)
                else:
                    merged[field_name] = value
        for (key, sub), origin in self.service_origins.items():
            origins[f"services.{names.get(key, key)}" + (f".{sub}" if sub else "")] = origin
        return ImportResult(
            format=self.fmt,
            policies=policies,
            services=services,
            origins=origins,
            warnings=[n.text for n in self.notes if n.kind != "irrelevant"],
            defaults=self.defaults,
            files=files,
            notes=list(self.notes),
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

    def fill(self, defaults: BlockDefaults, skip: tuple[str, ...] = ()) -> None:
        """Fill the unset fields with a mesh's per-field defaults for this block (weak values)."""
        values, note = defaults
        for fld, value in values.items():
            if fld.split(".")[0] in skip or self.has(fld):
                continue
            self.default(fld, list(value) if isinstance(value, list) else value, note)


def _other_object(a: Origin, b: Origin) -> bool:
    return (a.file, a.object) != (b.file, b.object)


def _dotted(tgt: Target, key: tuple[str, ...]) -> str:
    svc, ver = tgt
    name, _, ns = svc.partition(_NS)
    mid = f".versions.{ver}" if ver is not None else ""
    return f"policies.{name}{mid}." + ".".join(str(k) for k in key) + (f" (namespace {ns})" if ns else "")
