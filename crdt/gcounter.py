"""Grow-only counter: one count per replica; join is the pointwise maximum; value is the sum.

>>> a = GCounter().increment("a", 2)
>>> b = GCounter().increment("b", 3)
>>> a.merge(b).value()
5
>>> a.merge(b) == b.merge(a) == a.merge(b).merge(a)
True
>>> a.increment_delta("a", 1)         # the delta carries only the replica's new count
GCounter({'a': 3})
>>> a.prepare_increment("a", 0) is None  # a mutation that changes nothing sends nothing
True
>>> a.increment("a", -1)
Traceback (most recent call last):
...
crdt.errors.InvalidOperationError: GCounter.increment: amount must be an integer >= 0, found -1
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crdt.base import Crdt, Op
from crdt.clocks import check_replica
from crdt.codec import canonical_json, register
from crdt.errors import DecodeError, InvalidOperationError

__all__ = ["GCounter", "Increment"]


@dataclass(frozen=True, slots=True)
class Increment(Op):
    """Add ``amount`` to ``replica``'s count (op form; not idempotent, needs exactly-once)."""

    replica: str
    amount: int

    def to_data(self) -> Any:
        return {"increment": [self.replica, self.amount]}


def check_amount(type_name: str, operation: str, amount: object) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise InvalidOperationError(type_name, operation, "amount must be an integer >= 0", amount)
    return amount


def decode_counts(type_name: str, data: Any) -> dict[str, int]:
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
        for k, v in data.items()
    ):
        raise DecodeError(type_name, "expected an object of replica -> positive integer", data)
    return dict(data)


# -- size and fingerprint, kept through merges and increments ----------------------------------
# The canonical encoding is {"state":{"r1":c1,...},"type":"GCounter"}: a fixed frame, one
# "r":c per replica and the commas between them. The fingerprint is the sum, modulo 2**64, of
# one term per entry, h(replica) * (2 * count + 1) with h a 64-bit hash of the replica id (a
# multiset hash: distinct counters collide with negligible probability), so a merge updates
# both from the entries it changes instead of encoding and hashing the whole counter.

_FRAME = len('{"state":{},"type":"GCounter"}')
_MASK = (1 << 64) - 1
_REPLICAS: dict[str, tuple[int, int]] = {}


