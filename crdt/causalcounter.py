"""Causal counter (Almeida et al.'s CCounter): a counter that can be reset by an ORMap remove.

The state is a dot fun plus a causal context: each replica keeps one dot holding its
accumulated contribution. An ``increment`` or ``decrement`` at replica ``r`` makes a new dot
with ``r``'s old total plus the change and drops ``r``'s old dot. Merging keeps, per replica,
the dot the other side has not superseded, so the value is the sum of every replica's latest
contribution.

>>> a = CausalCounter().increment("a", 5)
>>> b = a.merge(CausalCounter().increment("b", 2)).decrement("b", 1)
>>> a.merge(b).value(), b.merge(a).value()
(6, 6)
>>> a.increment_delta("a", 1)   # the delta carries a's new total under a new dot
CausalCounter({a2: 6}, context={a:2})

Why it exists: nested in an :class:`~crdt.ormap.ORMap`, removing a key drops the dots the
remover saw, so a counter is *reset* by a remove, unlike a PNCounter whose counts never go.
The reset works per replica dot: a replica that updates concurrently with a remove keeps its
*whole* latest contribution (its new dot carries its accumulated total), while contributions
of replicas that did not update concurrently are removed. An amount of 0 is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from crdt.base import Op
from crdt.clocks import CausalContext, Dot
from crdt.codec import register
from crdt.dotstore import (
    CausalCrdt,
    context_of,
    context_repr,
    decode_dot,
    decode_dots,
    encode_dots,
    join_dot_funs,
    next_dot,
)
from crdt.errors import DecodeError
from crdt.gcounter import check_amount

__all__ = ["CausalCounter", "CausalCounterUpdate"]


@dataclass(frozen=True, slots=True)
class CausalCounterUpdate(Op):
    """Set the source replica's contribution to ``total`` under ``dot``, replacing ``observed``."""

    dot: Dot
    total: int
    observed: frozenset[Dot]

    def to_data(self) -> Any:
        return {"update": [self.dot.to_data(), self.total, encode_dots(self.observed)]}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@register
class CausalCounter(CausalCrdt[int]):
    """A positive-negative counter over a dot fun; nests in ORMap with reset-remove."""

    type_name = "CausalCounter"
    kind = "counter"
    operations = ("increment", "decrement")
    op_types = (CausalCounterUpdate,)
    __slots__ = ()

    store: Mapping[Dot, int]

    @classmethod
    def _empty_store(cls) -> Mapping[Dot, int]:
        return {}

    @classmethod
    def _join_stores(
        cls, a: Mapping[Dot, int], ca: CausalContext, b: Mapping[Dot, int], cb: CausalContext
    ) -> Mapping[Dot, int]:
        return join_dot_funs(a, ca, b, cb)

    @classmethod
    def _store_dots(cls, store: Mapping[Dot, int]) -> Iterator[Dot]:
        return iter(store)

    @classmethod
    def _store_value(cls, store: Mapping[Dot, int]) -> int:
        return sum(store.values())

    @classmethod
    def _store_to_data(cls, store: Mapping[Dot, int]) -> Any:
        return [[d.to_data(), store[d]] for d in sorted(store)]

    @classmethod
    def _store_from_data(cls, data: Any) -> Mapping[Dot, int]:
        if not isinstance(data, list) or not all(
            isinstance(p, list) and len(p) == 2 and _is_int(p[1]) for p in data
        ):
            raise DecodeError(cls.type_name, "expected a list of [dot, integer] pairs", data)
        store = {decode_dot(cls.type_name, d): v for d, v in data}
        if len(store) != len(data):
            raise DecodeError(cls.type_name, "a dot is listed twice", data)
        return store

    def __repr__(self) -> str:
        body = ", ".join(f"{d.replica}{d.counter}: {self.store[d]}" for d in sorted(self.store))
        return f"CausalCounter({{{body}}}, context={context_repr(self.context)})"

    def get(self, replica: str) -> int:
        """``replica``'s contribution to the value."""
        return sum(v for d, v in self.store.items() if d.replica == replica)

    # -- the one underlying mutation: change replica's contribution by ``change`` ---------------

    def _own(self, replica: str) -> frozenset[Dot]:
        return frozenset(d for d in self.store if d.replica == replica)

    def _changed(self, replica: str, change: int) -> CausalCounter:
        if not change:
            return self
        own = self._own(replica)
        dot, context = next_dot(self.context, replica)
        store = {d: v for d, v in self.store.items() if d not in own}
        store[dot] = sum(self.store[d] for d in own) + change
        return CausalCounter._of(store, context)

    def _changed_delta(self, replica: str, change: int) -> CausalCounter | None:
        op = self._prepare(replica, change)
        return None if op is None else CausalCounter._of({op.dot: op.total}, _op_context(op))

    def _prepare(self, replica: str, change: int) -> CausalCounterUpdate | None:
        if not change:
            return None
        own = self._own(replica)
        total = sum(self.store[d] for d in own) + change
        return CausalCounterUpdate(self.context.next_dot(replica), total, own)

    def increment(self, replica: str, amount: int = 1) -> CausalCounter:
        """Add ``amount`` (a non-negative integer) at ``replica``."""
        return self._changed(replica, check_amount(self.type_name, "increment", amount))

    def increment_delta(self, replica: str, amount: int = 1) -> CausalCounter | None:
        """The delta of :meth:`increment` (merged in, it gives the same result); ``None`` when nothing changes."""
        return self._changed_delta(replica, check_amount(self.type_name, "increment", amount))

    def prepare_increment(self, replica: str, amount: int = 1) -> CausalCounterUpdate | None:
        """The op of :meth:`increment`, applied by :meth:`effect`; ``None`` when nothing changes."""
        return self._prepare(replica, check_amount(self.type_name, "increment", amount))

    def decrement(self, replica: str, amount: int = 1) -> CausalCounter:
        """Subtract ``amount`` (a non-negative integer) at ``replica``."""
        return self._changed(replica, -check_amount(self.type_name, "decrement", amount))

    def decrement_delta(self, replica: str, amount: int = 1) -> CausalCounter | None:
        """The delta of :meth:`decrement` (merged in, it gives the same result); ``None`` when nothing changes."""
        return self._changed_delta(replica, -check_amount(self.type_name, "decrement", amount))

    def prepare_decrement(self, replica: str, amount: int = 1) -> CausalCounterUpdate | None:
        """The op of :meth:`decrement`, applied by :meth:`effect`; ``None`` when nothing changes."""
        return self._prepare(replica, -check_amount(self.type_name, "decrement", amount))

    def effect(self, op: Op) -> CausalCounter:
        self._expect_op(op, CausalCounterUpdate)
        assert isinstance(op, CausalCounterUpdate)
        return self._merge_delta({op.dot: op.total}, _op_context(op))

    @classmethod
    def op_from_data(cls, data: Any) -> CausalCounterUpdate:
        if isinstance(data, dict) and set(data) == {"update"}:
            args = data["update"]
            if isinstance(args, list) and len(args) == 3 and _is_int(args[1]):
                return CausalCounterUpdate(
                    decode_dot(cls.type_name, args[0]), args[1], decode_dots(cls.type_name, args[2])
                )
        raise DecodeError(cls.type_name, "expected {update: [dot, total, [dots]]}", data)


def _op_context(op: CausalCounterUpdate) -> CausalContext:
    return context_of([*op.observed, op.dot])
