"""What a replicator stores per key: a CRDT value, or the permanent deletion marker.

A deleted key stays deleted: the marker wins every join, so a delete is itself a CRDT (a
one-way flag per key) and replicates like any other state.

>>> from crdt import GCounter
>>> join(GCounter({"a": 1}), DELETED) is DELETED
True
>>> encode_value(DELETED)
{'deleted': True}
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from crdt import Crdt
from crdt.codec import canonical_json, decode, encode, size
from crdt.codec import fingerprint as codec_fingerprint

__all__ = [
    "DELETED",
    "Deletion",
    "StoredValue",
    "join",
    "difference",
    "encode_value",
    "decode_value",
    "fingerprint",
    "value_size",
]


class Deletion:
    """The singleton marker of a deleted key."""

    __slots__ = ()
    #: a join with a deletion is the one DELETED: equal to an input only when it is that input
    merge_returns_equal_input = True

    def __repr__(self) -> str:
        return "DELETED"


DELETED: Final = Deletion()
StoredValue = Crdt[Any] | Deletion


def join(a: StoredValue, b: StoredValue) -> StoredValue:
    if isinstance(a, Deletion) or isinstance(b, Deletion):
        return DELETED
    return a.merge(b)


def difference(current: StoredValue | None, incoming: StoredValue) -> StoredValue | None:
    """The part of ``incoming`` that ``current`` lacks, or None (see ``Crdt.difference``)."""
    if current is None or isinstance(incoming, Deletion):
        return None if isinstance(current, Deletion) else incoming
    if isinstance(current, Deletion):
        return None
    return current.difference(incoming)


def encode_value(value: StoredValue) -> dict[str, Any]:
    return {"deleted": True} if isinstance(value, Deletion) else encode(value)


def decode_value(data: Any) -> StoredValue:
    return DELETED if data == {"deleted": True} else decode(data)


_DELETED_BYTES = canonical_json(encode_value(DELETED)).encode()
_DELETED_FINGERPRINT = hashlib.sha256(_DELETED_BYTES).hexdigest()[:16]


def fingerprint(value: StoredValue) -> str:
    """A short digest of the value: equal values, equal fingerprints (cached on the value, or
    kept incrementally by its type; see :func:`crdt.codec.fingerprint`)."""
    return _DELETED_FINGERPRINT if isinstance(value, Deletion) else codec_fingerprint(value)


def value_size(value: StoredValue) -> int:
    """Bytes of the canonical encoding: what a message carrying the value costs."""
    if isinstance(value, Deletion):
        return len(_DELETED_BYTES)
    # (the value's kept figure first, without codec.size's call: once per state sent)
    quick = value._quick_size()
    return size(value) if quick is None else quick
