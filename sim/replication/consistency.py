"""Read and write consistency levels, as in Akka Distributed Data.

A level says how many replicas (the local one included) must answer before a read or write
succeeds, and how long to wait before reporting failure.

>>> Majority().required(5), Majority(min_cap=4).required(5), To(2).required(5), All().required(5)
(3, 4, 2, 5)
>>> Local.required(5)
1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sim.errors import ConfigError

__all__ = ["Consistency", "Local", "To", "Majority", "All"]

Level = Literal["local", "to", "majority", "all"]


@dataclass(frozen=True, slots=True)
class Consistency:
    """How many replicas must answer a read or write (``level``: ``local``, ``to`` ``n``,
    ``majority`` but at least ``min_cap``, ``all``) within ``timeout`` seconds; build one with
    :data:`Local`, :func:`To`, :func:`Majority` or :func:`All`."""

    level: Level = "local"
    n: int = 1
    min_cap: int = 0
    timeout: float = 1.0

    def __post_init__(self) -> None:
        if self.level not in ("local", "to", "majority", "all"):
            raise ConfigError("consistency", "must be local, to, majority or all", self.level)
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ConfigError("consistency n", "must be an integer >= 1", self.n)
        if not isinstance(self.timeout, int | float) or not self.timeout > 0:
            raise ConfigError("consistency timeout", "must be a positive number of seconds", self.timeout)

    def required(self, total: int) -> int:
        """How many replicas out of ``total`` must take part, the local one included."""
        if self.level == "local":
            return 1
        if self.level == "to":
            return min(self.n, total)
        if self.level == "majority":
            return min(total, max(total // 2 + 1, self.min_cap))
        return total


#: only the local replica: a write succeeds at once and spreads in the background
Local = Consistency("local")


def To(n: int, timeout: float = 1.0) -> Consistency:  # noqa: N802 - reads like Akka's WriteTo
    """``n`` replicas (the local one included), or every replica when there are fewer.

    >>> To(3).required(2)
    2
    """
    return Consistency("to", n=n, timeout=timeout)


def Majority(timeout: float = 1.0, min_cap: int = 0) -> Consistency:  # noqa: N802
    """More than half of the replicas, and at least ``min_cap`` of them.

    >>> Majority().required(4), Majority(min_cap=4).required(5)
    (3, 4)
    """
    return Consistency("majority", min_cap=min_cap, timeout=timeout)


def All(timeout: float = 1.0) -> Consistency:  # noqa: N802
    """Every replica of the key.

    >>> All().required(7)
    7
    """
    return Consistency("all", timeout=timeout)
