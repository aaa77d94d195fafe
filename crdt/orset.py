"""Add-wins observed-remove set without tombstones (ORSWOT).

Each element maps to the dots of the adds that put it there; one causal context records every
dot seen. ``add`` makes a new dot that replaces the element's observed dots; ``remove`` drops
the element, and its context tells other replicas which dots it has seen. A remove deletes
only the adds it has seen, so an add concurrent with it survives (add wins).

>>> s = ORSet().add("a", "milk")
>>> a, b = s.remove("a", "milk"), s.add("b", "milk")   # concurrent remove and re-add
>>> sorted(a.merge(b).value())
['milk']
>>> a.merge(b) == b.merge(a) == a.merge(b).merge(a)
True
>>> c = s.merge(b).remove("a", "milk")                   # a remove that saw the re-add
>>> sorted(c.merge(b).value())
[]
>>> s.remove_delta("a", "tea") is None                   # removing an absent element: no-op
True

Adding an element that is present is a change: it creates a new dot, so a remove concurrent
with the re-add does not delete the element (that is what "add wins" means).

Speed: the elements live in a :class:`~crdt.pmap.PersistentMap`, so the state form ``add``
copies O(sqrt n) references, not the whole set. ``merge`` with a side much smaller than the
other (a delta, in delta propagation) walks only the small side: the elements it holds, and the
dots its context saw, looked up in a dot -> element index of the large side (built on first
need and carried through later merges and mutations), so a one-element delta into a
10,000-element set costs about what the delta holds; when nothing changes the large side itself
is returned. Two sides of similar size are joined bucket by bucket, reusing shared buckets.
Elements follow Python equality (``1``, ``1.0`` and ``True`` are one element), as in a Python
set.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from crdt import dotstore
from crdt.base import Op
from crdt.clocks import CausalContext, Dot
from crdt.codec import decode_element, element_sort_key, encode_element, register
from crdt.dotstore import (
    CausalCrdt,
    context_dots,
    context_of,
    context_repr,
    decode_dot,
    decode_dots,
    dots_repr,
    encode_dots,
    keys_losing_dots,
    next_dot,
    seen_by,
    walk_cost,
)
from crdt.elements import check_element
from crdt.errors import DecodeError
from crdt.pmap import PersistentMap

__all__ = ["ORSet", "ORSetAdd", "ORSetRemove", "ORSetClear"]

_EMPTY_MAP = PersistentMap()
_NO_DOTS: frozenset[Dot] = frozenset()


@dataclass(frozen=True, slots=True)
class ORSetAdd(Op):
    """Add ``element`` with the new ``dot``, replacing the ``observed`` dots it had."""

    element: Any
    dot: Dot
    observed: frozenset[Dot]

    def to_data(self) -> Any:
        return {
            "add": [encode_element(self.element), self.dot.to_data(), encode_dots(self.observed)]
        }


@dataclass(frozen=True, slots=True)
class ORSetRemove(Op):
    """Remove ``element`` as far as the adds whose ``observed`` dots the remover saw."""

    element: Any
    observed: frozenset[Dot]

    def to_data(self) -> Any:
        return {"remove": [encode_element(self.element), encode_dots(self.observed)]}


@dataclass(frozen=True, slots=True)
class ORSetClear(Op):
    """Remove every element the clearing replica saw (the ``observed`` dots)."""

    observed: frozenset[Dot]

    def to_data(self) -> Any:
        return {"clear": encode_dots(self.observed)}


def _unseen(dots: frozenset[Dot], seen: Any) -> frozenset[Dot]:
    # The dots the other side has not seen; ``dots`` itself when that is all of them.
    for d in dots:
        if seen(d):
            return frozenset(x for x in dots if not seen(x))
    return dots


def _single_add(delta: ORSet) -> tuple[Any, Dot, frozenset[Dot]] | None:
    """(element, dot, its dots) when ``delta`` holds one element with one dot and its context
    holds that dot and nothing else (what ``add_delta`` of a new element gives), else None."""
    context = delta.context
    cloud, counts = context.cloud, context.vv.entries
    if len(cloud) + len(counts) != 1:
        return None
    ((element, dots),) = delta.store.items()
    if len(dots) != 1:
        return None
    (dot,) = dots
    if cloud:
        return (element, dot, dots) if dot in cloud else None
    return (element, dot, dots) if dot[1] == 1 and counts.get(dot[0]) == 1 else None


def _join_bucket(
    x: dict[Any, frozenset[Dot]], y: dict[Any, frozenset[Dot]], seen_x: Any, seen_y: Any
) -> dict[Any, frozenset[Dot]]:
    """The causal join of one bucket of each side (returns ``x`` when it is the result)."""
    if x is y:
        return x
    out: dict[Any, frozenset[Dot]] = {}
    changed = False
    for e, dx in x.items():
        dy = y.get(e)
        if dy is None:
            kept = _unseen(dx, seen_y)
        elif dx is dy or dx == dy:
            kept = dx
        else:
            kept = (dx & dy) | _unseen(dx - dy, seen_y) | _unseen(dy - dx, seen_x)
            if kept == dx:
                kept = dx
        if kept:
            out[e] = kept
        if kept is not dx:
            changed = True
    for e, dy in y.items():
        if e not in x:
            kept = _unseen(dy, seen_x)
            if kept:
                out[e] = kept
                changed = True
    return out if changed else x


@register
class ORSet(CausalCrdt[frozenset[Any]]):
    """An add-wins observed-remove set; ``value()`` is a ``frozenset`` of the elements."""

    type_name = "ORSet"
    kind = "observed-remove set"
    operations = ("add", "remove", "clear")
    op_types = (ORSetAdd, ORSetRemove, ORSetClear)
    __slots__ = ("_index",)

    store: PersistentMap  # element -> frozenset of dots (never empty)
    _index: PersistentMap  # dot -> element of the store, once asked (see _dot_index)

    # -- merge -----------------------------------------------------------------------------

    def merge(self, other: ORSet) -> ORSet:
        if type(other) is not ORSet:
            self._check_same_type(other, "merge")
        if other is self:
            return self
        big, small = (self, other) if self.store._len >= other.store._len else (other, self)
        if small.store._len == 1 and big.store._len > 1:
            added = _single_add(small)
            if added is not None:
                return big._add_seen(*added)
        if walk_cost(small.store._len, small.context) * dotstore.WALK_FACTOR <= big.store._len:
            return big._absorb(small)
        store = ORSet._join_stores(big.store, big.context, small.store, small.context)
        context = big.context.merge(small.context)
        if store is big.store and context is big.context:
            return big
        return ORSet._of(store, context)

    def _add_seen(self, element: Any, dot: Dot, dots: frozenset[Dot]) -> ORSet:
        """``self.merge(delta)`` for a delta that adds ``element`` with ``dot`` alone (its
        ``dots``) and whose context names nothing else: it removes nothing here, so this costs
        one lookup, not a walk."""
        context = self.context
        if dot[1] <= context.vv.entries.get(dot[0], 0) or dot in context.cloud:
            return self  # seen: held here already, or removed here since
        held = self.store.get(element)
        kept = dots if held is None else held | dots
        return self._derived(self.store.set(element, kept), context.add(dot), {element: kept})

    def _absorb(self, delta: ORSet) -> ORSet:
        """``self.merge(delta)`` by walking ``delta`` alone: the elements it holds, and the
        dots its context saw that this store holds under elements it lacks (removed there)."""
        store, context = self.store, self.context
        dstore, dcontext = delta.store, delta.context
        seen_x, seen_y = seen_by(context), seen_by(dcontext)
        changes: dict[Any, frozenset[Dot] | None] = {}
        held: set[Dot] = set()  # our dots of the elements the delta holds: joined just below
        for e, dy in dstore.items():
            dx = store.get(e)
            if dx is None:
                kept = dy if len(dy) == 1 and not seen_x(next(iter(dy))) else _unseen(dy, seen_x)
                if kept:
                    changes[e] = kept
            else:
                held.update(dx)
                if dx is not dy and dx != dy:
                    kept = (dx & dy) | _unseen(dx - dy, seen_y) | _unseen(dy - dx, seen_x)
                    if kept != dx:
                        changes[e] = kept or None
        for e in keys_losing_dots(dcontext, seen_x, held, changes, self._dot_index):
            changes[e] = _unseen(store[e], seen_y) or None
        merged_context = context.merge(dcontext)
        if not changes:
            return self if merged_context is context else self._derived(store, merged_context, changes)
        return self._derived(store.updated(changes), merged_context, changes)

    def difference(self, delta: ORSet) -> ORSet | None:
        """The part of ``delta`` this set lacks, exactly (``None`` when it has all of it).

        A causal state is the join of its parts: each dot it holds (with its element), and
        each dot its context saw but does not hold (a removal). A held dot we have seen is
        ours already, or removed here; a removal of a dot we have seen adds something only
        if we still hold that dot. So what is left costs what the delta names, and the delta
        itself is returned when all of it is new.
        """
        if type(delta) is not ORSet:
            self._check_same_type(delta, "difference")
        seen = seen_by(self.context)
        kept: dict[Any, frozenset[Dot]] = {}
        held: set[Dot] = set()  # the dots the delta's store holds
        dropped = False
        for e, dots in delta.store.items():
            held.update(dots)
            new = _unseen(dots, seen)
            if new:
                kept[e] = new
            if new is not dots:
                dropped = True
        index: PersistentMap | None = None
        removals: list[tuple[str, int]] = []
        for d in context_dots(delta.context):
            if d in held:
                continue
            if seen(d):
                if index is None:
                    index = self._dot_index()
                if d not in index:
                    dropped = True  # removed here already
                    continue
            removals.append(d)
        if not kept and not removals:
            return None
        if not dropped:
            return delta
        dots = [d for ds in kept.values() for d in ds]
        context = context_of([*dots, *(Dot(*d) for d in removals)])
        return ORSet._of(PersistentMap.from_dict(kept), context)

    def _derived(
        self, store: PersistentMap, context: CausalContext, changes: dict[Any, frozenset[Dot] | None]
    ) -> ORSet:
        """A new state of this set whose store differs from ours by ``changes`` (element ->
        its new dots, None where it left); our dot index, if built, is carried over."""
        value = ORSet._of(store, context)
        index = getattr(self, "_index", None)  # an unset slot: no index was built
        if index is None:
            return value
        moved: dict[Any, Any] = {}
        old = self.store
        for e, dots in changes.items():
            before = old.get(e, _NO_DOTS)
            for d in before:
                if dots is None or d not in dots:
                    moved[d] = None
            for d in dots or _NO_DOTS:
                if d not in before:
                    moved[d] = e
        _set_index(value, index.updated(moved))
        return value

    def _dot_index(self) -> PersistentMap:
        """Dot -> element for every dot the store holds (built once per lineage of states)."""
        try:
            return self._index
        except AttributeError:
            pairs = [(d, e) for e, dots in self.store.items() for d in dots]
            index = PersistentMap.from_items(pairs, len(pairs))
            _set_index(self, index)
            return index

    # -- dot store hooks -------------------------------------------------------------------

    @classmethod
    def _empty_store(cls) -> PersistentMap:
        return _EMPTY_MAP

    @classmethod
    def _join_stores(
        cls, a: PersistentMap, ca: CausalContext, b: PersistentMap, cb: CausalContext
    ) -> PersistentMap:
        if a is b:
            return a
        seen_a, seen_b = seen_by(ca), seen_by(cb)
        buckets_a, buckets_b = a.buckets(), b.buckets()
        if len(buckets_a) != len(buckets_b):
            # Re-bucket the smaller side to the larger side's layout.
            count = max(len(buckets_a), len(buckets_b))
            if len(buckets_a) < count:
                buckets_a = PersistentMap.rebucketed(a, count)
            else:
                buckets_b = PersistentMap.rebucketed(b, count)
        joined = [
            _join_bucket(x, y, seen_a, seen_b) for x, y in zip(buckets_a, buckets_b, strict=True)
        ]
        if buckets_a is a.buckets() and all(j is x for j, x in zip(joined, buckets_a, strict=True)):
            return a
        return PersistentMap.from_buckets(joined)

    @classmethod
    def _store_dots(cls, store: PersistentMap) -> Iterator[Dot]:
        for dots in store.values():
            yield from dots

    @classmethod
    def _store_value(cls, store: PersistentMap) -> frozenset[Any]:
        return frozenset(store)

    @classmethod
    def _store_to_data(cls, store: PersistentMap) -> Any:
        pairs = sorted(
            ((element_sort_key(e), e, dots) for e, dots in store.items()), key=lambda t: t[0]
        )
        return [[encode_element(e), encode_dots(dots)] for _, e, dots in pairs]

    @classmethod
    def _store_from_data(cls, data: Any) -> PersistentMap:
        if not isinstance(data, list) or not all(isinstance(p, list) and len(p) == 2 for p in data):
            raise DecodeError(cls.type_name, "expected a list of [element, [dots]] pairs", data)
        entries: dict[Any, frozenset[Dot]] = {}
        for element_data, dots_data in data:
            element = decode_element(element_data)
            if element in entries:
                raise DecodeError(cls.type_name, "an element is listed twice", element_data)
            entries[element] = decode_dots(cls.type_name, dots_data, nonempty=True)
        return PersistentMap.from_dict(entries)

    # -- reading ---------------------------------------------------------------------------

    def __contains__(self, element: object) -> bool:
        return element in self.store

    def __len__(self) -> int:
        return len(self.store)

    def __repr__(self) -> str:
        pairs = sorted(self.store.items(), key=lambda p: element_sort_key(p[0]))
        body = ", ".join(f"{e!r}: {dots_repr(d)}" for e, d in pairs)
        return f"ORSet({{{body}}}, context={context_repr(self.context)})"

    # -- add -------------------------------------------------------------------------------

    def add(self, replica: str, element: Any) -> ORSet:
        check_element(self.type_name, "add", element)
        dot, context = next_dot(self.context, replica)
        dots = frozenset((dot,))
        return self._derived(self.store.set(element, dots), context, {element: dots})

    def add_delta(self, replica: str, element: Any) -> ORSet:
        check_element(self.type_name, "add", element)
        dot = self.context.next_dot(replica)
        observed = self.store.get(element, _NO_DOTS)
        return ORSet._of(
            PersistentMap.from_dict({element: frozenset((dot,))}), context_of([*observed, dot])
        )

    def prepare_add(self, replica: str, element: Any) -> ORSetAdd:
        check_element(self.type_name, "add", element)
        return ORSetAdd(element, self.context.next_dot(replica), self.store.get(element, _NO_DOTS))

    # -- remove ----------------------------------------------------------------------------

    def remove(self, replica: str, element: Any) -> ORSet:
        if element not in self.store:
            return self
        return self._derived(self.store.delete(element), self.context, {element: None})

    def remove_delta(self, replica: str, element: Any) -> ORSet | None:
        observed = self.store.get(element)
        if observed is None:
            return None
        return ORSet._of(_EMPTY_MAP, context_of(observed))

    def prepare_remove(self, replica: str, element: Any) -> ORSetRemove | None:
        observed = self.store.get(element)
        return None if observed is None else ORSetRemove(element, observed)

    # -- clear -----------------------------------------------------------------------------

    def clear(self, replica: str) -> ORSet:
        return ORSet._of(_EMPTY_MAP, self.context) if self.store else self

    def clear_delta(self, replica: str) -> ORSet | None:
        return (
            ORSet._of(_EMPTY_MAP, context_of(self._store_dots(self.store))) if self.store else None
        )

    def prepare_clear(self, replica: str) -> ORSetClear | None:
        return ORSetClear(frozenset(self._store_dots(self.store))) if self.store else None

    # -- ops -------------------------------------------------------------------------------

    def effect(self, op: Op) -> ORSet:
        self._expect_op(op, (ORSetAdd, ORSetRemove, ORSetClear))
        if isinstance(op, ORSetClear):
            return self._merge_delta(_EMPTY_MAP, context_of(op.observed))
        # Add and remove touch one element: join just that entry (the op's dots belong to it).
        element = op.element  # type: ignore[attr-defined]
        current = self.store.get(element, _NO_DOTS)
        dots = current - op.observed  # type: ignore[attr-defined]
        if isinstance(op, ORSetAdd):
            if self.context.contains(op.dot):
                context = self.context.add_all(op.observed)
            else:
                dots = dots | {op.dot}
                context = self.context.add_all([*op.observed, op.dot])
        else:
            context = self.context.add_all(op.observed)  # type: ignore[attr-defined]
        if dots == current:
            return self._derived(self.store, context, {})
        store = self.store.set(element, dots) if dots else self.store.delete(element)
        return self._derived(store, context, {element: dots or None})

    @classmethod
    def op_from_data(cls, data: Any) -> Op:
        if isinstance(data, dict) and len(data) == 1:
            ((kind, args),) = data.items()
            if kind == "add" and isinstance(args, list) and len(args) == 3:
                return ORSetAdd(
                    decode_element(args[0]),
                    decode_dot(cls.type_name, args[1]),
                    decode_dots(cls.type_name, args[2]),
                )
            if kind == "remove" and isinstance(args, list) and len(args) == 2:
                return ORSetRemove(
                    decode_element(args[0]), decode_dots(cls.type_name, args[1], nonempty=True)
                )
            if kind == "clear":
                return ORSetClear(decode_dots(cls.type_name, args, nonempty=True))
        raise DecodeError(
            cls.type_name,
            "expected {add: [element, dot, dots]}, {remove: [element, dots]} or {clear: dots}",
            data,
        )


_set_index = ORSet.__dict__["_index"].__set__
