"""Shared by the importer tests: where a needle sits in an example file."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "importers"


def line_of(path: Path, needle: str, after: int = 0) -> int:
    """1-based line of the first occurrence of ``needle`` after line ``after``."""
    for i, text in enumerate(path.read_text().splitlines(), start=1):
        if i > after and needle in text:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def notes(res: object, kind: str | None = None) -> list[str]:
    """The texts of an import's notes (of one kind: problem, approximated, ignored, irrelevant)."""
    return [n.text for n in res.notes if kind is None or n.kind == kind]  # type: ignore[attr-defined]
