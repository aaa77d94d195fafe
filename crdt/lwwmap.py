"""Last-writer-wins map: each key holds an :class:`~crdt.lwwregister.LWWRegister`.

The join merges the registers key by key, so every key resolves exactly as a register does
(timestamp, then replica id, then value encoding). A delete writes a timestamped tombstone (a
register whose value is :data:`~crdt.lwwregister.TOMBSTONE`) instead of dropping the key, so a
stale ``set`` arriving later cannot bring the key back. Tombstones are kept forever.

>>> a = LWWMap().set("a", "milk", 2, 1).set("a", "tea", 1, 1)
>>> b = LWWMap().delete("b", "milk", 3)    # a newer delete beats the set of "milk"
>>> a.merge(b).value()
{'tea': 1}
>>> a.merge(b) == b.merge(a) == a.merge(b).merge(a)
True
>>> b.set_delta("b", "milk", 5, 2) is None  # a set older than the delete: nothing to send
True
>>> a.delete_delta("a", "tea", 4)          # the delta is the one tombstoned entry
LWWMap({'tea': LWWRegister(TOMBSTONE, timestamp=4, replica='a')})
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crdt.base import Crdt, Op
from crdt.clocks import check_replica
from crdt.codec import canonical_json, element_sort_key, encode_element, fingerprint, register, size
from crdt.errors import DecodeError, InvalidOperationError
from crdt.gset import check_element, decode_element_checked
from crdt.lwwregister import TOMBSTONE, LWWRegister, Timestamp, check_timestamp, decode_write
from crdt.pmap import PersistentMap

__all__ = ["LWWMap", "LWWMapSet", "LWWMapDelete"]


@dataclass(frozen=True, slots=True)
class LWWMapSet(Op):
    """Write ``value`` under ``key`` at ``timestamp`` from ``replica`` (op form; idempotent)."""

    key: Any
    replica: str
    value: Any
    timestamp: Timestamp

    def __post_init__(self) -> None:
        # Checked once, here: every replica's effect of the op then trusts it.
        _check_write("set", self.key, self.replica, self.timestamp)
        check_element(LWWMap.type_name, "set", self.value)

    def to_data(self) -> Any:
        return {
            "set": [
                encode_element(self.key),
                self.replica,
                self.timestamp,
                encode_element(self.value),
            ]
        }


@dataclass(frozen=True, slots=True)
class LWWMapDelete(Op):
    """Tombstone ``key`` at ``timestamp`` from ``replica`` (op form; idempotent)."""

    key: Any
    replica: str
    timestamp: Timestamp

    def __post_init__(self) -> None:
        _check_write("delete", self.key, self.replica, self.timestamp)  # once (see LWWMapSet)

    def to_data(self) -> Any:
        return {"delete": [encode_element(self.key), self.replica, self.timestamp]}


_MASK = (1 << 64) - 1
# The canonical encoding is {"state":[pair,pair,...],"type":"LWWMap"}: a frame, the pairs, commas.
_FRAME = len(b'{"state":[],"type":"LWWMap"}')
_SALT = int.from_bytes(hashlib.blake2b(b"LWWMap", digest_size=8).digest(), "little")

def _check_write(operation: str, key: Any, replica: str, timestamp: Timestamp) -> None:
    check_element(LWWMap.type_name, operation, key)
    check_replica(LWWMap.type_name, operation, replica)
    check_timestamp(LWWMap.type_name, operation, timestamp)


#: The pairs' total bytes and the sum of their 64-bit hashes: the map's size and fingerprint
#: without encoding it. Each [key, entry] pair's own figures are kept on its register.
Stats = tuple[int, int]
#: How many derivations a map remembers back to one whose statistics are kept (a bound on the
#: ancestors it keeps alive); at the bound the chain is shortened (see _shorten).
_MAX_CHAIN = 64


_REGISTER_FRAME = len(b'{"state":,"type":"LWWRegister"}')
_KEY_JSON: dict[tuple[type, Any], bytes] = {}  # str and int keys: a map's keys recur in every replica


def _key_json(key: Any) -> bytes:
    if type(key) is str or type(key) is int:
        cached = _KEY_JSON.get((type(key), key))
        if cached is None:
            cached = _KEY_JSON[(type(key), key)] = canonical_json(encode_element(key)).encode()
        return cached
    return canonical_json(encode_element(key)).encode()


def _pair_stats(key: Any, entry: LWWRegister) -> tuple[int, int]:
    # The pair encodes as [key,entry]. Replicas share register objects, and a register stays
    # under one key, so the pair's figures are kept on the register: most pairs cost a lookup.
    # (Equal keys of one exact type only: 1 and True are equal keys that encode differently.)
    try:
        kept_key, stats = entry._pair
        if kept_key is key or (kept_key == key and type(key) in _SIMPLE_KEYS and type(kept_key) is type(key)):
            return stats
    except AttributeError:
        pass
    raw_key = _key_json(key)
    length = 3 + len(raw_key) + size(entry) - _REGISTER_FRAME
    digest = hashlib.blake2b(raw_key + fingerprint(entry).encode(), digest_size=8).digest()
    stats = length, int.from_bytes(digest, "little")
    _set_pair(entry, (key, stats))
    return stats


_SIMPLE_KEYS = (str, int)
_NO_KEY: Any = object()  # the key of a register whose pair figures are not kept yet


def _stats_of(entries: PersistentMap) -> Stats:
    """The statistics of a map holding ``entries``, from its pairs."""
    size = total = 0
    for bucket in entries.buckets():  # (bucket by bucket: no generator step per pair)
        for key, entry in bucket.items():
            # The figures kept on the register, checked as _pair_stats checks them, without
            # its call (a map sized from scratch has mostly kept pairs).
            try:
                kept_key, (length, digest) = entry._pair
            except AttributeError:
                kept_key = _NO_KEY
            if kept_key is not key and not (
                    kept_key == key and type(key) in _SIMPLE_KEYS and type(kept_key) is type(key)):
                length, digest = _pair_stats(key, entry)
            size += length
            total += digest
    return size, total & _MASK


def _stats_after(stats: Stats, before: PersistentMap, after: PersistentMap, keys: Iterable[Any]) -> Stats:
    """``stats`` of a map with entries ``before``, for ``after``, which differs under ``keys``
    only (a map never loses a key: a delete is a tombstone)."""
    size, total = stats
    # The maps' buckets read directly: a key's hash once, no method call per lookup.
    old_chunks, (old_mask, old_shift, old_low, _, _) = before.chunks(), before.layout()
    new_chunks, (new_mask, new_shift, new_low, _, _) = after.chunks(), after.layout()
    for key in keys:
        where = hash(key)
        i = where & old_mask
        old = old_chunks[i >> old_shift][i & old_low].get(key)
        if old is not None:
            length, digest = _pair_stats(key, old)
            size, total = size - length, total - digest
        i = where & new_mask
        length, digest = _pair_stats(key, new_chunks[i >> new_shift][i & new_low][key])
        size, total = size + length, total + digest
    return size, total & _MASK


def _winners(mine: PersistentMap, theirs: PersistentMap) -> dict[Any, LWWRegister]:
    """The entries of ``theirs`` that win over ``mine`` (or that ``mine`` lacks)."""
    changed: dict[Any, LWWRegister] = {}
    if mine.layout() is not theirs.layout():
        # A small map into a large one (a delta into a state): each key of theirs is looked
        # up in mine's buckets directly, without a method call per key.
        chunks, (mask, shift, low, _, _) = mine.chunks(), mine.layout()
        for ys in theirs.chunks():
            for y in ys:
                for key, entry in y.items():
                    i = hash(key) & mask
                    current = chunks[i >> shift][i & low].get(key)
                    # (the same test as below: keep the two the same)
                    if current is None or (entry is not current and (
                            entry.timestamp > current.timestamp
                            or (entry.timestamp == current.timestamp and entry.wins_over(current)))):
                        changed[key] = entry
        return changed
    # A key is in the same bucket on both sides; what both share (a chunk, a bucket: replicas
    # share the structure they exchanged) holds nothing that differs.
    for xs, ys in zip(mine.chunks(), theirs.chunks(), strict=True):
        if xs is ys:
            continue
        for x, y in zip(xs, ys, strict=True):
            if x is y:
                continue
            get = x.get
            for key, entry in y.items():
                current = get(key)
                # ``is``: replicas share the register objects they exchanged, so most keys of
                # two states are the same object and need no comparison. Entries of a map are
                # never empty, so timestamps compare directly; only a tie needs the full rank.
                if current is None or (entry is not current and (
                        entry.timestamp > current.timestamp
                        or (entry.timestamp == current.timestamp and entry.wins_over(current)))):
                    changed[key] = entry
    return changed


def _shorten(value: LWWMap) -> None:
    """Point ``value``'s basis straight at the nearest ancestor whose statistics are kept,
    with every key changed since, and so let the maps in between go; forget the basis when
    that many keys would cost as much as the whole map.

    Neither computes statistics nobody asked for (a delta accumulated from 100 writes never
    is), and a write loop longer than the bound still derives its figures from the changed
    keys when asked, instead of hashing the whole map again."""
    keys: dict[Any, None] = {}
    ancestor = value
    while True:
        basis = getattr(ancestor, "_basis", None)
        if basis is None:
            break
        ancestor, changed, _ = basis
        keys.update(dict.fromkeys(changed))
        if getattr(ancestor, "_stats", None) is not None:
            break
    if getattr(ancestor, "_stats", None) is None or len(keys) >= len(value.entries):
        _del_basis(value)
    else:
        _set_basis(value, (ancestor, list(keys), 1))


@register
class LWWMap(Crdt[dict[Any, Any]]):
    """A map of element keys to last-writer-wins entries, deleted ones kept as tombstones."""

    type_name = "LWWMap"
    kind = "lww map"
    operations = ("set", "delete")
    op_types = (LWWMapSet, LWWMapDelete)
    __slots__ = ("entries", "_stats", "_basis")

    # key -> register; persistent, so a write or a small merge into a large map copies
    # O(sqrt n) references rather than the whole map
    entries: PersistentMap
    _stats: Stats  # kept once asked (see _stats_now)
    # (the map this one was derived from, the keys that differ, chain length): how to get our
    # stats from an ancestor's without encoding every pair, worked out only when asked
    _basis: tuple[LWWMap, list[Any], int]

    def __init__(self, entries: Mapping[Any, LWWRegister] | None = None) -> None:
        clean: dict[Any, LWWRegister] = {}
        for key, entry in (entries or {}).items():
            check_element(self.type_name, "create", key)
            if type(entry) is not LWWRegister or entry.timestamp is None:
                raise InvalidOperationError(
                    self.type_name, "create", "entries must be non-empty LWWRegisters", entry
                )
            clean[key] = entry
        object.__setattr__(self, "entries", PersistentMap.from_dict(clean))

    @classmethod
    def _of(cls, entries: PersistentMap) -> LWWMap:
        lwwmap = object.__new__(cls)
        _set_entries(lwwmap, entries)
        return lwwmap

    @classmethod
    def _single(cls, key: Any, entry: LWWRegister) -> LWWMap:
        return cls._of(PersistentMap.from_items(((key, entry),), 1))

    def __eq__(self, other: object) -> bool:
        return type(other) is LWWMap and self.entries == other.entries

    __hash__ = None  # type: ignore[assignment]

    def _sorted_keys(self) -> list[Any]:
        return sorted(self.entries, key=element_sort_key)

    def __repr__(self) -> str:
        return f"LWWMap({ {k: self.entries[k] for k in self._sorted_keys()}!r})"

    def __contains__(self, key: object) -> bool:
        entry = self.entries.get(key)
        return entry is not None and not entry.deleted

    def get(self, key: Any, default: Any = None) -> Any:
        """The live value under ``key``, or ``default`` if it is absent or deleted."""
        entry = self.entries.get(key)
        return default if entry is None or entry.deleted else entry.value()

    def value(self) -> dict[Any, Any]:
        """The live keys and their values, in canonical key order."""
        live = ((k, self.entries[k]) for k in self._sorted_keys())
        return {k: entry.value() for k, entry in live if not entry.deleted}

    def merge(self, other: LWWMap) -> LWWMap:
        self._check_same_type(other, "merge")
        mine, theirs = self.entries, other.entries
        if len(theirs) > len(mine):
            mine, theirs = theirs, mine
        base = self if mine is self.entries else other
        changed = _winners(mine, theirs)
        if not changed:
            return base
        return base._derived(mine.updated(changed), changed.items())

    def _derived(self, entries: PersistentMap, changed: Iterable[tuple[Any, LWWRegister]]) -> LWWMap:
        """A map with ``entries``, differing from ours by ``changed``. If our size and
        fingerprint statistics are kept (or derivable), the new map remembers how to derive
        its own from them; a write loop of many steps pays for one update, when asked."""
        value = LWWMap._of(entries)
        if getattr(self, "_stats", None) is not None:
            depth = 1
        else:
            basis = getattr(self, "_basis", None)
            if basis is None:
                return value
            depth = basis[2] + 1
        _set_basis(value, (self, [key for key, _ in changed], depth))
        if depth >= _MAX_CHAIN:
            _shorten(value)
        return value

    def _stats_now(self) -> Stats:
        stats = getattr(self, "_stats", None)
        if stats is not None:
            return stats
        keys: dict[Any, None] = {}
        ancestor: LWWMap | None = self
        while ancestor is not None and getattr(ancestor, "_stats", None) is None:
            basis = getattr(ancestor, "_basis", None)
            if basis is None:
                ancestor = None
                break
            ancestor, changed, _ = basis
            keys.update(dict.fromkeys(changed))
        if ancestor is None or len(keys) >= len(self.entries):
            stats = _stats_of(self.entries)
        else:
            stats = _stats_after(ancestor._stats, ancestor.entries, self.entries, keys)
        _set_stats(self, stats)
        if getattr(self, "_basis", None) is not None:
            _del_basis(self)  # let the ancestors go
        return stats

    def _quick_size(self) -> int:
        size, _ = self._stats_now()
        return _FRAME + size + max(len(self.entries) - 1, 0)

    def _quick_fingerprint(self) -> str:
        return f"{(self._stats_now()[1] + _SALT) & _MASK:016x}"

    def difference(self, delta: LWWMap) -> LWWMap | None:
        self._check_same_type(delta, "difference")
        newer = _winners(self.entries, delta.entries)
        return self._of(PersistentMap.from_dict(newer)) if newer else None

    # -- writes shared by set and delete ----------------------------------------------------

    def _entry(
        self, operation: str, key: Any, replica: str, value: Any, timestamp: Timestamp
    ) -> LWWRegister | None:
        """The new entry for ``key`` if this write would win there, else ``None``."""
        _check_write(operation, key, replica, timestamp)
        return self._winning(key, LWWRegister._of(value, timestamp, replica))

    def _winning(self, key: Any, candidate: LWWRegister) -> LWWRegister | None:
        """``candidate`` if it wins over our entry for ``key`` (or we have none), else ``None``."""
        current = self.entries.get(key)
        if current is not None and not candidate.wins_over(current):
            return None
        return candidate

    def _with(self, key: Any, entry: LWWRegister | None) -> LWWMap:
        if entry is None:
            return self
        return self._derived(self.entries.set(key, entry), ((key, entry),))

    # -- set: state, delta and op forms --------------------------------------------------------

    def _set_entry(
        self, replica: str, key: Any, value: Any, timestamp: Timestamp
    ) -> LWWRegister | None:
        check_element(self.type_name, "set", value)
        return self._entry("set", key, replica, value, timestamp)

    def set(self, replica: str, key: Any, value: Any, timestamp: Timestamp) -> LWWMap:
        return self._with(key, self._set_entry(replica, key, value, timestamp))

    def set_delta(self, replica: str, key: Any, value: Any, timestamp: Timestamp) -> LWWMap | None:
        entry = self._set_entry(replica, key, value, timestamp)
        return None if entry is None else LWWMap._single(key, entry)

    def prepare_set(
        self, replica: str, key: Any, value: Any, timestamp: Timestamp
    ) -> LWWMapSet | None:
        op = LWWMapSet(key, replica, value, timestamp)  # checks its fields
        return op if self._winning(key, LWWRegister._of(value, timestamp, replica)) else None

    # -- delete: state, delta and op forms -----------------------------------------------------
    # A delete of a key this replica has never seen still writes its tombstone: a concurrent
    # set with an older timestamp may be on its way, and the delete must win over it.

    def delete(self, replica: str, key: Any, timestamp: Timestamp) -> LWWMap:
        """Delete ``key`` as of ``timestamp``: a later write of the key wins over the deletion."""
        return self._with(key, self._entry("delete", key, replica, TOMBSTONE, timestamp))

    def delete_delta(self, replica: str, key: Any, timestamp: Timestamp) -> LWWMap | None:
        """The delta of :meth:`delete` (merged in, it gives the same result); ``None`` when nothing changes."""
        entry = self._entry("delete", key, replica, TOMBSTONE, timestamp)
        return None if entry is None else LWWMap._single(key, entry)

    def prepare_delete(self, replica: str, key: Any, timestamp: Timestamp) -> LWWMapDelete | None:
        """The op of :meth:`delete`, applied by :meth:`effect`; ``None`` when nothing changes."""
        op = LWWMapDelete(key, replica, timestamp)  # checks its fields
        return op if self._winning(key, LWWRegister._of(TOMBSTONE, timestamp, replica)) else None

    def effect(self, op: Op) -> LWWMap:
        return self.effect_all((op,))

    def effect_all(self, ops: Iterable[Op]) -> LWWMap:
        """``effect`` of each op in turn, with one copy of the touched buckets for them all."""
        changes: dict[Any, LWWRegister] = {}
        # what the batch sees of the map so far: its own changes over our entries (whose
        # buckets are read here directly: a call to PersistentMap.get per op was a fifth of it)
        changed = changes.get
        chunks, (mask, shift, low, _, _) = self.entries.chunks(), self.entries.layout()
        for op in ops:
            # An op's fields were checked when it was built (its __post_init__).
            if isinstance(op, LWWMapSet):
                entry = LWWRegister._of(op.value, op.timestamp, op.replica)
            elif isinstance(op, LWWMapDelete):
                entry = LWWRegister._of(TOMBSTONE, op.timestamp, op.replica)
            else:
                raise InvalidOperationError(
                    self.type_name, "effect", "expected an LWWMapSet or LWWMapDelete op", op
                )
            key = op.key
            current = changed(key)
            if current is None:
                i = hash(key) & mask
                current = chunks[i >> shift][i & low].get(key)
            if current is None or entry.wins_over(current):
                changes[key] = entry
        if not changes:
            return self
        return self._derived(self.entries.updated(changes), changes.items())

    # -- encoding --------------------------------------------------------------------------

    def to_data(self) -> Any:
        # A list of [key, entry] pairs: keys are elements, not only strings.
        return [[encode_element(k), self.entries[k].to_data()] for k in self._sorted_keys()]

    @classmethod
    def from_data(cls, data: Any) -> LWWMap:
        if not isinstance(data, list) or not all(
            isinstance(pair, list) and len(pair) == 2 for pair in data
        ):
            raise DecodeError(cls.type_name, "expected a list of [key, entry] pairs", data)
        entries = {
            decode_element_checked(cls.type_name, key): decode_write(
                cls.type_name, entry, tombstone=True
            )
            for key, entry in data
        }
        if len(entries) != len(data):
            raise DecodeError(cls.type_name, "duplicate keys", data)
        return cls._of(PersistentMap.from_dict(entries))

    @classmethod
    def op_from_data(cls, data: Any) -> LWWMapSet | LWWMapDelete:
        if isinstance(data, dict) and len(data) == 1:
            ((name, args),) = data.items()
            size = {"set": 4, "delete": 3}.get(name)
            if isinstance(args, list) and len(args) == size and isinstance(args[1], str):
                key = decode_element_checked(cls.type_name, args[0])
                value = TOMBSTONE if name == "delete" else decode_element_checked(cls.type_name, args[3])
                try:  # the op checks its replica and timestamp (and refuses what a write would)
                    if name == "delete":
                        return LWWMapDelete(key, args[1], args[2])
                    return LWWMapSet(key, args[1], value, args[2])
                except InvalidOperationError:
                    pass
        raise DecodeError(
            cls.type_name,
            "expected {set: [key, replica, timestamp, value]} or {delete: [key, replica, ts]}",
            data,
        )


_set_pair = LWWRegister.__dict__["_pair"].__set__
_set_stats = LWWMap.__dict__["_stats"].__set__
_set_entries = LWWMap.__dict__["entries"].__set__
_set_basis = LWWMap.__dict__["_basis"].__set__
_del_basis = LWWMap.__dict__["_basis"].__delete__
