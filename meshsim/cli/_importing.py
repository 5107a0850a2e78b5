"""``meshsim import FORMAT PATH``: a real mesh's configuration as scenario policies."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    from meshsim.meshes import SUPPORTED_FORMATS

    p = sub.add_parser("import", help="turn a real mesh's configuration into scenario policies")
    p.add_argument("format", choices=SUPPORTED_FORMATS)
    p.add_argument("path", help="a file or a folder (searched recursively)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the policies YAML here (default: stdout)")
    p.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from meshsim.cli._common import write_text
    from meshsim.errors import MeshsimInputError
    from meshsim.meshes import import_mesh_config

    if not Path(args.path).exists():
        raise MeshsimInputError(f"no such file or folder: {args.path}", file=args.path)
    result = import_mesh_config(args.format, args.path)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    text = result.to_yaml()
    if args.output:
        write_text(args.output, text)
        print(
            f"wrote {len(result.policies)} policies to {args.output}"
            + (f" (mesh.defaults: {result.defaults})" if result.defaults else ""),
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0
