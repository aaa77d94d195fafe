"""Grow-only set: elements are only ever added; the join is set union.

>>> a = GSet().add("a", "milk")
>>> b = GSet().add("b", "eggs").add("b", "milk")
>>> sorted(a.merge(b).value())
['eggs', 'milk']
>>> a.merge(b) == b.merge(a) == a.merge(b).merge(a)
True
>>> a.add_delta("a", "tea")            # the delta is the one-element set
GSet(['tea'])
>>> a.prepare_add("a", "milk") is None  # already there: nothing to send
True
>>> a.add("a", ["a", "list"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
crdt.errors.InvalidOperationError: GSet.add: elements must be None, bool, int ..., found ['a', 'list']

What an element may be is :func:`crdt.elements.check_element`'s rule; :func:`encode_elements`
and :func:`decode_elements` are shared with the other element-holding types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crdt.base import Crdt, Op
from crdt.codec import element_sort_key, encode_element, register
from crdt.elements import check_element, decode_element_checked
from crdt.errors import DecodeError, InvalidOperationError

__all__ = [
    "GSet",
    "GSetAdd",
    "check_element",
    "decode_element_checked",
    "encode_elements",
    "decode_elements",
]

def encode_elements(elements: Iterable[Any]) -> list[Any]:
    """Elements in canonical order (by :func:`crdt.codec.element_sort_key`), encoded."""
    return [encode_element(e) for e in sorted(elements, key=element_sort_key)]


def decode_elements(type_name: str, data: Any) -> frozenset[Any]:
    """Decode what :func:`encode_elements` produced; duplicates are a ``DecodeError``."""
    if not isinstance(data, list):
        raise DecodeError(type_name, "expected a list of elements", data)
    elements = frozenset(decode_element_checked(type_name, d) for d in data)
    if len(elements) != len(data):
        raise DecodeError(type_name, "duplicate elements", data)
    return elements


@dataclass(frozen=True, slots=True)
class GSetAdd(Op):
    """Add ``element`` (op form; idempotent, so duplicates are harmless)."""

    element: Any

    def to_data(self) -> Any:
        return {"add": encode_element(self.element)}


@register
class GSet(Crdt[frozenset[Any]]):
    """A grow-only set of elements.

    ``add`` takes the replica id first although a union needs no identity: every mutation of
    every type is called as ``m(replica, *args)``, which is how :meth:`Crdt.mutate` and the
    simulator's workloads drive all types the same way.
    """

    type_name = "GSet"
    kind = "grow-only set"
    operations = ("add",)
    op_types = (GSetAdd,)
    __slots__ = ("elements",)

    elements: frozenset[Any]

    def __init__(self, elements: Iterable[Any] = ()) -> None:
        clean = frozenset(check_element(self.type_name, "create", e) for e in elements)
        object.__setattr__(self, "elements", clean)

    @classmethod
    def _of(cls, elements: frozenset[Any]) -> GSet:
        gset = object.__new__(cls)
        object.__setattr__(gset, "elements", elements)
        return gset

    def __eq__(self, other: object) -> bool:
        return type(other) is GSet and self.elements == other.elements

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"GSet({sorted(self.elements, key=element_sort_key)!r})"

    def __contains__(self, element: object) -> bool:
        return element in self.elements

    def __len__(self) -> int:
        return len(self.elements)

    def value(self) -> frozenset[Any]:
        return self.elements

    def merge(self, other: GSet) -> GSet:
        self._check_same_type(other, "merge")
        if other.elements <= self.elements:
            return self
        return GSet._of(self.elements | other.elements)

    def difference(self, delta: GSet) -> GSet | None:
        self._check_same_type(delta, "difference")
        missing = delta.elements - self.elements
        return self._of(missing) if missing else None

    # -- add: state, delta and op forms --------------------------------------------------------

    def add(self, replica: str, element: Any) -> GSet:
        if check_element(self.type_name, "add", element) in self.elements:
            return self
        return GSet._of(self.elements | {element})

    def add_delta(self, replica: str, element: Any) -> GSet | None:
        if check_element(self.type_name, "add", element) in self.elements:
            return None
        return GSet._of(frozenset((element,)))

    def prepare_add(self, replica: str, element: Any) -> GSetAdd | None:
        if check_element(self.type_name, "add", element) in self.elements:
            return None
        return GSetAdd(element)

    def effect(self, op: Op) -> GSet:
        if not isinstance(op, GSetAdd):
            raise InvalidOperationError(self.type_name, "effect", "expected a GSetAdd op", op)
        return self.add("", op.element)

    # -- encoding --------------------------------------------------------------------------

    def to_data(self) -> Any:
        return encode_elements(self.elements)

    @classmethod
    def from_data(cls, data: Any) -> GSet:
        return cls._of(decode_elements(cls.type_name, data))

    @classmethod
    def op_from_data(cls, data: Any) -> GSetAdd:
        if isinstance(data, dict) and set(data) == {"add"}:
            return GSetAdd(decode_element_checked(cls.type_name, data["add"]))
        raise DecodeError(cls.type_name, "expected {add: element}", data)
