"""Last-writer-wins register: one value, stamped with the timestamp and replica that wrote it.

The join keeps the write that ranks highest by, in turn:

1. the **timestamp** (a finite int or float, supplied by the caller: the register never reads
   a clock);
2. the **replica id**, so two replicas writing at the same timestamp resolve the same way
   everywhere;
3. the **canonical encoding of the value** (and finally of the timestamp, so ``1`` and ``1.0``
   are ordered too). Without this, a replica that reuses a timestamp for two different writes
   (one restarted without its state, or two processes sharing an id) leaves two states with
   equal (timestamp, replica), and the join would keep whichever happened to be ``self``:
   ``a.merge(b) != b.merge(a)`` and replicas could stay apart forever. Encoded
   text is compared rather than the Python values because mixed types have no order and
   ``1 == True``.

An empty register has value ``None`` and no timestamp; any write beats it. A write that ranks
no higher than the current one changes nothing (``None`` delta and op). The delta of a write is
the new register; the op is the write record, and ``effect`` joins it in, so ops commute.

>>> a = LWWRegister().set("a", "tea", 2)
>>> b = LWWRegister().set("b", "milk", 2)  # same timestamp: replica "b" ranks above "a"
>>> a.merge(b).value(), b.merge(a).value()
('milk', 'milk')
>>> a.merge(b) == b.merge(a) == a.merge(b).merge(a)
True
>>> a.set_delta("a", "jam", 1) is None  # an older write loses: nothing to send
True
>>> a.prepare_set("a", "jam", 3)
LWWWrite(replica='a', value='jam', timestamp=3)
>>> a.set("a", "jam", "noon")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
crdt.errors.InvalidOperationError: LWWRegister.set: timestamp must be a finite ..., found 'noon'

Values are elements (JSON scalars or tuples of them, see :mod:`crdt.codec`). :data:`TOMBSTONE`
is a marker value that only :class:`~crdt.lwwmap.LWWMap` writes, for its deletes; the register's
own ``set`` refuses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from crdt.base import Crdt, Op
from crdt.clocks import check_replica
from crdt.codec import canonical_json, encode_element, register
from crdt.errors import DecodeError, InvalidOperationError
from crdt.gset import check_element, decode_element_checked

__all__ = ["LWWRegister", "LWWWrite", "TOMBSTONE", "Timestamp", "check_timestamp", "decode_write"]

Timestamp = int | float


class _Tombstone:
    """The value of a deleted map entry; a single instance, :data:`TOMBSTONE`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TOMBSTONE"

    def __reduce__(self) -> str:
        return "TOMBSTONE"  # copies and pickles stay the one instance


#: The value of a deleted map entry (it keeps the delete's timestamp so stale sets lose).
TOMBSTONE: Any = _Tombstone()


def check_timestamp(type_name: str, operation: str, timestamp: object) -> Timestamp:
    """``timestamp`` if it is a finite int or float (not bool), else ``InvalidOperationError``."""
    if type(timestamp) is int or (type(timestamp) is float and math.isfinite(timestamp)):
        return timestamp  # the common cases, ahead of the general checks
    if (
        not isinstance(timestamp, int | float)
        or isinstance(timestamp, bool)
        or (isinstance(timestamp, float) and not math.isfinite(timestamp))
    ):
        raise InvalidOperationError(
            type_name, operation, "timestamp must be a finite int or float", timestamp
        )
    return timestamp


def _check_replica(type_name: str, operation: str, replica: object) -> str:
    return check_replica(type_name, operation, replica)


Rank = tuple[Timestamp, str, bool, str, str]


def _rank(value: Any, timestamp: Timestamp, replica: str) -> Rank:
    # Deletes rank above any value written with the same (timestamp, replica): a replica that
    # sets and deletes a key at one instant ends with the key deleted.
    deleted = value is TOMBSTONE
    value_text = "" if deleted else canonical_json(encode_element(value))
    return (timestamp, replica, deleted, value_text, canonical_json(timestamp))


