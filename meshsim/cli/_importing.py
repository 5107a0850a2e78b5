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
    p.add_argument(
        "--report",
        action="store_true",
        help="print, per file, what was modelled, approximated and not modelled, and any problem "
        "(instead of the policies when there is no -o)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when any file or object could not be imported (a folder otherwise imports what it can)",
    )
    p.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from meshsim.cli._common import write_text
    from meshsim.errors import MeshsimInputError
    from meshsim.meshes import import_mesh_config

    if not Path(args.path).exists():
        raise MeshsimInputError(f"no such file or folder: {args.path}", file=args.path)
    result = import_mesh_config(args.format, args.path)
    problems = result.problems
    if not args.report:
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    if args.strict and problems:
        for p in problems:
            print(f"error: {p.text}", file=sys.stderr)
        print(f"{len(problems)} file(s) or object(s) could not be imported (--strict)", file=sys.stderr)
        if args.report:
            sys.stdout.write(result.report())
        return 2
    if problems:
        print(
            f"{len(problems)} file(s) or object(s) could not be imported and were skipped "
            "(listed above; --strict makes this an error)",
            file=sys.stderr,
        )
    text = result.to_yaml()
    if args.output:
        write_text(args.output, text)
        print(
            f"wrote {len(result.policies)} policies to {args.output}"
            + (f" (mesh.defaults: {result.defaults})" if result.defaults else ""),
            file=sys.stderr,
        )
    if args.report:
        sys.stdout.write(result.report())
    elif not args.output:
        sys.stdout.write(text)
    return 0
