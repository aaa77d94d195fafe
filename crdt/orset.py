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
copies O(sqrt n) references, not the whole set. ``merge`` with a side much cheaper to walk
than the other (a delta, in delta propagation; the cost counts elements and context dots) walks
only that side, with set operations: the elements it holds, and the dots its context saw but its
store lacks (what it removed), found in the other side by scanning a small store or through a
dot -> element index of a large one (built on first need and carried through later merges and
mutations). So a delta into a 10,000-element set, or into a few elements with a context of
hundreds of replicas, costs about what the delta holds and names; when nothing changes the
other side itself is returned. Two sides of similar size are joined bucket by bucket, reusing
shared buckets; many deltas at once by :meth:`ORSet.join_all`. :meth:`ORSet.merge_difference`
gives the join and the exact difference in one walk (what RR delta gossip needs).
Elements follow Python equality (``1``, ``1.0`` and ``True`` are one element), as in a Python
set.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from crdt import dotstore
from crdt.base import Op
from crdt.clocks import CausalContext, Dot, VersionVector, _set_cloud, _set_entries, _set_vv
from crdt.codec import _encode_str, canonical_json, decode_element, element_sort_key, encode_element, register
from crdt.dotstore import (
    CausalCrdt,
    _new,
    _set_context,
    _set_store,
    context_of,
    context_repr,
    decode_dot,
    decode_dots,
    dots_repr,
    encode_dots,
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


def _named(context: CausalContext) -> set[tuple[str, int]]:
    """Every dot ``context`` holds, as plain ``(replica, counter)`` pairs (a dot hashes and
    compares as one), so a walk subtracts what a side saw with set operations, in C, rather
    than asking dot by dot. Only for membership: the pairs are not :class:`Dot` objects."""
    named: set[tuple[str, int]] = set(context.cloud)
    for replica, count in context.vv.entries.items():
        if count == 1:
            named.add((replica, 1))
        else:
            named.update(zip(repeat(replica), range(1, count + 1), strict=False))
    return named


#: Bytes of the encoding of the empty set, the frame every encoding of an ORSet shares.
_FRAME = len(b'{"state":{"context":{"cloud":[],"vv":{}},"store":[]},"type":"ORSet"}')
_REPLICA_SIZES: dict[str, int] = {}


def _text_size(text: str) -> int:
    """Bytes of ``text`` as a canonical JSON string (quoted, escaped, UTF-8)."""
    quoted = _encode_str(text)
    return len(quoted) if quoted.isascii() else len(quoted.encode())


def _replica_size(replica: str) -> int:
    # Replica ids are few and recur in every dot: their sizes are kept.
    size = _REPLICA_SIZES.get(replica)
    if size is None:
        size = _REPLICA_SIZES[replica] = _text_size(replica)
    return size


def _element_size(element: Any) -> int:
    kind = type(element)
    if kind is str:
        return _text_size(element)
    if kind is int:
        return len(int.__repr__(element))
    return len(canonical_json(encode_element(element)).encode())


def _dots_size(dots: Collection[Dot]) -> int:
    """Bytes of the comma-separated ``[replica,counter]`` pairs of ``dots``."""
    if not dots:
        return 0
    sizes = _REPLICA_SIZES
    size = 4 * len(dots) - 1  # [,] of each pair, and the commas between them
    for replica, counter in dots:
        known = sizes.get(replica)
        size += (_replica_size(replica) if known is None else known) + len(str(counter))
    return size


#: A side with at most this many elements per dot its walked partner saw but no longer holds
#: (plus eight: a small set is always scanned) is scanned element by element for those dots
#: (a C-level ``isdisjoint`` each) rather than looked up through its dot index, which would
#: have to be built for it and then carried through every later change.
SCAN_FACTOR = 4


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
    __slots__ = ("_index", "_size", "_fresh")

    store: PersistentMap  # element -> frozenset of dots (never empty)
    _index: PersistentMap | None  # dot -> element of the store, once asked (see _dot_index)
    _size: int  # the encoding's byte length, once asked (see _quick_size)
    #: (element, dot, its dots) when this value is one fresh add and nothing else: the element
    #: with one new dot, and a context of that dot alone (what ``add_delta`` of an element the
    #: replica does not hold gives, and knows when it builds it); None for any other value
    _fresh: tuple[Any, Dot, frozenset[Dot]] | None

    def __init__(self) -> None:
        super().__init__()
        _set_index(self, None)
        _set_fresh(self, None)

    @classmethod
    def _of(cls, store: PersistentMap, context: CausalContext, index: PersistentMap | None = None) -> ORSet:
        value = _new(cls)
        _set_store(value, store)
        _set_context(value, context)
        _set_index(value, index)  # always set: reading an unset slot raises, and that is slow
        _set_fresh(value, None)
        return value

    # -- merge -----------------------------------------------------------------------------

    def merge(self, other: ORSet) -> ORSet:
        if type(other) is not ORSet:
            self._check_same_type(other, "merge")
        fresh = other._fresh
        if fresh is not None and self.store._len > 1:
            return self._add_fresh(fresh)  # the common delta: one fresh add, joined in one lookup
        if other is self:
            return self
        mine, theirs = self.store._len, other.store._len
        if theirs == 1 and mine > 1:  # the same shape, unmarked (a decoded delta, say)
            added = self._add_one(other)
            if added is not None:
                return added
        elif mine == 1 and theirs > 1:
            fresh = self._fresh
            added = other._add_one(self) if fresh is None else other._add_fresh(fresh)
            if added is not None:
                return added
        big, small = (self, other) if mine >= theirs else (other, self)
        cost = walk_cost(small.store._len, small.context)
        if cost * dotstore.WALK_FACTOR > big.store._len:
            # Few elements on the larger side: compare what walking each side would cost.
            other_cost = walk_cost(big.store._len, big.context)
            if other_cost < cost:
                big, small, cost, other_cost = small, big, other_cost, cost
            if cost * dotstore.WALK_FACTOR > other_cost:
                return ORSet._bucket_join(big, small)
        return big._merged(small, big._changes(small)[0])

    @classmethod
    def join_all(cls, values: Sequence[ORSet]) -> ORSet:
        """The join of ``values`` (at least one), equal to merging them in turn.

        They are joined at once, as sets: a dot survives unless some value saw it without
        holding it (removed it), so it costs what they hold and name, where joining them in
        turn would walk the growing join at every step. A value costlier to walk than all the
        others together is kept out as the base, and takes their join in one merge.
        """
        if len(values) <= 2:
            return values[0] if len(values) == 1 else values[0].merge(values[1])
        for value in values:
            if type(value) is not ORSet:
                values[0]._check_same_type(value, "merge")
        costs = [walk_cost(v.store._len, v.context) for v in values]
        heaviest = max(costs)
        if heaviest > dotstore.WALK_FACTOR * (sum(costs) - heaviest):
            base = costs.index(heaviest)
            rest = [v for i, v in enumerate(values) if i != base]
            return values[base].merge(ORSet.join_all(rest))
        removed: set[tuple[str, int]] = set()  # dots some value saw but does not hold
        stores: dict[Any, frozenset[Dot]] = {}
        for value, cost in zip(values, costs, strict=True):
            held: set[Dot] = set()
            for e, dots in value.store.items():
                held.update(dots)
                had = stores.get(e)
                stores[e] = dots if had is None or had is dots else had | dots
            if len(held) != cost - value.store._len:  # it names dots it does not hold
                removed.update(_named(value.context) - held)
        if removed:
            kept = {}
            for e, dots in stores.items():
                left = dots - removed
                if left:
                    kept[e] = dots if len(left) == len(dots) else left
            stores = kept
        return ORSet._of(PersistentMap.from_dict(stores), CausalContext.union([v.context for v in values]))

    @staticmethod
    def _bucket_join(big: ORSet, small: ORSet) -> ORSet:
        """Two sides of similar size, joined bucket by bucket (shared buckets are skipped)."""
        store = ORSet._join_stores(big.store, big.context, small.store, small.context)
        context = big.context.merge(small.context)
        if store is big.store and context is big.context:
            return big
        return ORSet._of(store, context)

    def _add_one(self, delta: ORSet) -> ORSet | None:
        """``self.merge(delta)`` for a delta that adds one element with one dot and whose
        context names that dot alone (what ``add_delta`` of a new element gives, marked as
        ``_fresh``; this finds the same shape in a delta that is not marked, a decoded one):
        it removes nothing here, so this costs one lookup, not a walk. None for any other
        delta."""
        dcontext = delta.context
        cloud, counts = dcontext.cloud, dcontext.vv.entries
        if cloud:
            if counts or len(cloud) != 1:
                return None
        elif len(counts) != 1:
            return None
        ((element, dots),) = delta.store.items()  # (merge calls this for one element)
        if len(dots) != 1:
            return None
        (dot,) = dots
        if cloud:
            if dot not in cloud:
                return None
        elif dot[1] != 1 or counts.get(dot[0]) != 1:
            return None
        return self._add_fresh((element, dot, dots))

    def _add_fresh(self, fresh: tuple[Any, Dot, frozenset[Dot]]) -> ORSet:
        """``self.merge`` of a fresh add (see ``_fresh``): an element with one dot alone."""
        element, dot, dots = fresh
        context = self.context
        entries, strays = context.vv.entries, context.cloud
        replica, counter = dot
        seen = entries.get(replica, 0)
        if counter <= seen or (strays and dot in strays):
            return self  # seen: held here already, or removed here since
        if counter == seen + 1 and not strays:  # the next dot of its replica: the vector grows
            vv = _new(VersionVector)  # (clocks._counted, inlined: a frame less per delta)
            _set_entries(vv, {**entries, replica: counter})
            context = _new(CausalContext)
            _set_vv(context, vv)
            _set_cloud(context, strays)
        else:
            context = context.add(dot)
        value = _new(ORSet)
        _set_store(value, self.store.set_union(element, dots))
        _set_context(value, context)
        index = self._index
        _set_index(value, None if index is None else index.set(dot, element))
        _set_fresh(value, None)
        return value

    def _changes(self, delta: ORSet) -> tuple[dict[Any, frozenset[Dot] | None], set[tuple[str, int]]]:
        """What ``self.merge(delta)`` changes in our store (element -> its dots, None where it
        leaves), found by walking ``delta`` alone: the elements it holds, then our elements
        holding a dot its context saw but its store lacks (it removed them); and those dots
        it removed (as plain pairs).

        Costs what the delta holds and names, as set operations: a dot of ours stays when the
        delta holds it or never saw it; a dot of the delta comes in when we never saw it."""
        store, context = self.store, self.context
        get, cloud = context.vv.entries.get, context.cloud
        dstore = delta.store
        named = _named(delta.context)
        held: set[Dot] = set()  # every dot the delta holds
        changes: dict[Any, frozenset[Dot] | None] = {}
        for e, dy in dstore.items():
            held.update(dy)
            dx = store.get(e)
            if cloud:
                new = [d for d in dy if d[1] > get(d[0], 0) and d not in cloud]
            else:
                new = [d for d in dy if d[1] > get(d[0], 0)]
            if dx is None:
                if new:
                    changes[e] = dy if len(new) == len(dy) else frozenset(new)
                continue
            kept = dx - named  # ours the delta never saw
            if len(kept) == len(dx):
                kept = dx
            else:
                kept |= dx & dy  # ours the delta saw and still holds
                if len(kept) == len(dx):
                    kept = dx
            if new:
                kept = kept.union(new)
            if kept is not dx:
                changes[e] = kept or None
        removed = named - held  # seen there, held no more: removed there
        if removed:
            if store._len <= SCAN_FACTOR * (len(removed) + 8):
                for e, dx in store.items():
                    if not dx.isdisjoint(removed) and e not in changes:
                        changes[e] = (dx - removed) or None
            else:
                index = self._dot_index()
                for d in removed:
                    e = index.get(d)
                    if e is not None and e not in changes:
                        changes[e] = (store[e] - removed) or None
        return changes, removed

    def _merged(self, delta: ORSet, changes: dict[Any, frozenset[Dot] | None]) -> ORSet:
        """``self.merge(delta)`` given its :meth:`_changes` (itself when nothing changes)."""
        context = self.context.merge(delta.context)
        if not changes:
            return self if context is self.context else self._derived(self.store, context, changes)
        return self._derived(self.store.updated(changes), context, changes)

    def merge_difference(self, delta: ORSet) -> tuple[ORSet, ORSet | None]:
        """``(self.merge(delta), self.difference(delta))`` in one walk of ``delta`` (what a
        replica receiving a delta under RR needs: the new state, and the part to forward)."""
        if type(delta) is not ORSet:
            self._check_same_type(delta, "difference")
        changes, removed = self._changes(delta)
        part = self._new_part(delta, changes, removed)
        if part is None:
            return self, None
        return self._merged(part, changes), part  # the part's context adds what the delta's does

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
        return self._new_part(delta, *self._changes(delta))

    def _new_part(
        self, delta: ORSet, changes: dict[Any, frozenset[Dot] | None], removed: set[tuple[str, int]]
    ) -> ORSet | None:
        """The exact part of ``delta`` new here, from the :meth:`_changes` it makes and the dots
        it ``removed``: the dots it holds that we never saw, the dots of ours it removes, and
        the removals of dots we never saw; ``delta`` itself when that is all of it, None when
        it is nothing."""
        store, context = self.store, self.context
        get, cloud = context.vv.entries.get, context.cloud
        dstore = delta.store
        fresh: dict[Any, frozenset[Dot]] = {}  # element -> the delta's dots of it we never saw
        lost: list[Dot] = []  # our dots the delta removes
        whole = True  # every part of the delta is new
        for e, dy in dstore.items():
            dx = store.get(e)
            if dx is None:
                after = changes.get(e)
                if after is not None:
                    fresh[e] = after
                    if after is not dy:
                        whole = False
                else:
                    whole = False
                continue
            if e in changes:
                after = changes[e] or _NO_DOTS
                new = after - dx
                if new:
                    fresh[e] = dy if len(new) == len(dy) else new
                lost.extend(dx - after)
                if len(new) != len(dy):
                    whole = False
            else:
                whole = False  # all of its dots are here already
        removals: list[Dot] = []
        if removed:  # the delta saw dots it no longer holds: its removals
            for e, after in changes.items():
                if e not in dstore:
                    dx = store[e]
                    lost.extend(dx if after is None else dx - after)
            for d in removed.difference(lost) if lost else removed:
                if d[1] > get(d[0], 0) and not (cloud and d in cloud):
                    removals.append(Dot(*d))  # never seen here: the removal is news
            if len(lost) + len(removals) != len(removed):
                whole = False  # some removal was applied here already
        if not fresh and not lost and not removals:
            return None
        if whole:
            return delta
        dots = [d for ds in fresh.values() for d in ds]
        return ORSet._of(PersistentMap.from_dict(fresh), context_of([*dots, *lost, *removals]))

    def _derived(
        self, store: PersistentMap, context: CausalContext, changes: dict[Any, frozenset[Dot] | None]
    ) -> ORSet:
        """A new state of this set whose store differs from ours by ``changes`` (element ->
        its new dots, None where it left); our dot index, if built, is carried over."""
        index = self._index
        if index is None:
            return ORSet._of(store, context)
        moved: dict[Any, Any] = {}
        old = self.store
        for e, dots in changes.items():
            before = old.get(e, _NO_DOTS)
            after = dots or _NO_DOTS
            moved.update(dict.fromkeys(before - after))
            moved.update(dict.fromkeys(after - before, e))
        return ORSet._of(store, context, index.updated(moved))

    def _dot_index(self) -> PersistentMap:
        """Dot -> element for every dot the store holds (built once per lineage of states)."""
        index = self._index
        if index is None:
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
        # Both sides in the wider layout (the other side re-bucketed to it), then chunk by
        # chunk: a chunk both share is kept, and so is a joined one equal to ``a``'s.
        layout = max(a.layout(), b.layout())
        chunks_a, chunks_b = a.chunks_in(layout), b.chunks_in(layout)
        unchanged = chunks_a is a.chunks()
        joined = []
        for x, y in zip(chunks_a, chunks_b, strict=True):
            if x is not y:
                chunk = [_join_bucket(p, q, seen_a, seen_b) for p, q in zip(x, y, strict=True)]
                if any(j is not p for j, p in zip(chunk, x, strict=True)):
                    x, unchanged = chunk, False
            joined.append(x)
        return a if unchanged else PersistentMap.from_chunks(joined, layout)

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

    # -- size ------------------------------------------------------------------------------

    def _quick_size(self) -> int:
        """The canonical encoding's byte length, summed from its parts without building it
        (no sorting, no text): a delta interval is sized once per neighbour group, and the
        encoding itself is then never needed."""
        try:
            return self._size
        except AttributeError:
            pass
        context = self.context
        entries, cloud = context.vv.entries, context.cloud
        size = _FRAME + _dots_size(cloud) + max(len(entries) - 1, 0)
        for replica, count in entries.items():
            size += _replica_size(replica) + 1 + len(str(count))  # "replica":count
        elements = 0
        for element, dots in self.store.items():
            elements += 1
            size += _element_size(element) + 5 + _dots_size(dots)  # [element,[dots]]
        size += max(elements - 1, 0)
        _set_size(self, size)
        return size

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
        dots = frozenset((dot,))
        delta = ORSet._of(PersistentMap.from_dict({element: dots}), context_of([*observed, dot]))
        if not observed:
            _set_fresh(delta, (element, dot, dots))  # known here: merges need not find it again
        return delta

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
_set_size = ORSet.__dict__["_size"].__set__
_set_fresh = ORSet.__dict__["_fresh"].__set__