@dataclass(frozen=True, slots=True)
class LWWWrite(Op):
    """Write ``value`` at ``timestamp`` from ``replica`` (op form; idempotent)."""

    replica: str
    value: Any
    timestamp: Timestamp

    def to_data(self) -> Any:
        return {"set": [self.replica, self.timestamp, encode_element(self.value)]}


@register
class LWWRegister(Crdt[Any]):
    """A register holding the highest-ranked write; ``timestamp`` is ``None`` when empty."""

    type_name = "LWWRegister"
    kind = "lww register"
    operations = ("set",)
    op_types = (LWWWrite,)
    __slots__ = ("stored", "timestamp", "replica", "_rank", "_pair")

    stored: Any
    timestamp: Timestamp | None
    replica: str | None
    _rank: Rank | None
    # (map key, (bytes, hash)) of the [key, register] pair an LWWMap last measured it in: a
    # register travels between replicas under one key, so the pair is measured once, not per map
    _pair: tuple[Any, tuple[int, int]]

    def __init__(
        self, value: Any = None, timestamp: Timestamp | None = None, replica: str | None = None
    ) -> None:
        if timestamp is None and replica is None and value is None:
            self._set_fields(None, None, None)
            return
        check_element(self.type_name, "create", value)
        timestamp = check_timestamp(self.type_name, "create", timestamp)
        replica = _check_replica(self.type_name, "create", replica)
        self._set_fields(value, timestamp, replica)

    def _set_fields(self, value: Any, timestamp: Timestamp | None, replica: str | None) -> None:
        object.__setattr__(self, "stored", value)
        object.__setattr__(self, "timestamp", timestamp)
        object.__setattr__(self, "replica", replica)
        object.__setattr__(self, "_rank", None)

    @classmethod
    def _of(cls, value: Any, timestamp: Timestamp, replica: str) -> LWWRegister:
        """A register of one write whose arguments are known to be valid (TOMBSTONE allowed)."""
        reg = object.__new__(cls)
        _set_stored(reg, value)
        _set_timestamp(reg, timestamp)
        _set_replica(reg, replica)
        _set_rank(reg, None)
        return reg

    def _full_rank(self) -> Rank:
        # Encoding the value costs two JSON dumps, and only an exact (timestamp, replica) tie
        # needs it, so it is computed on first use.
        if self._rank is None:
            object.__setattr__(self, "_rank", _rank(self.stored, self.timestamp, self.replica))  # type: ignore[arg-type]
        return self._rank  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        # The rank holds the exact encodings, so 1 and True (equal in Python) differ here.
        if type(other) is not type(self):
            return False
        assert isinstance(other, LWWRegister)
        if self.timestamp is None or other.timestamp is None:
            return self.timestamp is None and other.timestamp is None
        return self.replica == other.replica and self._full_rank() == other._full_rank()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self.timestamp is None:
            return "LWWRegister()"
        return (
            f"LWWRegister({self.stored!r}, timestamp={self.timestamp!r}, replica={self.replica!r})"
        )

    @property
    def deleted(self) -> bool:
        """Whether the winning write is a map delete (its value is :data:`TOMBSTONE`)."""
        return self.stored is TOMBSTONE

    def value(self) -> Any:
        return self.stored

    def wins_over(self, other: LWWRegister) -> bool:
        """Whether this register's write ranks strictly above ``other``'s (empty ranks lowest)."""
        if self.timestamp is None:
            return False
        if other.timestamp is None:
            return True
        if self.timestamp != other.timestamp:
            return self.timestamp > other.timestamp
        if self.replica != other.replica:
            return self.replica > other.replica  # type: ignore[operator]
        return self._full_rank() > other._full_rank()

    def merge(self, other: LWWRegister) -> LWWRegister:
        self._check_same_type(other, "merge")
        return other if other.wins_over(self) else self

    def difference(self, delta: LWWRegister) -> LWWRegister | None:
        self._check_same_type(delta, "difference")
        return delta if delta.wins_over(self) else None

    # -- set: state, delta and op forms --------------------------------------------------------

    def _write(self, replica: str, value: Any, timestamp: Timestamp) -> LWWRegister | None:
        """The register of this write if it would win, else ``None``; checks the arguments."""
        _check_replica(self.type_name, "set", replica)
        check_element(self.type_name, "set", value)
        check_timestamp(self.type_name, "set", timestamp)
        candidate = self._of(value, timestamp, replica)
        return candidate if candidate.wins_over(self) else None

    def set(self, replica: str, value: Any, timestamp: Timestamp) -> LWWRegister:
        return self._write(replica, value, timestamp) or self

    def set_delta(self, replica: str, value: Any, timestamp: Timestamp) -> LWWRegister | None:
        return self._write(replica, value, timestamp)

    def prepare_set(self, replica: str, value: Any, timestamp: Timestamp) -> LWWWrite | None:
        if self._write(replica, value, timestamp) is None:
            return None
        return LWWWrite(replica, value, timestamp)

    def effect(self, op: Op) -> LWWRegister:
        if not isinstance(op, LWWWrite):
            raise InvalidOperationError(self.type_name, "effect", "expected an LWWWrite op", op)
        return self.set(op.replica, op.value, op.timestamp)

    # -- encoding --------------------------------------------------------------------------

    def to_data(self) -> Any:
        if self.timestamp is None:
            return None
        data: dict[str, Any] = {"replica": self.replica, "timestamp": self.timestamp}
        if self.deleted:
            data["deleted"] = True
        else:
            data["value"] = encode_element(self.stored)
        return data

    @classmethod
    def from_data(cls, data: Any) -> LWWRegister:
        if data is None:
            return cls()
        decoded = decode_write(cls.type_name, data, tombstone=False)
        return decoded if cls is LWWRegister else cls._of(decoded.stored, data["timestamp"], data["replica"])

    @classmethod
    def op_from_data(cls, data: Any) -> LWWWrite:
        if (
            isinstance(data, dict)
            and set(data) == {"set"}
            and isinstance(data["set"], list)
            and len(data["set"]) == 3
            and isinstance(data["set"][0], str)
        ):
            replica, timestamp, value = data["set"]
            try:
                timestamp = check_timestamp(cls.type_name, "op_from_data", timestamp)
            except InvalidOperationError:
                pass
            else:
                return LWWWrite(replica, decode_element_checked(cls.type_name, value), timestamp)
        raise DecodeError(cls.type_name, "expected {set: [replica, timestamp, value]}", data)


