"""A persistent (structurally shared) hash map, so a large immutable CRDT can change cheaply.

Copying a 10,000-entry dict on every mutation costs tens of microseconds. :class:`PersistentMap`
splits its entries into about ``sqrt(n)`` buckets held in a tuple; a change copies the tuple
and one bucket, O(sqrt n) pointers instead of O(n), and every other bucket is shared with the
previous version. Buckets are chosen by ``hash``: that only shapes memory, never an observable
order (:meth:`PersistentMap.items` order is unspecified; callers that encode sort).

>>> m = PersistentMap.from_dict({"a": 1})
>>> m2 = m.set("b", 2)
>>> sorted(m2.items()), sorted(m.items())  # the old version is unchanged
([('a', 1), ('b', 2)], [('a', 1)])
>>> m2.delete("a") == PersistentMap.from_dict({"b": 2})
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["PersistentMap"]

K = Any
V = Any

_MISSING: Any = object()
_new = object.__new__


def _bucket_count(size: int) -> int:
    # Smallest power of two b with size <= b*b: a change then copies O(sqrt n) references.
    b = 1
    while size > b * b:
        b *= 2
    return b


class PersistentMap:
    """An immutable mapping whose :meth:`set` and :meth:`delete` share most of their storage."""

    __slots__ = ("_buckets", "_len")

    _buckets: list[dict[K, V]]
    _len: int

    def __init__(self) -> None:
        object.__setattr__(self, "_buckets", [{}])
        object.__setattr__(self, "_len", 0)

    @classmethod
    def _of(cls, buckets: list[dict[K, V]], size: int) -> PersistentMap:
        m = _new(cls)
        _set_buckets(m, buckets)
        _set_len(m, size)
        return m

    @classmethod
    def from_dict(cls, entries: Mapping[K, V]) -> PersistentMap:
        return cls.from_items(entries.items(), len(entries))

    @classmethod
    def from_items(cls, items: Iterable[tuple[K, V]], size_hint: int = 0) -> PersistentMap:
        """Build from distinct-key pairs (a later pair for the same key wins)."""
        count = _bucket_count(size_hint)
        buckets: list[dict[K, V]] = [{} for _ in range(count)]
        mask = count - 1
        for key, value in items:
            buckets[hash(key) & mask][key] = value
        size = sum(map(len, buckets))
        if _bucket_count(size) != count:
            return cls.from_items([kv for b in buckets for kv in b.items()], size)
        return cls._of(buckets, size)

    @classmethod
    def from_buckets(cls, buckets: list[dict[K, V]]) -> PersistentMap:
        """Adopt buckets laid out by :meth:`rebucketed` or :meth:`buckets` (not copied)."""
        size = sum(map(len, buckets))
        if size > len(buckets) * len(buckets):
            return cls.from_items([kv for b in buckets for kv in b.items()], size)
        return cls._of(buckets, size)

    def rebucketed(self, count: int) -> list[dict[K, V]]:
        """This map's entries spread over ``count`` buckets (a power of two), as a new list."""
        if count == len(self._buckets):
            return self._buckets
        buckets: list[dict[K, V]] = [{} for _ in range(count)]
        mask = count - 1
        for key, value in self.items():
            buckets[hash(key) & mask][key] = value
        return buckets

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("PersistentMap is immutable; use set or delete")

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __contains__(self, key: object) -> bool:
        buckets = self._buckets
        return key in buckets[hash(key) & (len(buckets) - 1)]

    def __iter__(self) -> Iterator[K]:
        for bucket in self._buckets:
            yield from bucket

    def get(self, key: K, default: Any = None) -> Any:
        buckets = self._buckets
        return buckets[hash(key) & (len(buckets) - 1)].get(key, default)

    def __getitem__(self, key: K) -> V:
        buckets = self._buckets
        return buckets[hash(key) & (len(buckets) - 1)][key]

    def keys(self) -> Iterator[K]:
        return iter(self)

    def items(self) -> Iterator[tuple[K, V]]:
        for bucket in self._buckets:
            yield from bucket.items()

    def values(self) -> Iterator[V]:
        for bucket in self._buckets:
            yield from bucket.values()

    def set(self, key: K, value: V) -> PersistentMap:
        buckets = self._buckets
        index = hash(key) & (len(buckets) - 1)
        bucket = buckets[index].copy()
        size = self._len + (key not in bucket)
        bucket[key] = value
        if size > len(buckets) * len(buckets):
            return PersistentMap.from_items([*self.items(), (key, value)], size)
        return _replacing(buckets, index, bucket, size)

    def set_union(self, key: K, value: Any) -> PersistentMap:
        """This map with ``key`` set to ``value``, or to its value ``| value`` when it has one
        (one lookup: what adding a dot to a set-valued entry needs).

        >>> sorted(PersistentMap.from_dict({"a": {1}}).set_union("a", {2})["a"])
        [1, 2]
        """
        buckets = self._buckets
        index = hash(key) & (len(buckets) - 1)
        bucket = buckets[index]
        held = bucket.get(key, _MISSING)
        size = self._len
        if held is _MISSING:
            size += 1
            if size > len(buckets) * len(buckets):
                return PersistentMap.from_items([*self.items(), (key, value)], size)
        else:
            value = held | value
        bucket = bucket.copy()
        bucket[key] = value
        copy = buckets.copy()  # (what _replacing does, inlined: this is a delta's whole join)
        copy[index] = bucket
        m = _new(PersistentMap)
        _set_buckets(m, copy)
        _set_len(m, size)
        return m

    def delete(self, key: K) -> PersistentMap:
        """This map without ``key`` (itself when ``key`` is absent)."""
        buckets = self._buckets
        index = hash(key) & (len(buckets) - 1)
        if key not in buckets[index]:
            return self
        bucket = buckets[index].copy()
        del bucket[key]
        copy = buckets.copy()
        copy[index] = bucket
        return PersistentMap._of(copy, self._len - 1)

    def updated(self, changes: Mapping[K, V]) -> PersistentMap:
        """This map with every key of ``changes`` set to its value, or removed where the value
        is ``None``: one copy of the bucket list and of each touched bucket, however many
        changes fall into it (what a join with a small delta needs).

        >>> m = PersistentMap.from_dict({"a": 1, "b": 2}).updated({"a": None, "c": 3})
        >>> sorted(m.items())
        [('b', 2), ('c', 3)]
        """
        if len(changes) <= 1:
            for key, value in changes.items():
                return self.delete(key) if value is None else self.set(key, value)
            return self
        buckets = self._buckets
        mask = len(buckets) - 1
        copy = buckets.copy()
        fresh: set[int] = set()
        size = self._len
        for key, value in changes.items():
            index = hash(key) & mask
            if index not in fresh:
                copy[index] = copy[index].copy()
                fresh.add(index)
            bucket = copy[index]
            if value is None:
                if bucket.pop(key, _MISSING) is not _MISSING:
                    size -= 1
            else:
                size += key not in bucket
                bucket[key] = value
        if size > len(copy) * len(copy):
            return PersistentMap.from_items([kv for b in copy for kv in b.items()], size)
        return PersistentMap._of(copy, size)

    def buckets(self) -> list[dict[K, V]]:
        """The bucket dicts themselves (read-only by contract), for bucket-wise joins."""
        return self._buckets

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PersistentMap):
            return NotImplemented
        if other._len != self._len:
            return False
        if len(other._buckets) == len(self._buckets):
            return all(a is b or a == b for a, b in zip(self._buckets, other._buckets, strict=True))
        return all(other.get(k, _MISSING) == v for k, v in self.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PersistentMap({dict(self.items())!r})"


# Slot setters called directly: several times faster than object.__setattr__ on a hot path.
_set_buckets = PersistentMap.__dict__["_buckets"].__set__
_set_len = PersistentMap.__dict__["_len"].__set__


def _replacing(buckets: list[dict[Any, Any]], index: int, bucket: dict[Any, Any],
               size: int) -> PersistentMap:
    """A map of ``size`` entries in ``buckets`` with bucket ``index`` replaced by ``bucket``
    (built with the slot setters: the hot path of every single-key change)."""
    copy = buckets.copy()
    copy[index] = bucket
    m = _new(PersistentMap)
    _set_buckets(m, copy)
    _set_len(m, size)
    return m
