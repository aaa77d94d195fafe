"""Multi-value register: keeps every concurrently written value; a write replaces what it saw.

The state is a dot fun (dot -> value) plus a causal context. ``set`` makes a new dot for its
value and drops every dot it observed, so after a merge the values left are exactly the
writes no other write has seen.

>>> a, b = MVRegister().set("a", "tea"), MVRegister().set("b", "milk")
>>> a.merge(b).value()                       # concurrent writes: both kept
('milk', 'tea')
>>> a.merge(b).set("a", "jam").merge(b).value()  # a write that saw both replaces them
('jam',)
>>> a.merge(b) == b.merge(a)
True

``value()`` is a tuple of the distinct concurrent values sorted by canonical encoding
(:func:`crdt.codec.element_sort_key`), ``()`` before any write. :meth:`MVRegister.entries` gives
each value with the dot that wrote it; a full version vector per value is not kept (it would
cost a vector per write, and the dot already says which write a value came from). Writing the
value already held is still a change: the new dot supersedes writes that are concurrent with it
elsewhere. Values must be elements (JSON scalars or tuples of them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from crdt.base import Op
from crdt.clocks import CausalContext, Dot
from crdt.codec import decode_element, element_sort_key, encode_element, register
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
from crdt.elements import check_element
from crdt.errors import DecodeError

__all__ = ["MVRegister", "MVRegisterSet"]


@dataclass(frozen=True, slots=True)
class MVRegisterSet(Op):
    """Write ``value`` with the new ``dot``, superseding the ``observed`` writes."""

    dot: Dot
    value: Any
    observed: frozenset[Dot]

    def to_data(self) -> Any:
        return {"set": [self.dot.to_data(), encode_element(self.value), encode_dots(self.observed)]}


@register
class MVRegister(CausalCrdt[tuple[Any, ...]]):
    """A multi-value register; ``value()`` is the sorted tuple of concurrent values."""

    type_name = "MVRegister"
    kind = "multi-value register"
    operations = ("set",)
    op_types = (MVRegisterSet,)
    __slots__ = ()

    store: Mapping[Dot, Any]

    @classmethod
    def _empty_store(cls) -> Mapping[Dot, Any]:
        return {}

    @classmethod
    def _join_stores(
        cls, a: Mapping[Dot, Any], ca: CausalContext, b: Mapping[Dot, Any], cb: CausalContext
    ) -> Mapping[Dot, Any]:
        return join_dot_funs(a, ca, b, cb)

    @classmethod
    def _store_dots(cls, store: Mapping[Dot, Any]) -> Iterator[Dot]:
        return iter(store)

    @classmethod
    def _store_value(cls, store: Mapping[Dot, Any]) -> tuple[Any, ...]:
        distinct = {element_sort_key(v): v for v in store.values()}
        return tuple(distinct[k] for k in sorted(distinct))

    @classmethod
    def _store_to_data(cls, store: Mapping[Dot, Any]) -> Any:
        return [[d.to_data(), encode_element(store[d])] for d in sorted(store)]

    @classmethod
    def _store_from_data(cls, data: Any) -> Mapping[Dot, Any]:
        if not isinstance(data, list) or not all(isinstance(p, list) and len(p) == 2 for p in data):
            raise DecodeError(cls.type_name, "expected a list of [dot, value] pairs", data)
        store = {decode_dot(cls.type_name, d): decode_element(v) for d, v in data}
        if len(store) != len(data):
            raise DecodeError(cls.type_name, "a dot is listed twice", data)
        return store

    def entries(self) -> list[tuple[Dot, Any]]:
        """Each concurrent value with the dot of the write that made it, in dot order."""
        return [(d, self.store[d]) for d in sorted(self.store)]

    def __repr__(self) -> str:
        values = ", ".join(f"{d.replica}{d.counter}: {v!r}" for d, v in self.entries())
        return f"MVRegister({{{values}}}, context={context_repr(self.context)})"

    def set(self, replica: str, value: Any) -> MVRegister:
        check_element(self.type_name, "set", value)
        dot, context = next_dot(self.context, replica)
        return MVRegister._of({dot: value}, context)

    def set_delta(self, replica: str, value: Any) -> MVRegister:
        check_element(self.type_name, "set", value)
        dot = self.context.next_dot(replica)
        return MVRegister._of({dot: value}, context_of([*self.store, dot]))

    def prepare_set(self, replica: str, value: Any) -> MVRegisterSet:
        check_element(self.type_name, "set", value)
        return MVRegisterSet(self.context.next_dot(replica), value, frozenset(self.store))

    def effect(self, op: Op) -> MVRegister:
        self._expect_op(op, MVRegisterSet)
        assert isinstance(op, MVRegisterSet)
        return self._merge_delta({op.dot: op.value}, context_of([*op.observed, op.dot]))

    @classmethod
    def op_from_data(cls, data: Any) -> MVRegisterSet:
        if isinstance(data, dict) and set(data) == {"set"}:
            args = data["set"]
            if isinstance(args, list) and len(args) == 3:
                return MVRegisterSet(
                    decode_dot(cls.type_name, args[0]),
                    decode_element(args[1]),
                    decode_dots(cls.type_name, args[2]),
                )
        raise DecodeError(cls.type_name, "expected {set: [dot, value, [dots]]}", data)