def decode_write(type_name: str, data: Any, tombstone: bool) -> LWWRegister:
    """Decode one non-empty register; ``{..., deleted: true}`` is accepted if ``tombstone``."""
    expected = "expected {replica, timestamp, value}"
    if tombstone:
        expected += " or {replica, timestamp, deleted: true}"
    if not isinstance(data, dict) or not isinstance(data.get("replica"), str):
        raise DecodeError(type_name, expected, data)
    try:
        timestamp = check_timestamp(type_name, "from_data", data.get("timestamp"))
    except InvalidOperationError:
        raise DecodeError(type_name, expected, data) from None
    if set(data) == {"replica", "timestamp", "value"}:
        value = decode_element_checked(type_name, data["value"])
    elif tombstone and set(data) == {"replica", "timestamp", "deleted"} and data["deleted"] is True:
        value = TOMBSTONE
    else:
        raise DecodeError(type_name, expected, data)
    return LWWRegister._of(value, timestamp, data["replica"])


# Slot setters called directly: registers are made on every write of a map.
_set_stored = LWWRegister.__dict__["stored"].__set__
_set_timestamp = LWWRegister.__dict__["timestamp"].__set__
_set_replica = LWWRegister.__dict__["replica"].__set__
_set_rank = LWWRegister.__dict__["_rank"].__set__