def _replica(replica: str) -> tuple[int, int]:
    """(bytes of ``"replica":`` in the canonical encoding, a 64-bit hash of the id); cached
    (replica ids repeat; bounded like the trace's name cache)."""
    known = _REPLICAS.get(replica)
    if known is None:
        raw = replica.encode("utf-8", "surrogatepass")
        known = (len(canonical_json(replica).encode()) + 1,
                 int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little"))
        if len(_REPLICAS) < 1_000_000:
            _REPLICAS[replica] = known
    return known


def _stats_of(counts: Mapping[str, int]) -> tuple[int, int]:
    """(canonical byte length, fingerprint sum) of a counter with ``counts``, from scratch."""
    size = _FRAME + max(len(counts) - 1, 0)
    total = 0
    for replica, count in counts.items():
        nbytes, h = _REPLICAS.get(replica) or _replica(replica)
        size += nbytes + len(str(count))
        total += h * (2 * count + 1)
    return size, total & _MASK


def _stats_after(stats: tuple[int, int], counts: Mapping[str, int],
                 changes: list[tuple[str, int]]) -> tuple[int, int]:
    """The stats of ``counts`` updated by ``changes`` (distinct replicas, new counts)."""
    size, total = stats
    entries = len(counts)
    get = counts.get
    known = _REPLICAS.get
    for replica, count in changes:
        nbytes, h = known(replica) or _replica(replica)
        old = get(replica)
        if old is None:
            size += nbytes + len(str(count)) + (1 if entries else 0)
            entries += 1
            total += h * (2 * count + 1)
        else:
            size += len(str(count)) - len(str(old))
            total += h * 2 * (count - old)
    return size, total & _MASK


@register
class GCounter(Crdt[int]):
    """A grow-only counter. ``counts`` maps replica id to that replica's increments.

    ``merge`` costs what the smaller side holds, returns the dominating side itself when one
    dominates, and never sorts; size and fingerprint are kept through merges and increments.
    """

    type_name = "GCounter"
    kind = "counter"
    operations = ("increment",)
    op_types = (Increment,)
    __slots__ = ("counts", "_stats")

    counts: Mapping[str, int]
    _stats: tuple[int, int]  # (canonical byte length, fingerprint sum), set when first asked

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        clean = {r: check_amount("GCounter", "create", c) for r, c in (counts or {}).items()}
        object.__setattr__(self, "counts", {r: c for r, c in clean.items() if c})

    @classmethod
    def _of(cls, counts: dict[str, int]) -> GCounter:
        counter = object.__new__(cls)
        object.__setattr__(counter, "counts", counts)
        return counter

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.counts == other.counts

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"GCounter({dict(sorted(self.counts.items()))})"

    def value(self) -> int:
        return sum(self.counts.values())

    def get(self, replica: str) -> int:
        """``replica``'s count (0 for an unknown replica)."""
        return self.counts.get(replica, 0)

    def merge(self, other: GCounter) -> GCounter:
        self._check_same_type(other, "merge")
        if other is self:
            return self
        big, small = (self, other) if len(self.counts) >= len(other.counts) else (other, self)
        mine, theirs = big.counts, small.counts
        # In gossip one side often holds all of the other: checked in C, stopping at the
        # first entry that differs.
        if theirs.items() <= mine.items():
            return big
        get = mine.get
        ahead = [(r, c) for r, c in theirs.items() if c > get(r, 0)]
        if not ahead:
            return big
        merged = dict(mine)
        merged.update(ahead)
        if len(merged) == len(theirs) and merged == theirs:
            return small  # the smaller side dominates: keep it, with what it knows of itself
        return self._derived(big, merged, ahead)

    @classmethod
    def _derived(cls, base: GCounter, counts: dict[str, int], changes: list[tuple[str, int]]) -> GCounter:
        """A counter of ``counts`` (``base`` with ``changes``), inheriting base's stats."""
        counter = cls._of(counts)
        try:
            stats = base._stats
        except AttributeError:
            return counter  # computed when first asked
        object.__setattr__(counter, "_stats", _stats_after(stats, base.counts, changes))
        return counter

    def _stats_now(self) -> tuple[int, int]:
        try:
            return self._stats
        except AttributeError:
            stats = _stats_of(self.counts)
            object.__setattr__(self, "_stats", stats)
            return stats

    def _quick_size(self) -> int:
        return self._stats_now()[0]

    def _quick_fingerprint(self) -> str:
        return f"{self._stats_now()[1]:016x}"

    def difference(self, delta: GCounter) -> GCounter | None:
        self._check_same_type(delta, "difference")
        ahead = {r: c for r, c in delta.counts.items() if c > self.counts.get(r, 0)}
        return self._of(ahead) if ahead else None

    # -- increment: state, delta and op forms --------------------------------------------------

    def increment(self, replica: str, amount: int = 1) -> GCounter:
        """Add ``amount`` (a non-negative integer) to ``replica``'s count."""
        check_replica(self.type_name, "increment", replica)
        if not check_amount(self.type_name, "increment", amount):
            return self
        counts = dict(self.counts)
        change = [(replica, counts.get(replica, 0) + amount)]
        counts.update(change)
        return self._derived(self, counts, change)

    def increment_delta(self, replica: str, amount: int = 1) -> GCounter | None:
        """The delta of :meth:`increment` (merged in, it gives the same result); ``None`` when nothing changes."""
        check_replica(self.type_name, "increment", replica)
        if not check_amount(self.type_name, "increment", amount):
            return None
        return self._of({replica: self.get(replica) + amount})

    def prepare_increment(self, replica: str, amount: int = 1) -> Increment | None:
        """The op of :meth:`increment`, applied by :meth:`effect`; ``None`` when nothing changes."""
        check_replica(self.type_name, "increment", replica)
        if not check_amount(self.type_name, "increment", amount):
            return None
        return Increment(replica, amount)

    def effect(self, op: Op) -> GCounter:
        if not isinstance(op, Increment):
            raise InvalidOperationError(self.type_name, "effect", "expected an Increment op", op)
        return self.increment(op.replica, op.amount)

    # -- encoding --------------------------------------------------------------------------

    def to_data(self) -> Any:
        return dict(sorted(self.counts.items()))

    @classmethod
    def from_data(cls, data: Any) -> GCounter:
        return cls._of(decode_counts(cls.type_name, data))

    @classmethod
    def op_from_data(cls, data: Any) -> Increment:
        if (
            isinstance(data, dict)
            and set(data) == {"increment"}
            and isinstance(data["increment"], list)
            and len(data["increment"]) == 2
            and isinstance(data["increment"][0], str)
        ):
            replica, amount = data["increment"]
            try:
                return Increment(replica, check_amount(cls.type_name, "op_from_data", amount))
            except InvalidOperationError:
                pass
        raise DecodeError(cls.type_name, "expected {increment: [replica, amount >= 0]}", data)
