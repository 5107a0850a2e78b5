"""Deterministic random streams: one SeedSequence per experiment, one named stream per source.

A stream is keyed by (replication, name), not by the order in which streams are
created, so adding a fault or changing a retry policy does not reshuffle the
arrival stream (common random numbers across what-if runs).
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Streams", "replication_seeds"]


def _name_key(name: str) -> int:
    # crc32 is stable across Python runs (unlike hash()), which keeps results
    # byte-identical whatever process runs the replication.
    return zlib.crc32(name.encode("utf-8"))


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """Return one SeedSequence per replication, spawned from the scenario's seed."""
    return np.random.SeedSequence(seed).spawn(replications)


class Streams:
    """Named random generators for one replication."""

    def __init__(self, seed_sequence: np.random.SeedSequence) -> None:
        """Derive every stream from ``seed_sequence`` (one replication's)."""
        self._entropy = seed_sequence.entropy
        self._spawn_key = tuple(seed_sequence.spawn_key)
        self._cache: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        """Return the generator for ``name`` (e.g. ``"arrivals/browse"``), creating it once."""
        gen = self._cache.get(name)
        if gen is None:
            ss = np.random.SeedSequence(entropy=self._entropy, spawn_key=self._spawn_key + (_name_key(name),))
            gen = np.random.Generator(np.random.PCG64(ss))
            self._cache[name] = gen
        return gen
