"""Import a real mesh's configuration as meshsim scenario policies.

>>> res = import_mesh_config("istio", "k8s/")          # doctest: +SKIP
>>> res.policies["reviews"]["split"]                     # doctest: +SKIP
{'v1': 80, 'v2': 20}

``res.policies`` holds one policy per destination service in the scenario's own
format (durations as strings); ``res.origins`` says, for each dotted field
(``policies.reviews.retries.attempts``), which file, line, object and field set
it; ``res.notes`` says what was approximated (and how), what is not modelled and
which files or objects could not be imported (``res.problems``); ``res.warnings``
is their text; ``res.defaults`` names the preset to put in ``mesh.defaults``;
``res.services`` carries service, replica and version hints from Kubernetes
workloads. The key ``"*"`` (:data:`MESH_WIDE`) holds a policy that applies to
every service, under the fields a named service sets itself.

A file named on its own must import whole: a malformed object, or an object of
another mesh (the message names the format that reads it), raises
:class:`meshsim.errors.MeshsimInputError` naming the file, the line and the field.
A folder imports what it can: each file or object that cannot be imported is
skipped and listed in ``res.problems``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from meshsim.errors import MeshsimInputError
from meshsim.meshes._builder import MESH_WIDE, Builder
from meshsim.meshes._common import MeshImporter
from meshsim.meshes._files import iter_files, load_documents
from meshsim.meshes._registry import FORMATS, MESHES
from meshsim.meshes._result import ImportResult

__all__ = ["SUPPORTED_FORMATS", "apply_mesh_wide", "import_mesh_config", "match_localities"]

#: The formats ``meshsim import`` reads (the registry's names).
SUPPORTED_FORMATS = FORMATS


def import_mesh_config(fmt: str, path: str | Path) -> ImportResult:
    """Read the mesh configuration at ``path`` (a file or a folder, recursively).

    Args:
        fmt: one of :data:`SUPPORTED_FORMATS`.
        path: a ``.yaml``/``.yml``/``.json``/``.hcl`` file (App Mesh ``*.template`` too) or a folder.

    Returns:
        An :class:`ImportResult`; durations in its policies are strings such as ``"250ms"``.

    Raises:
        MeshsimInputError: unknown format, missing path, or (for a file named on its own) a
            malformed document or one of another mesh's format.
    """
    fmt_l = str(fmt).strip().lower()
    if fmt_l not in MESHES:
        raise MeshsimInputError(f"unknown mesh format {fmt!r}; choose one of {', '.join(FORMATS)}", field="format")
    root = Path(path)
    if not root.exists():
        raise MeshsimInputError(f"no such file or folder: {root}", file=str(root))
    unit = MESHES[fmt_l]
    builder = Builder(fmt_l, unit.import_preset)
    importer = unit.importer(builder, MESHES)
    explicit = root.is_file()
    files = iter_files(root)
    if not files:
        builder.file_note(None, "problem", f"{root}: no configuration files (*.yaml, *.yml, *.json, *.hcl) found")
    shown: list[str] = []
    for f in files:
        display = str(f) if explicit else str(root / f.relative_to(root))
        shown.append(display)
        _import_file(importer, builder, f, display, explicit, fmt_l)
    try:
        importer.finish()
    except MeshsimInputError as exc:
        if explicit:
            raise
        _record(builder, exc, "skipped")
    return builder.result(shown)


def _import_file(importer: MeshImporter, builder: Builder, f: Path, display: str, explicit: bool, fmt: str) -> None:
    """One file, one document at a time: a malformed document is undone and listed as a problem."""
    try:
        docs, warnings = load_documents(f, display, explicit=explicit, substitute=fmt == "appmesh")
    except MeshsimInputError as exc:
        if explicit:
            raise
        _record(builder, exc, "file skipped")
        return
    for w in warnings:
        builder.file_note(display, "approximated", w)
    own, foreign = importer.own, len(importer.foreign)
    for doc in docs:
        state = builder.checkpoint(), importer.checkpoint()
        try:
            importer.handle(doc)
        except MeshsimInputError as exc:
            if explicit:
                raise
            builder.rollback(state[0])
            importer.rollback(state[1])
            _record(builder, exc, "object skipped")
    if len(importer.foreign) > foreign and importer.own == own:
        # Nothing in the file is this mesh's: it is another mesh's configuration.
        first = importer.foreign[foreign]
        if explicit:
            raise first
        _record(builder, first, "file skipped")


def _record(builder: Builder, exc: MeshsimInputError, what: str) -> None:
    for p in exc.problems or []:
        builder.problem(p.file, p.line, f"{p.render()}; {what}")


def apply_mesh_wide(policies: dict[str, Any], services: Iterable[str]) -> dict[str, Any]:
    """Fold the ``"*"`` policy into every service's own, field by field; the service's fields win.

    ``"*"`` comes from Kuma's ``targetRef: {kind: Mesh}`` and Consul's
    ``UpstreamConfig.Defaults``; both meshes merge such defaults field by field
    under the more specific policy (reference sections 3 and 5). Returns a new
    mapping without ``"*"``; ``services`` names every service of the scenario.
    """
    wide = policies.get(MESH_WIDE)
    out = {k: copy.deepcopy(v) for k, v in policies.items() if k != MESH_WIDE}
    if not wide:
        return out
    for name in services:
        out[name] = _merge_under(copy.deepcopy(wide), out.get(name, {}))
    return out


def _merge_under(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key not in ("split", "versions"):
            base[key] = _merge_under(base[key], value)
        else:
            base[key] = value
    return base


def match_localities(names: Iterable[str], locations: Iterable[str]) -> tuple[list[str], list[str]]:
    """Map a mesh's locality names onto a scenario's locations: ``(matched, messages)``.

    Meshes name a locality by its own parts: Istio ``region/zone/subzone``, Kuma a zone,
    Consul a datacenter; a scenario names ``cloud/region/zone``. A name matches the
    location it equals, else the one location whose trailing parts it equals
    (``us-east1`` -> ``gcp/us-east1``; ``us-east1/us-east1-b`` -> ``gcp/us-east1/us-east1-b``).
    An Istio subzone is dropped (meshsim has no subzones). Each name that matches none,
    or several, is dropped with a message.
    """
    known = sorted(set(locations))
    matched: list[str] = []
    messages: list[str] = []
    for raw in names:
        name = str(raw).strip("/")
        parts = [p for p in name.split("/") if p and p != "*"]
        candidates = [name] if name in known else []
        while not candidates and parts:
            tail = "/".join(parts)
            candidates = [loc for loc in known if loc == tail or loc.endswith("/" + tail)]
            if not candidates and len(parts) > 1:
                parts = parts[:-1]  # region/zone/subzone -> region/zone -> region
                continue
            break
        if len(candidates) == 1:
            if candidates[0] not in matched:
                matched.append(candidates[0])
            if candidates[0] != name:
                messages.append(f"locality '{raw}' matched scenario location '{candidates[0]}'")
        elif candidates:
            messages.append(f"locality '{raw}' matches several scenario locations ({', '.join(candidates)}); dropped")
        else:
            messages.append(
                f"locality '{raw}' is not a location of this scenario ({', '.join(known) or 'none declared'}); dropped"
            )
    return matched, messages
