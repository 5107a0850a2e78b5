"""Import a real mesh's configuration as meshsim scenario policies (issue 8).

>>> res = import_mesh_config("istio", "k8s/")          # doctest: +SKIP
>>> res.policies["reviews"]["split"]                     # doctest: +SKIP
{'v1': 80, 'v2': 20}

``res.policies`` holds one policy per destination service in the scenario's own
format (durations as strings); ``res.origins`` says, for each dotted field
(``policies.reviews.retries.attempts``), which file, line, object and field set
it; ``res.warnings`` lists every traffic-relevant field that is not modelled;
``res.defaults`` names the preset to put in ``mesh.defaults``; ``res.services``
carries service, replica and version hints from Kubernetes workloads. The key
``"*"`` (:data:`MESH_WIDE`) holds a policy that applies to every service, under
the fields a named service sets itself.

Malformed input raises :class:`meshsim.errors.MeshsimInputError` naming the file,
the line and the field.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from meshsim.errors import MeshsimInputError
from meshsim.meshes._base import MESH_WIDE, Builder
from meshsim.meshes._block_defaults import PRESET_FOR_FORMAT
from meshsim.meshes._common import MeshImporter
from meshsim.meshes._files import iter_files, load_documents
from meshsim.meshes._result import ImportResult

__all__ = ["SUPPORTED_FORMATS", "apply_mesh_wide", "import_mesh_config"]

SUPPORTED_FORMATS = ("istio", "linkerd", "consul", "appmesh", "kuma", "traefik", "kubernetes")


def _importer_class(fmt: str) -> type[MeshImporter]:
    # Imported here so that reading one format never loads the others' code.
    if fmt == "istio":
        from meshsim.meshes._istio import IstioImporter

        return IstioImporter
    if fmt == "linkerd":
        from meshsim.meshes._linkerd import LinkerdImporter

        return LinkerdImporter
    if fmt == "consul":
        from meshsim.meshes._consul import ConsulImporter

        return ConsulImporter
    if fmt == "appmesh":
        from meshsim.meshes._appmesh import AppMeshImporter

        return AppMeshImporter
    if fmt == "kuma":
        from meshsim.meshes._kuma import KumaImporter

        return KumaImporter
    if fmt == "traefik":
        from meshsim.meshes._traefik import TraefikImporter

        return TraefikImporter
    from meshsim.meshes._kubernetes import KubernetesImporter

    return KubernetesImporter


def import_mesh_config(fmt: str, path: str | Path) -> ImportResult:
    """Read the mesh configuration at ``path`` (a file or a folder, recursively).

    Args:
        fmt: one of :data:`SUPPORTED_FORMATS`.
        path: a ``.yaml``/``.yml``/``.json``/``.hcl`` file (App Mesh ``*.template`` too) or a folder.

    Returns:
        An :class:`ImportResult`; durations in its policies are strings such as ``"250ms"``.

    Raises:
        MeshsimInputError: unknown format, missing path, or a malformed document.
    """
    fmt_l = str(fmt).strip().lower()
    if fmt_l not in SUPPORTED_FORMATS:
        raise MeshsimInputError(
            f"unknown mesh format {fmt!r}; choose one of {', '.join(SUPPORTED_FORMATS)}", field="format"
        )
    root = Path(path)
    if not root.exists():
        raise MeshsimInputError(f"no such file or folder: {root}", file=str(root))
    builder = Builder(fmt_l, PRESET_FOR_FORMAT[fmt_l])
    importer = _importer_class(fmt_l)(builder)
    explicit = root.is_file()
    files = iter_files(root)
    if not files:
        builder.warn_raw(f"{root}: no configuration files (*.yaml, *.yml, *.json, *.hcl) found")
    shown: list[str] = []
    for f in files:
        display = str(f) if explicit else str(root / f.relative_to(root))
        shown.append(display)
        docs, warnings = load_documents(f, display, explicit=explicit, substitute=fmt_l == "appmesh")
        for w in warnings:
            builder.warn_raw(w)
        for doc in docs:
            importer.handle(doc)
    importer.finish()
    return builder.result(shown)


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
