"""Add-wins observed-remove map from element keys to nested causal CRDTs, under one context.

Each key holds the dot store of a causal CRDT (:class:`~crdt.orset.ORSet`,
:class:`~crdt.flags.EWFlag`, :class:`~crdt.flags.DWFlag`,
:class:`~crdt.mvregister.MVRegister`, :class:`~crdt.causalcounter.CausalCounter` or another
``ORMap``); the map keeps a single causal context that all nested stores share. ``update``
applies a nested mutation to a key (creating it), ``remove`` drops the dots the remover saw
under the key. Merging is the causal join of the nested stores, key by key.

>>> m = ORMap().update("a", "cart", "CausalCounter", "increment", 5)
>>> removed = m.remove("a", "cart")
>>> bumped = m.update("b", "cart", "CausalCounter", "increment", 2)  # concurrent with remove
>>> removed.merge(bumped).value()        # the key survives; only b's new count is left
{'cart': 2}
>>> removed.merge(bumped) == bumped.merge(removed)
True
>>> m.update("a", "tags", "ORSet", "add", "x").value() == {"cart": 5, "tags": frozenset({"x"})}
True

Semantics:

* **Add wins / reset-remove.** A remove deletes only the dots it observed, so an update
  concurrent with it keeps the key, holding just what the concurrent update contributed (for a
  counter: the updating replica's latest contribution, see :mod:`crdt.causalcounter`).
* **A key exists while its nested store holds dots.** A nested mutation that leaves no dots
  (disabling a fresh EWFlag, enabling a fresh DWFlag) does not create the key.
* **Types.** The nested type is given with each update (name or class). Updating a key that
  holds a different type is refused locally (remove the key first). Concurrent updates that
  create one key with two types both survive, as in Riak maps; ``value()`` then shows that key
  as ``{type_name: value}`` and :meth:`ORMap.get` needs the type.
* Only causal types nest: a GCounter or an LWW type has no dots for a remove to observe.

Op form: :class:`ORMapUpdate` carries the key, the nested type and the nested *delta* (which
holds the new dot and the dots the update observed, i.e. exactly the op's payload);
:class:`ORMapRemove` carries the key and the observed dots. ``effect`` joins just that key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import crdt.causalcounter  # noqa: F401  (nestable types register with the codec on import)
import crdt.flags  # noqa: F401
import crdt.mvregister  # noqa: F401
from crdt import dotstore
from crdt.base import Crdt, Op
from crdt.clocks import CausalContext, Dot
from crdt.codec import decode_element, element_sort_key, encode_element, type_named
from crdt.codec import register as register_type
from crdt.dotstore import (
    CausalCrdt,
    context_of,
    context_repr,
    decode_dots,
    dots_repr,
    encode_dots,
    join_dot_maps,
    keys_losing_dots,
    seen_by,
    walk_cost,
)
from crdt.elements import check_element
from crdt.errors import DecodeError, InvalidOperationError
from crdt.pmap import PersistentMap
from crdt.registry import KINDS, listed_types

__all__ = ["ORMap", "ORMapUpdate", "ORMapRemove"]

Entry = Mapping[str, Any]  # nested type name -> that type's dot store (never empty)


def _causal_alternatives(cls: type[Crdt[Any]] | None = None) -> str:
    """The listed causal types to nest instead of ``cls``: those of its family (a causal counter
    for a GCounter), else all of them, as ``"A, B or C"``."""
    causal = {name: c for name, c in listed_types().items() if issubclass(c, CausalCrdt)}
    family = KINDS[cls.kind].family if cls is not None and cls.kind in KINDS else None
    names = [name for name, c in causal.items() if KINDS[c.kind].family == family] or list(causal)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def nested_type(kind: Any, operation: str = "update") -> type[CausalCrdt[Any]]:
    """The causal CRDT class named by ``kind`` (a type name or class), or a clear error."""
    if isinstance(kind, str):
        try:
            cls: Any = type_named(kind)
        except DecodeError:
            raise InvalidOperationError(
                "ORMap", operation, f"unknown CRDT type; nest one of {_causal_alternatives()}", kind
            ) from None
    elif isinstance(kind, type) and issubclass(kind, Crdt):
        cls = kind
    else:
        raise InvalidOperationError("ORMap", operation, "expected a CRDT type name or class", kind)
    if not issubclass(cls, CausalCrdt):
        better = _causal_alternatives(cls)
        raise InvalidOperationError(
            "ORMap",
            operation,
            f"{cls.type_name} cannot nest in an ORMap: it has no dots for a remove to observe, "
            f"so removes could not be undone by concurrent updates; use {better} instead",
            kind,
        )
    return cls


def _decode_nested_type(name: Any) -> type[CausalCrdt[Any]]:
    if not isinstance(name, str):
        raise DecodeError("ORMap", "expected a nested type name", name)
    try:
        return nested_type(name, "from_data")
    except InvalidOperationError as error:
        raise DecodeError("ORMap", str(error), name) from None


@dataclass(frozen=True, slots=True)
class ORMapUpdate(Op):
    """Join the nested ``delta`` (of type ``type_name``) into the store under ``key``."""

    key: Any
    type_name: str
    delta: CausalCrdt[Any]

    def to_data(self) -> Any:
        return {"update": [encode_element(self.key), self.type_name, self.delta.to_data()]}


@dataclass(frozen=True, slots=True)
class ORMapRemove(Op):
    """Drop the ``observed`` dots under ``key`` (what the remover saw of it)."""

    key: Any
    observed: frozenset[Dot]

    def to_data(self) -> Any:
        return {"remove": [encode_element(self.key), encode_dots(self.observed)]}


def _join_entries(x: Entry | None, cx: CausalContext, y: Entry | None, cy: CausalContext) -> Entry | None:
    x, y = x or {}, y or {}
    if x is y:
        return x or None
    joined: dict[str, Any] = {}
    for name in {**x, **y}:  # the nested type names (one, unless a type conflict)
        cls = _causal(name)
        empty = cls._empty_store()
        store = cls._join_stores(x.get(name, empty), cx, y.get(name, empty), cy)
        if not cls._store_is_empty(store):
            joined[name] = store
    return joined or None


def _entry_dots(entry: Entry) -> Iterator[Dot]:
    for name, store in entry.items():
        yield from _causal(name)._store_dots(store)


@register_type
class ORMap(CausalCrdt[dict[Any, Any]]):
    """An add-wins map of nested causal CRDTs; ``value()`` maps each key to its value."""

    type_name = "ORMap"
    kind = "map of crdts"
    operations = ("update", "remove")
    op_types = (ORMapUpdate, ORMapRemove)
    __slots__ = ("_index",)

    store: Mapping[Any, Entry]
    _index: PersistentMap  # dot -> key of the store, once asked (see _dot_index)

    # -- merge -----------------------------------------------------------------------------

    def merge(self, other: ORMap) -> ORMap:
        """The causal join. A side much smaller than the other (a delta) is walked alone, as
        in :meth:`ORSet.merge <crdt.orset.ORSet.merge>`: only the keys it holds and the keys
        whose dots its context saw are joined (the rest of the key table is copied as one
        dict, not visited); when nothing changes the larger side itself is returned."""
        self._check_same_type(other, "merge")
        if other is self:
            return self
        big, small = (self, other) if len(self.store) >= len(other.store) else (other, self)
        if walk_cost(len(small.store), small.context) * dotstore.WALK_FACTOR <= len(big.store):
            return big._absorb(small)
        return ORMap._of(
            join_dot_maps(big.store, big.context, small.store, small.context, _join_entries),
            big.context.merge(small.context),
        )

    def _absorb(self, delta: ORMap) -> ORMap:
        store, context = self.store, self.context
        dstore, dcontext = delta.store, delta.context
        seen_x = seen_by(context)
        changes: dict[Any, Entry | None] = {}
        held: set[Dot] = set()  # our dots under the keys the delta holds: joined just below
        for key, ey in dstore.items():
            ex = store.get(key)
            if ex is not None:
                held.update(_entry_dots(ex))
            joined = _join_entries(ex, context, ey, dcontext)
            if joined != ex:
                changes[key] = joined
        for key in keys_losing_dots(dcontext, seen_x, held, changes, self._dot_index):
            changes[key] = _join_entries(store[key], context, None, dcontext)
        merged_context = context.merge(dcontext)
        if not changes:
            return self if merged_context is context else self._derived(dict(store), merged_context, {})
        new_store = dict(store)
        for key, entry in changes.items():
            if entry:
                new_store[key] = entry
            else:
                new_store.pop(key, None)
        return self._derived(new_store, merged_context, changes)

    def _derived(self, store: dict[Any, Entry], context: CausalContext, changes: Mapping[Any, Entry | None]) -> ORMap:
        """A new state whose store differs from ours under the keys of ``changes`` (their new
        entries, empty or None where a key left); our dot index, if built, is carried over."""
        value = ORMap._of(store, context)
        try:
            index = self._index
        except AttributeError:
            return value
        moved: dict[Any, Any] = {}
        for key, entry in changes.items():
            before = set(_entry_dots(self.store.get(key) or {}))
            after = set(_entry_dots(entry or {}))
            moved.update(dict.fromkeys(before - after))
            moved.update(dict.fromkeys(after - before, key))
        _set_index(value, index.updated(moved))
        return value

    def _dot_index(self) -> PersistentMap:
        """Dot -> key for every dot the store holds (built once per lineage of states)."""
        try:
            return self._index
        except AttributeError:
            pairs = [(d, key) for key, entry in self.store.items() for d in _entry_dots(entry)]
            index = PersistentMap.from_items(pairs, len(pairs))
            _set_index(self, index)
            return index

    # -- dot store hooks -------------------------------------------------------------------

    @classmethod
    def _empty_store(cls) -> Mapping[Any, Entry]:
        return {}

    @classmethod
    def _join_stores(
        cls, a: Mapping[Any, Entry], ca: CausalContext, b: Mapping[Any, Entry], cb: CausalContext
    ) -> Mapping[Any, Entry]:
        if a is b:
            return a
        return join_dot_maps(a, ca, b, cb, _join_entries)

    @classmethod
    def _store_dots(cls, store: Mapping[Any, Entry]) -> Iterator[Dot]:
        for entry in store.values():
            yield from _entry_dots(entry)

    @classmethod
    def _store_value(cls, store: Mapping[Any, Entry]) -> dict[Any, Any]:
        value: dict[Any, Any] = {}
        for key in sorted(store, key=element_sort_key):
            values = {name: _causal(name)._store_value(s) for name, s in sorted(store[key].items())}
            value[key] = next(iter(values.values())) if len(values) == 1 else values
        return value

    @classmethod
    def _store_to_data(cls, store: Mapping[Any, Entry]) -> Any:
        data = []
        for key in sorted(store, key=element_sort_key):
            nested = [[name, _causal(name)._store_to_data(s)] for name, s in sorted(store[key].items())]
            data.append([encode_element(key), nested])
        return data

    @classmethod
    def _store_from_data(cls, data: Any) -> Mapping[Any, Entry]:
        shape = "expected a list of [key, [[type name, store], ...]] pairs"
        if not isinstance(data, list):
            raise DecodeError(cls.type_name, shape, data)
        store: dict[Any, Entry] = {}
        for pair in data:
            if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], list):
                raise DecodeError(cls.type_name, shape, pair)
            key = decode_element(pair[0])
            if key in store:
                raise DecodeError(cls.type_name, "a key is listed twice", pair[0])
            entry: dict[str, Any] = {}
            for nested in pair[1]:
                if not isinstance(nested, list) or len(nested) != 2:
                    raise DecodeError(cls.type_name, shape, nested)
                nested_cls = _decode_nested_type(nested[0])
                if nested_cls.type_name in entry:
                    raise DecodeError(cls.type_name, "a nested type is listed twice", nested)
                nested_store = nested_cls._store_from_data(nested[1])
                if nested_cls._store_is_empty(nested_store):
                    raise DecodeError(cls.type_name, "a key holds an empty nested store", nested)
                entry[nested_cls.type_name] = nested_store
            if not entry:
                raise DecodeError(cls.type_name, "a key holds no nested value", pair)
            store[key] = entry
        return store

    # -- reading ---------------------------------------------------------------------------

    def keys(self) -> list[Any]:
        """The keys present, in canonical order."""
        return sorted(self.store, key=element_sort_key)

    def __contains__(self, key: object) -> bool:
        return key in self.store

    def __len__(self) -> int:
        return len(self.store)

    def types(self, key: Any) -> list[str]:
        """The nested type names under ``key`` (more than one only after a type conflict)."""
        return sorted(self.store.get(key, {}))

    def get(self, key: Any, kind: Any = None) -> CausalCrdt[Any] | None:
        """The nested CRDT under ``key`` (sharing this map's context), or None if absent.

        ``kind`` (a type name or class) picks the type when concurrent updates gave the key
        two types; without it such a key raises InvalidOperationError.
        """
        entry = self.store.get(key)
        if entry is None:
            return None
        if kind is None:
            if len(entry) > 1:
                raise InvalidOperationError(
                    self.type_name, "get", f"the key holds types {sorted(entry)}; pass one", key
                )
            (name,) = entry
        else:
            name = nested_type(kind, "get").type_name
            if name not in entry:
                return None
        return _causal(name)._of(entry[name], self.context)

    def __repr__(self) -> str:
        parts = []
        for key in self.keys():
            for name, store in sorted(self.store[key].items()):
                cls = _causal(name)
                value = cls._store_value(store)
                parts.append(f"{key!r}: {name} {value!r} [{dots_repr(cls._store_dots(store))}]")
        return f"ORMap({{{', '.join(parts)}}}, context={context_repr(self.context)})"

    # -- update ----------------------------------------------------------------------------

    def _prepare_update(
        self, replica: str, key: Any, kind: Any, operation: str, args: tuple[Any, ...]
    ) -> ORMapUpdate | None:
        check_element(self.type_name, "update", key)
        cls = nested_type(kind)
        entry = self.store.get(key, {})
        if entry and cls.type_name not in entry:
            raise InvalidOperationError(
                self.type_name,
                "update",
                f"key {key!r} holds a {'/'.join(sorted(entry))}, not a {cls.type_name}; "
                "remove the key before storing another type",
                kind,
            )
        nested = cls._of(entry.get(cls.type_name, cls._empty_store()), self.context)
        delta = nested.mutate_delta(operation, replica, *args)
        return None if delta is None else ORMapUpdate(key, cls.type_name, delta)

    def update(self, replica: str, key: Any, kind: Any, operation: str, *args: Any) -> ORMap:
        op = self._prepare_update(replica, key, kind, operation, args)
        return self if op is None else self._apply_update(op)

    def update_delta(self, replica: str, key: Any, kind: Any, operation: str, *args: Any) -> ORMap | None:
        op = self._prepare_update(replica, key, kind, operation, args)
        if op is None:
            return None
        delta = op.delta
        store = {} if delta._store_is_empty(delta.store) else {key: {op.type_name: delta.store}}
        return ORMap._of(store, delta.context)

    def prepare_update(self, replica: str, key: Any, kind: Any, operation: str, *args: Any) -> ORMapUpdate | None:
        return self._prepare_update(replica, key, kind, operation, args)

    def _apply_update(self, op: ORMapUpdate) -> ORMap:
        # The delta's dots all belong to this key and type (dots are unique), so joining just
        # this entry equals joining the whole map.
        cls = _causal(op.type_name)
        entry = self.store.get(op.key, {})
        delta = op.delta
        joined = cls._join_stores(entry.get(op.type_name, cls._empty_store()), self.context, delta.store, delta.context)
        new_entry = dict(entry)
        if cls._store_is_empty(joined):
            new_entry.pop(op.type_name, None)
        else:
            new_entry[op.type_name] = joined
        return self._with_entry(op.key, new_entry, self.context.merge(delta.context))

    def _with_entry(self, key: Any, entry: Entry, context: CausalContext) -> ORMap:
        store = dict(self.store)
        if entry:
            store[key] = entry
        else:
            store.pop(key, None)
        return self._derived(store, context, {key: entry})

    # -- remove ----------------------------------------------------------------------------

    def remove(self, replica: str, key: Any) -> ORMap:
        if key not in self.store:
            return self
        return self._with_entry(key, {}, self.context)

    def remove_delta(self, replica: str, key: Any) -> ORMap | None:
        entry = self.store.get(key)
        return None if entry is None else ORMap._of({}, context_of(_entry_dots(entry)))

    def prepare_remove(self, replica: str, key: Any) -> ORMapRemove | None:
        entry = self.store.get(key)
        return None if entry is None else ORMapRemove(key, frozenset(_entry_dots(entry)))

    def _apply_remove(self, op: ORMapRemove) -> ORMap:
        removed = context_of(op.observed)
        entry = _join_entries(self.store.get(op.key), self.context, None, removed)
        return self._with_entry(op.key, entry or {}, self.context.merge(removed))

    # -- ops -------------------------------------------------------------------------------

    def effect(self, op: Op) -> ORMap:
        self._expect_op(op, (ORMapUpdate, ORMapRemove))
        if isinstance(op, ORMapUpdate):
            return self._apply_update(op)
        assert isinstance(op, ORMapRemove)
        return self._apply_remove(op)

    @classmethod
    def op_from_data(cls, data: Any) -> Op:
        if isinstance(data, dict) and len(data) == 1:
            ((kind, args),) = data.items()
            if kind == "update" and isinstance(args, list) and len(args) == 3:
                nested_cls = _decode_nested_type(args[1])
                return ORMapUpdate(decode_element(args[0]), nested_cls.type_name, nested_cls.from_data(args[2]))
            if kind == "remove" and isinstance(args, list) and len(args) == 2:
                return ORMapRemove(decode_element(args[0]), decode_dots(cls.type_name, args[1], nonempty=True))
        raise DecodeError(cls.type_name, "expected {update: [key, type, delta]} or {remove: [key, dots]}", data)


def _causal(name: str) -> type[CausalCrdt[Any]]:
    cls = type_named(name)
    assert issubclass(cls, CausalCrdt)
    return cls


_set_index = ORMap.__dict__["_index"].__set__
