"""Named random streams derived from one seed.

Every consumer of randomness asks for its own stream by a stable name; the stream's seed is
SHA-256 of (seed, name), so adding a consumer never shifts another consumer's draws, and the
result does not depend on ``PYTHONHASHSEED`` (unlike ``hash(str)``).

>>> a = derive_rng(7, "workload").random()
>>> a == derive_rng(7, "workload").random()
True
>>> a == derive_rng(7, "nemesis").random()
False
"""

from __future__ import annotations

import hashlib
import random

__all__ = ["RngRegistry", "derive_rng", "derive_seed"]


def derive_seed(seed: int, name: str) -> int:
    """A 256-bit integer seed for stream ``name`` of ``seed``."""
    digest = hashlib.sha256(f"{int(seed)}\x00{name}".encode()).digest()
    return int.from_bytes(digest, "big")


def derive_rng(seed: int, name: str) -> random.Random:
    """A fresh :class:`random.Random` for stream ``name`` of ``seed``."""
    return random.Random(derive_seed(seed, name))


class RngRegistry:
    """Caches one stream per name, so repeated ``rng(name)`` calls continue the same stream.

    >>> reg = RngRegistry(1)
    >>> reg("x") is reg("x")
    True
    """

    __slots__ = ("_seed", "_streams")

    def __init__(self, seed: int) -> None:
        self._seed = int(seed)
        self._streams: dict[str, random.Random] = {}

    @property
    def seed(self) -> int:
        return self._seed

    def __call__(self, name: str) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = derive_rng(self._seed, name)
        return stream
