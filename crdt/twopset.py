"""Two-phase set: an element can be added, then removed, and never come back.

Kept as the live elements and the removed ones (tombstones), which are disjoint; an element
that has been removed stays a tombstone forever so a concurrent or stale add cannot revive it.
The join unites both and drops the tombstoned elements from the live ones.

>>> a = TwoPSet().add("a", "milk").add("a", "eggs")
>>> b = a.remove("b", "milk")
>>> sorted(a.merge(b).value())
['eggs']
>>> a.merge(b) == b.merge(a) == a.merge(b).merge(b)
True
>>> b.remove_delta("b", "eggs")         # the delta is the tombstone alone
TwoPSet(live=[], removed=['eggs'])
>>> b.add("b", "milk")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
crdt.errors.InvalidOperationError: TwoPSet.add: element was removed and ..., found 'milk'

Local mutations enforce the 2P-set preconditions and raise ``InvalidOperationError``:

* ``add`` of an element this replica has seen removed (it could never become visible again);
* ``remove`` of an element this replica has never seen added (a 2P-set removes only what it
  has observed; a silent no-op would hide a workload that removes the wrong thing).

Removing an element that is already removed is a no-op (``None`` delta and op): the intent
holds, and concurrent removes of one element at several replicas are normal. Merging,
deltas and ``effect`` never raise: an add that arrives after the element's tombstone is simply
dominated by it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

from crdt.base import Crdt, Op
from crdt.codec import element_sort_key, encode_element, register
from crdt.errors import DecodeError, InvalidOperationError
from crdt.gset import check_element, decode_element_checked, decode_elements, encode_elements

__all__ = ["TwoPSet", "TwoPSetAdd", "TwoPSetRemove"]


@dataclass(frozen=True, slots=True)
class TwoPSetAdd(Op):
    """Add ``element`` unless it has a tombstone (op form; idempotent)."""

    element: Any

    def to_data(self) -> Any:
        return {"add": encode_element(self.element)}


@dataclass(frozen=True, slots=True)
class TwoPSetRemove(Op):
    """Tombstone ``element`` (op form; idempotent)."""

    element: Any

    def to_data(self) -> Any:
        return {"remove": encode_element(self.element)}


def _sorted(elements: Iterable[Any]) -> list[Any]:
    return sorted(elements, key=element_sort_key)


@register
class TwoPSet(Crdt[frozenset[Any]]):
    """A set whose removals are final. ``live`` and ``removed`` are disjoint frozensets."""

    type_name = "TwoPSet"
    kind = "two-phase set"
    operations = ("add", "remove")
    op_types = (TwoPSetAdd, TwoPSetRemove)
    __slots__ = ("live", "removed")

    live: frozenset[Any]
    removed: frozenset[Any]

    def __init__(self, live: Iterable[Any] = (), removed: Iterable[Any] = ()) -> None:
        gone = frozenset(check_element(self.type_name, "create", e) for e in removed)
        here = frozenset(check_element(self.type_name, "create", e) for e in live)
        object.__setattr__(self, "live", here - gone)
        object.__setattr__(self, "removed", gone)

    @classmethod
    def _of(cls, live: frozenset[Any], removed: frozenset[Any]) -> Self:
        # Called through ``self``/``cls`` rather than ``TwoPSet`` so a subclass (such as a test
        # double that honours the preconditions) keeps its type across mutations and merges.
        twopset = object.__new__(cls)
        object.__setattr__(twopset, "live", live)
        object.__setattr__(twopset, "removed", removed)
        return twopset

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TwoPSet) and self.live == other.live and self.removed == other.removed
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TwoPSet(live={_sorted(self.live)!r}, removed={_sorted(self.removed)!r})"

    def __contains__(self, element: object) -> bool:
        return element in self.live

    def __len__(self) -> int:
        return len(self.live)

    @property
    def added(self) -> frozenset[Any]:
        """Every element ever added: the live ones and the tombstones."""
        return self.live | self.removed

    def value(self) -> frozenset[Any]:
        return self.live

    def merge(self, other: Self) -> Self:
        self._check_same_type(other, "merge")
        if other.removed <= self.removed and other.live <= self.live | self.removed:
            return self
        removed = self.removed | other.removed
        return self._of((self.live | other.live) - removed, removed)

    # -- add: state, delta and op forms --------------------------------------------------------

    def _check_add(self, element: Any) -> bool:
        """Whether adding ``element`` changes anything; raises if it was removed."""
        check_element(self.type_name, "add", element)
        if element in self.removed:
            raise InvalidOperationError(
                self.type_name, "add", "element was removed and a 2P-set never re-adds it", element
            )
        return element not in self.live

    def add(self, replica: str, element: Any) -> Self:
        if not self._check_add(element):
            return self
        return self._of(self.live | {element}, self.removed)

    def add_delta(self, replica: str, element: Any) -> Self | None:
        if not self._check_add(element):
            return None
        return self._of(frozenset((element,)), frozenset())

    def prepare_add(self, replica: str, element: Any) -> TwoPSetAdd | None:
        if not self._check_add(element):
            return None
        return TwoPSetAdd(element)

    # -- remove: state, delta and op forms -----------------------------------------------------

    def _check_remove(self, element: Any) -> bool:
        """Whether removing ``element`` changes anything; raises if it was never added."""
        check_element(self.type_name, "remove", element)
        if element in self.removed:
            return False
        if element not in self.live:
            raise InvalidOperationError(
                self.type_name,
                "remove",
                "element was never added, so it cannot be removed",
                element,
            )
        return True

    def remove(self, replica: str, element: Any) -> Self:
        if not self._check_remove(element):
            return self
        return self._of(self.live - {element}, self.removed | {element})

    def remove_delta(self, replica: str, element: Any) -> Self | None:
        if not self._check_remove(element):
            return None
        # A tombstone implies the add, so this delta alone keeps ``removed`` within ``added``.
        return self._of(frozenset(), frozenset((element,)))

    def prepare_remove(self, replica: str, element: Any) -> TwoPSetRemove | None:
        if not self._check_remove(element):
            return None
        return TwoPSetRemove(element)

    def effect(self, op: Op) -> Self:
        # Effects are joins with a one-element state, so they never raise on arrival order.
        if isinstance(op, TwoPSetAdd):
            return self.merge(self._of(frozenset((op.element,)), frozenset()))
        if isinstance(op, TwoPSetRemove):
            return self.merge(self._of(frozenset(), frozenset((op.element,))))
        raise InvalidOperationError(
            self.type_name, "effect", "expected a TwoPSetAdd or TwoPSetRemove op", op
        )

    # -- encoding --------------------------------------------------------------------------

    def to_data(self) -> Any:
        return {"live": encode_elements(self.live), "removed": encode_elements(self.removed)}

    @classmethod
    def from_data(cls, data: Any) -> Self:
        if not isinstance(data, dict) or set(data) != {"live", "removed"}:
            raise DecodeError(
                cls.type_name, "expected {live: [elements], removed: [elements]}", data
            )
        live = decode_elements(cls.type_name, data["live"])
        removed = decode_elements(cls.type_name, data["removed"])
        if live & removed:
            raise DecodeError(cls.type_name, "live and removed elements must be disjoint", data)
        return cls._of(live, removed)

    @classmethod
    def op_from_data(cls, data: Any) -> TwoPSetAdd | TwoPSetRemove:
        if isinstance(data, dict) and set(data) == {"add"}:
            return TwoPSetAdd(decode_element_checked(cls.type_name, data["add"]))
        if isinstance(data, dict) and set(data) == {"remove"}:
            return TwoPSetRemove(decode_element_checked(cls.type_name, data["remove"]))
        raise DecodeError(cls.type_name, "expected {add: element} or {remove: element}", data)
