"""Named random streams derived from one seed.

Every consumer of randomness asks for its own stream by a stable name; the stream's seed is
SHA-256 of (seed, name), so adding a consumer never shifts another consumer's draws, and the
result does not depend on ``PYTHONHASHSEED`` (unlike ``hash(str)``).

>>> a = derive_rng(7, "workload").random()
>>> a == derive_rng(7, "workload").random()
True
>>> a == derive_rng(7, "nemesis").random()
False

A :class:`KeyedRandom` is the other kind of stream: each draw is a hash of a salt, the clock's
time and the draw's ordinal at that time, so it does not depend on how many draws came before
(the network's keyed link draws, ``links: {draws: keyed}``).
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Callable

__all__ = ["KeyedRandom", "RngRegistry", "derive_rng", "derive_seed", "keyed_bits", "keyed_pair_rng"]

_MASK = (1 << 64) - 1
#: 2**64 / golden ratio, splitmix64's increment
_GOLDEN = 0x9E3779B97F4A7C15
_double = struct.Struct("<d")


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


def _mix64(z: int) -> int:
    """splitmix64's finalizer: a bijection of 64-bit integers that spreads every input bit."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def keyed_bits(salt: int, time: float, ordinal: int) -> int:
    """64 random bits for draw ``ordinal`` at ``time`` of the stream salted ``salt``.

    The time enters by its float's bits (the same float always gives the same bits, in any
    process), and two rounds of mixing separate the time from the ordinal: draws at one time
    differ by ordinal, draws at two times by time, and neither depends on any other draw.

    >>> keyed_bits(1, 0.5, 0) == keyed_bits(1, 0.5, 0), keyed_bits(1, 0.5, 0) == keyed_bits(1, 0.5, 1)
    (True, False)
    """
    z = _mix64((salt ^ int.from_bytes(_double.pack(time), "little")) & _MASK)
    return _mix64((z + (ordinal + 1) * _GOLDEN) & _MASK)


class KeyedRandom(random.Random):
    """A :class:`random.Random` whose draws are keyed by ``(salt, clock(), ordinal)``.

    The ordinal counts this stream's draws at the clock's current time (it restarts at 0 when the
    time moves), so a draw at time ``t`` does not depend on any draw at an earlier time: remove
    an earlier message and a later one is still lost, or late, exactly as before. Only
    :meth:`random` and :meth:`getrandbits` are keyed; every sampler of :class:`random.Random`
    (``expovariate``, ``lognormvariate``, ``choice``, ...) is built on them. :meth:`gauss` keeps
    no second value between calls (``random.Random.gauss`` does, which would carry a draw over
    from one message to the next).

    >>> now = [0.0]
    >>> a, b = KeyedRandom(5, lambda: now[0]), KeyedRandom(5, lambda: now[0])
    >>> first = a.random()
    >>> now[0] = 1.0
    >>> a.random() == b.random()  # b made no draw at 0.0: its draw at 1.0 is a's all the same
    True
    """

    def __init__(self, salt: int, clock: Callable[[], float]) -> None:
        self._salt = salt & _MASK
        self._clock = clock
        self._at: float | None = None
        self._ordinal = 0
        super().__init__(self._salt)  # the Mersenne Twister state is unused, but must be valid

    def _next(self) -> int:
        now = self._clock()
        if now == self._at:
            self._ordinal += 1
        else:
            self._at, self._ordinal = now, 0
        return keyed_bits(self._salt, now, self._ordinal)

    def random(self) -> float:
        """A float in [0, 1) from 53 keyed bits (what ``random.Random.random`` returns)."""
        return (self._next() >> 11) * (1.0 / 9007199254740992.0)

    def getrandbits(self, k: int) -> int:
        """``k`` keyed bits; one draw per 64 of them."""
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        out, have = 0, 0
        while have < k:
            out, have = (out << 64) | self._next(), have + 64
        return out >> (have - k)

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        """A normal draw with nothing kept for the next call (see the class docstring)."""
        return self.normalvariate(mu, sigma)


def keyed_pair_rng(seed: int, src: str, dst: str, clock: Callable[[], float]) -> KeyedRandom:
    """The keyed stream of the directed link ``src -> dst`` of a run with ``seed``: its salt
    is SHA-256 of the seed and the pair, so it does not depend on ``PYTHONHASHSEED``."""
    return KeyedRandom(derive_seed(seed, f"net-keyed:{src}\x00{dst}"), clock)
