"""What meshsim knows about each real mesh: presets, block defaults and importers of real configuration.

``preset(name)`` gives what an unset policy field means in a mesh (``mesh.defaults``);
``import_mesh_config(format, path)`` reads a mesh's own files into scenario policies,
each value remembering the file and line it came from.
"""

from __future__ import annotations

from meshsim.meshes._base import MESH_WIDE
from meshsim.meshes._block_defaults import PRESET_FOR_FORMAT
from meshsim.meshes._importing import SUPPORTED_FORMATS, apply_mesh_wide, import_mesh_config
from meshsim.meshes._presets import NO_PRESET, PRESETS, PROXY_FOR_PRESET, preset
from meshsim.meshes._result import ImportResult, Origin, render_yaml

__all__ = [
    "MESH_WIDE",
    "NO_PRESET",
    "PRESETS",
    "PRESET_FOR_FORMAT",
    "PROXY_FOR_PRESET",
    "SUPPORTED_FORMATS",
    "ImportResult",
    "Origin",
    "apply_mesh_wide",
    "import_mesh_config",
    "preset",
    "render_yaml",
]
