"""What meshsim knows about each real mesh: one unit per mesh, listed in one registry.

Each mesh is one module (a package when it is large) holding its presets (written as the
differences from one Envoy base), the per-field defaults of the blocks its objects write
partly, its proxy and overhead prior, its importer, and a table of the semantics it
implements with their sources (:class:`MeshUnit`). :data:`MESHES` is the registry.

``preset(name)`` gives what an unset policy field means in a mesh (``mesh.defaults``);
``import_mesh_config(format, path)`` reads a mesh's own files into scenario policies,
each value remembering the file and line it came from.
"""

from __future__ import annotations

from meshsim.meshes._builder import MESH_WIDE
from meshsim.meshes._files import iter_files
from meshsim.meshes._importing import SUPPORTED_FORMATS, apply_mesh_wide, import_mesh_config, match_localities
from meshsim.meshes._preset import MeshUnit, OutlierDefaults, Preset, Proxy, Semantic
from meshsim.meshes._registry import (
    MESHES,
    NO_PRESET,
    PRESET_FOR_FORMAT,
    PRESET_NAMES,
    PRESETS,
    PROXY_FOR_PRESET,
    PROXY_NAMES,
    PROXY_OVERHEAD,
    RETRY_BUDGET_DEFAULTS,
    preset,
)
from meshsim.meshes._result import ImportResult, Note, Origin, render_report, render_yaml
from meshsim.meshes._traefik import RETRY_NETWORK as TRAEFIK_RETRY_NETWORK
from meshsim.meshes._traefik import RETRY_STATUS as TRAEFIK_RETRY_STATUS
from meshsim.meshes._traefik._breaker import parse_breaker_expression as parse_traefik_breaker

__all__ = [
    "MESHES",
    "MESH_WIDE",
    "NO_PRESET",
    "PRESETS",
    "PRESET_FOR_FORMAT",
    "PRESET_NAMES",
    "PROXY_FOR_PRESET",
    "PROXY_NAMES",
    "PROXY_OVERHEAD",
    "RETRY_BUDGET_DEFAULTS",
    "SUPPORTED_FORMATS",
    "TRAEFIK_RETRY_NETWORK",
    "TRAEFIK_RETRY_STATUS",
    "ImportResult",
    "MeshUnit",
    "Note",
    "Origin",
    "OutlierDefaults",
    "Preset",
    "Proxy",
    "Semantic",
    "apply_mesh_wide",
    "import_mesh_config",
    "iter_files",
    "match_localities",
    "parse_traefik_breaker",
    "preset",
    "render_report",
    "render_yaml",
]
