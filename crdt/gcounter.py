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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crdt.base import Crdt, Op
from crdt.clocks import check_replica
from crdt.codec import register
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


@register
class GCounter(Crdt[int]):
    """A grow-only counter. ``counts`` maps replica id to that replica's increments."""

    type_name = "GCounter"
    operations = ("increment",)
    __slots__ = ("counts",)

    counts: Mapping[str, int]

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
        return self.counts.get(replica, 0)

    def merge(self, other: GCounter) -> GCounter:
        self._check_same_type(other, "merge")
        mine, theirs = self.counts, other.counts
        if len(theirs) > len(mine):
            mine, theirs = theirs, mine
        merged = dict(mine)
        for replica, count in theirs.items():
            if count > merged.get(replica, 0):
                merged[replica] = count
        return self._of(merged)

    def difference(self, delta: GCounter) -> GCounter | None:
        self._check_same_type(delta, "difference")
        ahead = {r: c for r, c in delta.counts.items() if c > self.counts.get(r, 0)}
        return self._of(ahead) if ahead else None

    # -- increment: state, delta and op forms --------------------------------------------------

    def increment(self, replica: str, amount: int = 1) -> GCounter:
        check_replica(self.type_name, "increment", replica)
        if not check_amount(self.type_name, "increment", amount):
            return self
        counts = dict(self.counts)
        counts[replica] = counts.get(replica, 0) + amount
        return self._of(counts)

    def increment_delta(self, replica: str, amount: int = 1) -> GCounter | None:
        check_replica(self.type_name, "increment", replica)
        if not check_amount(self.type_name, "increment", amount):
            return None
        return self._of({replica: self.get(replica) + amount})

    def prepare_increment(self, replica: str, amount: int = 1) -> Increment | None:
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
