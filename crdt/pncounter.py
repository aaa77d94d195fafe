"""Positive-negative counter: two grow-only counters, one for increments and one for decrements.

The value is ``P - N``. Each half is a :class:`~crdt.gcounter.GCounter`, so the join is the
pointwise maximum of each half and a decrement is never lost to a concurrent increment.

>>> a = PNCounter().increment("a", 5)
>>> b = PNCounter().decrement("b", 2)
>>> a.merge(b).value()
3
>>> a.merge(b) == b.merge(a) == a.merge(b).merge(b)
True
>>> a.decrement_delta("a", 1)          # the delta carries only the replica's new N count
PNCounter(p={}, n={'a': 1})
>>> a.prepare_increment("a", 0) is None  # a mutation that changes nothing sends nothing
True
>>> a.decrement("a", -1)
Traceback (most recent call last):
...
crdt.errors.InvalidOperationError: PNCounter.decrement: amount must be an integer >= 0, found -1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crdt.base import Crdt, Op
from crdt.codec import register
from crdt.errors import DecodeError, InvalidOperationError
from crdt.gcounter import GCounter, Increment, check_amount, decode_counts

__all__ = ["PNCounter", "Decrement"]


@dataclass(frozen=True, slots=True)
class Decrement(Op):
    """Subtract ``amount`` at ``replica`` (op form; not idempotent, needs exactly-once)."""

    replica: str
    amount: int

    def to_data(self) -> Any:
        return {"decrement": [self.replica, self.amount]}


@register
class PNCounter(Crdt[int]):
    """A counter that goes up and down. ``p`` counts increments, ``n`` decrements."""

    type_name = "PNCounter"
    kind = "counter"
    operations = ("increment", "decrement")
    op_types = (Increment, Decrement)
    __slots__ = ("p", "n")

    p: GCounter
    n: GCounter

    def __init__(self, p: GCounter | None = None, n: GCounter | None = None) -> None:
        for half in (p, n):
            if half is not None and type(half) is not GCounter:
                raise InvalidOperationError(
                    self.type_name, "create", "p and n must be GCounters", half
                )
        object.__setattr__(self, "p", p or GCounter())
        object.__setattr__(self, "n", n or GCounter())

    @classmethod
    def _of(cls, p: GCounter, n: GCounter) -> PNCounter:
        counter = object.__new__(cls)
        object.__setattr__(counter, "p", p)
        object.__setattr__(counter, "n", n)
        return counter

    def __eq__(self, other: object) -> bool:
        return type(other) is PNCounter and self.p == other.p and self.n == other.n

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PNCounter(p={self.p.to_data()}, n={self.n.to_data()})"

    def value(self) -> int:
        return self.p.value() - self.n.value()

    def merge(self, other: PNCounter) -> PNCounter:
        self._check_same_type(other, "merge")
        return PNCounter._of(self.p.merge(other.p), self.n.merge(other.n))

    def difference(self, delta: PNCounter) -> PNCounter | None:
        self._check_same_type(delta, "difference")
        p, n = self.p.difference(delta.p), self.n.difference(delta.n)
        if p is None and n is None:
            return None
        return PNCounter._of(p or GCounter(), n or GCounter())

    # -- increment: state, delta and op forms --------------------------------------------------

    def increment(self, replica: str, amount: int = 1) -> PNCounter:
        """Add ``amount`` (a non-negative integer) at ``replica``."""
        if not check_amount(self.type_name, "increment", amount):
            return self
        return PNCounter._of(self.p.increment(replica, amount), self.n)

    def increment_delta(self, replica: str, amount: int = 1) -> PNCounter | None:
        """The delta of :meth:`increment` (merged in, it gives the same result); ``None`` when nothing changes."""
        if not check_amount(self.type_name, "increment", amount):
            return None
        return PNCounter._of(
            GCounter._of({replica: self.p.get(replica) + amount}), GCounter._of({})
        )

    def prepare_increment(self, replica: str, amount: int = 1) -> Increment | None:
        """The op of :meth:`increment`, applied by :meth:`effect`; ``None`` when nothing changes."""
        if not check_amount(self.type_name, "increment", amount):
            return None
        return Increment(replica, amount)

    # -- decrement: state, delta and op forms --------------------------------------------------

    def decrement(self, replica: str, amount: int = 1) -> PNCounter:
        """Subtract ``amount`` (a non-negative integer) at ``replica``."""
        if not check_amount(self.type_name, "decrement", amount):
            return self
        return PNCounter._of(self.p, self.n.increment(replica, amount))

    def decrement_delta(self, replica: str, amount: int = 1) -> PNCounter | None:
        """The delta of :meth:`decrement` (merged in, it gives the same result); ``None`` when nothing changes."""
        if not check_amount(self.type_name, "decrement", amount):
            return None
        return PNCounter._of(
            GCounter._of({}), GCounter._of({replica: self.n.get(replica) + amount})
        )

    def prepare_decrement(self, replica: str, amount: int = 1) -> Decrement | None:
        """The op of :meth:`decrement`, applied by :meth:`effect`; ``None`` when nothing changes."""
        if not check_amount(self.type_name, "decrement", amount):
            return None
        return Decrement(replica, amount)

    def effect(self, op: Op) -> PNCounter:
        if isinstance(op, Increment):
            return self.increment(op.replica, op.amount)
        if isinstance(op, Decrement):
            return self.decrement(op.replica, op.amount)
        raise InvalidOperationError(
            self.type_name, "effect", "expected an Increment or Decrement op", op
        )

    # -- encoding --------------------------------------------------------------------------

    def to_data(self) -> Any:
        return {"n": self.n.to_data(), "p": self.p.to_data()}

    @classmethod
    def from_data(cls, data: Any) -> PNCounter:
        if not isinstance(data, dict) or set(data) != {"p", "n"}:
            raise DecodeError(
                cls.type_name, "expected {p: {replica: count}, n: {replica: count}}", data
            )
        p = GCounter._of(decode_counts(cls.type_name, data["p"]))
        n = GCounter._of(decode_counts(cls.type_name, data["n"]))
        return cls._of(p, n)

    @classmethod
    def op_from_data(cls, data: Any) -> Increment | Decrement:
        if isinstance(data, dict) and len(data) == 1:
            ((name, args),) = data.items()
            if name in ("increment", "decrement") and isinstance(args, list) and len(args) == 2:
                replica, amount = args
                if isinstance(replica, str):
                    try:
                        amount = check_amount(cls.type_name, "op_from_data", amount)
                    except InvalidOperationError:
                        pass
                    else:
                        if name == "increment":
                            return Increment(replica, amount)
                        return Decrement(replica, amount)
        raise DecodeError(
            cls.type_name, "expected {increment|decrement: [replica, amount >= 0]}", data
        )
