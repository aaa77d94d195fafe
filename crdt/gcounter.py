"""Grow-only counter: one count per replica; join is the pointwise maximum; value is the sum.

>>> a = GCounter().increment("a", 2)
>>> b = GCounter().increment("b", 3)
>>> a.merge(b).value()
5
>>> a.merge(b) == b.merge(a) == a.merge(b).merge(a)
True
>>> a.increment_delta("a", 1)         # the delta carries only the replica's new count
GCounter({'a': 3})
>>> a.prepare_increment("a", 0) is None  # a mutation that changes nothing sends nothing
True
>>> a.increment("a", -1)
Traceback (most recent call last):
...
crdt.errors.InvalidOperationError: GCounter.increment: amount must be an integer >= 0, found -1
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any, TypeVar

from crdt.base import Crdt, Op
from crdt.clocks import check_replica
from crdt.codec import canonical_json, register
from crdt.errors import DecodeError, InvalidOperationError

__all__ = ["GCounter", "Increment"]


@dataclass(frozen=True, slots=True)
class Increment(Op):
    """Add ``amount`` to ``replica``'s count (op form; not idempotent, needs exactly-once)."""

    replica: str
    amount: int

    def to_data(self) -> Any:
        return {"increment": [self.replica, self.amount]}


def check_amount(type_name: str, operation: str, amount: object) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise InvalidOperationError(type_name, operation, "amount must be an integer >= 0", amount)
    return amount


def decode_counts(type_name: str, data: Any) -> dict[str, int]:
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
        for k, v in data.items()
    ):
        raise DecodeError(type_name, "expected an object of replica -> positive integer", data)
    return dict(data)


# -- size, fingerprint and value, kept through merges and increments --------------------------
# The canonical encoding is {"state":{"r1":c1,...},"type":"GCounter"}: a fixed frame, one
# "r":c per replica and the commas between them. The fingerprint is the sum, modulo 2**64, of
# one term per entry, h(replica) * (2 * count + 1) with h a 64-bit hash of the replica id (a
# multiset hash: distinct counters collide with negligible probability), so a merge updates
# both from the entries it changes instead of encoding and hashing the whole counter. The value
# (the sum of the counts) is kept alongside, so a counter whose counts are not built (see
# below) answers it without building them.

Stats = tuple[int, int, int]  # (canonical byte length, fingerprint sum mod 2**64, value)

_FRAME = len('{"state":{},"type":"GCounter"}')
_MASK = (1 << 64) - 1
_REPLICAS: dict[str, tuple[int, int]] = {}


def _replica(replica: str) -> tuple[int, int]:
    """(bytes of ``"replica":`` in the canonical encoding, a 64-bit hash of the id); cached
    (replica ids repeat; bounded like the trace's name cache)."""
    known = _REPLICAS.get(replica)
    if known is None:
        raw = replica.encode("utf-8", "surrogatepass")
        known = (len(canonical_json(replica).encode()) + 1,
                 int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little"))
        if len(_REPLICAS) < 1_000_000:
            _REPLICAS[replica] = known
    return known


def _stats_of(counts: Mapping[str, int]) -> Stats:
    """(canonical byte length, fingerprint sum, value) of a counter with ``counts``, from scratch."""
    size = _FRAME + max(len(counts) - 1, 0)
    total = 0
    for replica, count in counts.items():
        nbytes, h = _REPLICAS.get(replica) or _replica(replica)
        size += nbytes + len(str(count))
        total += h * (2 * count + 1)
    return size, total & _MASK, sum(counts.values())


def _stats_after(stats: Stats, counts: Mapping[str, int], changes: list[tuple[str, int]]) -> Stats:
    """The stats of ``counts`` updated by ``changes`` (distinct replicas, new counts)."""
    size, total, value = stats
    entries = len(counts)
    get = counts.get
    known = _REPLICAS.get
    for replica, count in changes:
        nbytes, h = known(replica) or _replica(replica)
        old = get(replica)
        # (a count's digits: most counts have one, and a str per change costs more than the test)
        if old is None:
            size += nbytes + (1 if count < 10 else len(str(count))) + (1 if entries else 0)
            entries += 1
            total += h * (2 * count + 1)
            value += count
        else:
            size += (1 if count < 10 else len(str(count))) - (1 if old < 10 else len(str(old)))
            total += h * 2 * (count - old)
            value += count - old
    return size, total & _MASK, value


# -- entries as bits, for merges that cost what differs --------------------------------------
# A large counter also keeps its set of (replica, count) entries, and its set of replicas, as
# the bits of two ints, each distinct entry and replica numbered once per process. Two
# counters' entries then compare and subtract with a few machine-word operations per 64
# entries, and a merge visits only the entries one side holds and the other lacks (in gossip,
# few), each with its share of the size, fingerprint and value looked up, not recomputed. The
# numbers never reach anything observable: the encoding sorts, and size, fingerprint and value
# are sums over entries. Small counters merge as dicts (as cheap, and no ints to keep); once
# the table is full, new entries get no number and the counters holding them merge as dicts.
#
# A merge that only adds entries of replicas base lacks (what gossip mostly does) returns a
# counter of bits and stats alone: its counts dict is built from the bits when first asked
# (``GCounter.counts``), so a counter that only passes through merges, digests and sizes never
# copies a dict of every replica.

Bits = tuple[int, int]  # (entries, replicas) as bits

_BITS_FROM = 32  # entries on both sides before a merge uses bits
_MAX_ENTRIES = 1 << 16  # numbered entries at most: bounds the table and every counter's ints
# An entry packed as (bytes of ',"r":c') << _SIZE_SHIFT | count << _COUNT_SHIFT | its
# fingerprint term mod 2**64: a sum of packed entries gives the three sums at once. Each field
# holds the sum of _MAX_ENTRIES terms (below 2**80: a term of 64 bits, a count below 2**64; an
# entry with a larger count gets no number).
_COUNT_SHIFT = 96
_SIZE_SHIFT = 176
_COUNT_FIELD = (1 << (_SIZE_SHIFT - _COUNT_SHIFT)) - 1
_NUMBER: dict[tuple[str, int], int] = {}  # (replica, count) -> its bit
_PAIRS: list[tuple[str, int]] = []  # bit -> (replica, count)
_PACKED: list[int] = []  # bit -> the entry packed
_REPLICA_BIT: dict[str, int] = {}
_NUMBERING = threading.Lock()
_ONE = re.compile("1")
_START = re.Match.start
# Walking a bit string: a regex search for its ones costs what is set, compress costs a step
# per bit (in C, without a match object per one): it wins above about one bit in _DENSE
# (measured on 1,000-bit ints). Up to _SPARSE ones, taking the lowest one off in Python costs
# less than writing the string out (5 of 1,000 bits: 1.0 against 2.7 us; even at about 20).
_DENSE = 14
_SPARSE = 16
_SELECTORS = bytes.maketrans(b"01", b"\x00\x01")

T = TypeVar("T")
_UNSET: Any = object()  # an attribute not set yet (its value may be None)


def _select(table: Sequence[T], bits: int) -> Iterator[T]:
    """The items of ``table`` at the set bits of ``bits``, lowest bit first (the loop runs in C
    unless few bits are set)."""
    ones = bits.bit_count()
    if ones <= _SPARSE:
        items = []
        while bits:
            lowest = bits & -bits
            items.append(table[lowest.bit_length() - 1])
            bits ^= lowest
        return iter(items)
    text = bin(bits)[:1:-1]  # bit i is character i
    if ones * _DENSE > len(text):
        return compress(table, text.encode().translate(_SELECTORS))
    return map(table.__getitem__, map(_START, _ONE.finditer(text)))


def _unpack(stats: Stats, packed: int) -> Stats:
    """``stats`` with the sum of some entries' packed figures added (entries new to them)."""
    size, total, value = stats
    return (size + (packed >> _SIZE_SHIFT), (total + packed) & _MASK,
            value + (packed >> _COUNT_SHIFT & _COUNT_FIELD))


def _entry_bit(replica: str, count: int) -> int | None:
    """The bit of the entry ``replica: count`` (numbered on first use); None when full."""
    bit = _NUMBER.get((replica, count))
    if bit is not None:
        return bit
    # Numbering under a lock: simulations may run in threads of one process (a Dask worker's),
    # and two entries must never get the same bit. The entry is published in _NUMBER last, so
    # a reader that finds its bit also finds its pair, packed figures and replica bit.
    with _NUMBERING:
        bit = _NUMBER.get((replica, count))
        if bit is None:
            if len(_PAIRS) >= _MAX_ENTRIES or count > _MASK:
                return None
            nbytes, h = _REPLICAS.get(replica) or _replica(replica)
            bit = len(_PAIRS)
            _PAIRS.append((replica, count))
            _PACKED.append((nbytes + len(str(count)) + 1) << _SIZE_SHIFT | count << _COUNT_SHIFT
                           | (h * (2 * count + 1)) & _MASK)
            _REPLICA_BIT.setdefault(replica, len(_REPLICA_BIT))
            _NUMBER[(replica, count)] = bit
    return bit


def _bits_of(counts: Mapping[str, int]) -> Bits | None:
    """The entries and replicas of ``counts`` as bits, from scratch (None: not all numbered)."""
    entries = replicas = 0
    number, replica_bit = _NUMBER.get, _REPLICA_BIT
    for replica, count in counts.items():
        bit = number((replica, count))
        if bit is None and (bit := _entry_bit(replica, count)) is None:
            return None
        entries |= 1 << bit
        replicas |= 1 << replica_bit[replica]
    return entries, replicas


def _bits_after(bits: Bits | None, counts: Mapping[str, int], changes: list[tuple[str, int]]) -> Bits | None:
    """The bits of ``counts`` (which are ``bits``) updated by ``changes``."""
    if bits is None:
        return None
    entries, replicas = bits
    get = counts.get
    for replica, count in changes:
        bit = _entry_bit(replica, count)
        if bit is None:
            return None
        old = get(replica)
        if old is None:
            replicas |= 1 << _REPLICA_BIT[replica]
        else:
            entries &= ~(1 << _NUMBER[(replica, old)])
        entries |= 1 << bit
    return entries, replicas


def _walk_into(counts: Mapping[str, int], bits: Bits, stats: Stats,
               walk: Iterator[int]) -> tuple[Bits, Stats, list[tuple[str, int]]]:
    """Bits and stats of ``counts`` (which are ``bits`` and ``stats``) joined with the entries
    numbered ``walk`` (entries it lacks, some of its replicas'); and the entries that change."""
    entries, replicas = bits
    size, total, value = stats
    get = counts.get
    changes = []
    for bit in walk:
        replica, count = entry = _PAIRS[bit]
        packed = _PACKED[bit]
        old = get(replica)
        if old is None:
            replicas |= 1 << _REPLICA_BIT[replica]
            size += packed >> _SIZE_SHIFT
            value += count
        elif count > old:
            was = _NUMBER[(replica, old)]
            gone = _PACKED[was]
            size += (packed >> _SIZE_SHIFT) - (gone >> _SIZE_SHIFT)
            value += count - old
            packed -= gone
            entries &= ~(1 << was)
        else:
            continue
        # (the fields above the fingerprint's are multiples of 2**64: they vanish mod 2**64)
        total += packed
        entries |= 1 << bit
        changes.append(entry)
    return (entries, replicas), (size, total & _MASK, value), changes


@register
class GCounter(Crdt[int]):
    """A grow-only counter. ``counts`` maps replica id to that replica's increments.

    ``merge`` costs what the smaller side holds (for large counters, what one side holds and
    the other lacks), returns the dominating side itself when one dominates, and never sorts;
    size, fingerprint and value are kept through merges and increments.
    """

    type_name = "GCounter"
    kind = "counter"
    operations = ("increment",)
    op_types = (Increment,)
    merge_returns_equal_input = True  # (every path below returns an input it equals)
    __slots__ = ("_counts", "_stats", "_bits")

    # Every counter has _counts, or _bits (not None) and _stats: a large merge's result keeps
    # only the latter two and builds its counts when first asked (see ``counts``).
    _counts: dict[str, int]  # replica -> count (no zeros)
    _stats: Stats  # (canonical byte length, fingerprint sum, value), set when first asked
    _bits: Bits | None  # entries and replicas as bits (None: not all numbered), set when first asked

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        clean = {r: check_amount("GCounter", "create", c) for r, c in (counts or {}).items()}
        object.__setattr__(self, "_counts", {r: c for r, c in clean.items() if c})

    @classmethod
    def _of(cls, counts: dict[str, int]) -> GCounter:
        counter = object.__new__(cls)
        object.__setattr__(counter, "_counts", counts)
        return counter

    @property
    def counts(self) -> Mapping[str, int]:
        """Replica -> its count (only replicas that counted; read-only: never mutate it)."""
        try:
            return self._counts
        except AttributeError:
            # Built from the entries' bits once, then kept (the value is immutable).
            counts = dict(_select(_PAIRS, self._bits[0]))  # type: ignore[index]
            object.__setattr__(self, "_counts", counts)
            return counts

    def __reduce__(self) -> tuple[Any, tuple[dict[str, int]]]:
        # Copies and pickles carry the counts alone: the bit numbers are this process's, and
        # what a counter knows of itself is recomputed from the counts when asked.
        return type(self)._of, (dict(self.counts),)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        # Counters that both keep their entries as bits compare them in C, a word per 64.
        mine, theirs = getattr(self, "_bits", None), getattr(other, "_bits", None)
        if mine is not None and theirs is not None:
            return mine[0] == theirs[0]
        return self.counts == other.counts

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"GCounter({dict(sorted(self.counts.items()))})"

    def value(self) -> int:
        counts = getattr(self, "_counts", None)  # (getattr: cheaper than a caught AttributeError)
        if counts is None:
            return self._stats[2]  # a counter without counts has its stats
        return sum(counts.values())

    def get(self, replica: str) -> int:
        """``replica``'s count (0 for an unknown replica)."""
        return self.counts.get(replica, 0)

    def merge(self, other: GCounter) -> GCounter:
        if type(other) is not type(self):
            self._check_same_type(other, "merge")  # raises
        if other is self:
            return self
        # (_large_bits, its common answers read here: a counter that has its bits)
        mine = getattr(self, "_bits", _UNSET)
        if mine is _UNSET:
            mine = self._large_bits()
        if mine is not None:
            theirs = getattr(other, "_bits", _UNSET)
            if theirs is _UNSET:
                theirs = other._large_bits()
            if theirs is not None:
                return self._merge_bits(other, mine, theirs)
        big, small = (self, other) if len(self.counts) >= len(other.counts) else (other, self)
        mine_counts, theirs_counts = big.counts, small.counts
        # In gossip one side often holds all of the other: checked in C, stopping at the
        # first entry that differs.
        if theirs_counts.items() <= mine_counts.items():
            return big
        get = mine_counts.get
        ahead = [(r, c) for r, c in theirs_counts.items() if c > get(r, 0)]
        if not ahead:
            return big
        merged = dict(mine_counts)
        merged.update(ahead)
        if len(merged) == len(theirs_counts) and merged == theirs_counts:
            return small  # the smaller side dominates: keep it, with what it knows of itself
        return self._derived(big, merged, ahead)

    def _merge_bits(self, other: GCounter, mine: Bits, theirs: Bits) -> GCounter:
        """The merge of two counters whose entries and replicas are ``mine`` and ``theirs``."""
        (entries_m, replicas_m), (entries_t, replicas_t) = mine, theirs
        only_t = entries_t & ~entries_m
        if not only_t:
            return self  # every entry of other is one of ours
        only_m = entries_m & ~entries_t
        if not only_m:
            return other
        # Add to one side the entries only the other holds, walking the fewer.
        base, bits, walk, extra, extra_entries = self, mine, only_t, other, entries_t
        if only_t.bit_count() > only_m.bit_count():
            base, bits, walk, extra, extra_entries = other, theirs, only_m, self, entries_m
        # A replica of both sides has one count on both unless they share fewer entries
        # than replicas; when they differ nowhere, the walked entries are all new to base:
        # the result is the union of the bits, and base's stats plus the walked entries'
        # (summed in C), with no counts built.
        if (replicas_m & replicas_t).bit_count() == (entries_m & entries_t).bit_count():
            counter = object.__new__(type(self))
            object.__setattr__(counter, "_stats", _unpack(base._stats_now(), sum(_select(_PACKED, walk))))
            object.__setattr__(counter, "_bits", (entries_m | entries_t, replicas_m | replicas_t))
            return counter
        counts = base.counts
        bits, stats, changes = _walk_into(counts, bits, base._stats_now(),
                                          _select(range(walk.bit_length()), walk))
        if not changes:
            return base  # what only extra holds are lower counts of base's replicas
        if bits[0] == extra_entries:
            return extra  # extra dominates: keep it, with what it knows of itself
        merged = dict(counts)
        merged.update(changes)
        counter = self._of(merged)
        object.__setattr__(counter, "_stats", stats)
        object.__setattr__(counter, "_bits", bits)
        return counter

    @classmethod
    def _derived(cls, base: GCounter, counts: dict[str, int], changes: list[tuple[str, int]]) -> GCounter:
        """A counter of ``counts`` (``base`` with ``changes``), inheriting what base knows of itself."""
        counter = cls._of(counts)
        # (getattr with a default: a missing slot costs less than a caught AttributeError)
        stats = getattr(base, "_stats", None)
        if stats is not None:  # else computed when first asked
            object.__setattr__(counter, "_stats", _stats_after(stats, base.counts, changes))
        bits = getattr(base, "_bits", _UNSET)
        if bits is not _UNSET:
            object.__setattr__(counter, "_bits", _bits_after(bits, base.counts, changes))
        return counter

    def _large_bits(self) -> Bits | None:
        """The bits of a counter of at least ``_BITS_FROM`` entries, or of one that has them
        already; None for a smaller counter, or one with an entry the table could not number."""
        bits = getattr(self, "_bits", _UNSET)  # (small counters have none: a miss, cheaply)
        if bits is not _UNSET:
            return bits
        return self._bits_now() if len(self._counts) >= _BITS_FROM else None

    def _bits_now(self) -> Bits | None:
        try:
            return self._bits
        except AttributeError:
            bits = _bits_of(self._counts)
            object.__setattr__(self, "_bits", bits)
            return bits

    def _stats_now(self) -> Stats:
        try:
            return self._stats
        except AttributeError:
            stats = _stats_of(self._counts)
            object.__setattr__(self, "_stats", stats)
            return stats

    def _quick_size(self) -> int:
        return self._stats_now()[0]

    def _quick_fingerprint(self) -> str:
        return f"{self._stats_now()[1]:016x}"

    def difference(self, delta: GCounter) -> GCounter | None:
        self._check_same_type(delta, "difference")
        ahead = {r: c for r, c in delta.counts.items() if c > self.counts.get(r, 0)}
        return self._of(ahead) if ahead else None

    # -- increment: state, delta and op forms --------------------------------------------------

    def increment(self, replica: str, amount: int = 1) -> GCounter:
        """Add ``amount`` (a non-negative integer) to ``replica``'s count."""
        check_replica(self.type_name, "increment", replica)
        if not check_amount(self.type_name, "increment", amount):
            return self
        counts = dict(self.counts)
        change = [(replica, counts.get(replica, 0) + amount)]
        counts.update(change)
        return self._derived(self, counts, change)

    def increment_delta(self, replica: str, amount: int = 1) -> GCounter | None:
        """The delta of :meth:`increment` (merged in, it gives the same result); ``None`` when nothing changes."""
        check_replica(self.type_name, "increment", replica)
        if not check_amount(self.type_name, "increment", amount):
            return None
        return self._of({replica: self.get(replica) + amount})

    def prepare_increment(self, replica: str, amount: int = 1) -> Increment | None:
        """The op of :meth:`increment`, applied by :meth:`effect`; ``None`` when nothing changes."""
        check_replica(self.type_name, "increment", replica)
        if not check_amount(self.type_name, "increment", amount):
            return None
        return Increment(replica, amount)

    def effect(self, op: Op) -> GCounter:
        if not isinstance(op, Increment):
            raise InvalidOperationError(self.type_name, "effect", "expected an Increment op", op)
        return self.increment(op.replica, op.amount)

    # -- encoding --------------------------------------------------------------------------

    def to_data(self) -> Any:
        return dict(sorted(self.counts.items()))

    @classmethod
    def from_data(cls, data: Any) -> GCounter:
        return cls._of(decode_counts(cls.type_name, data))

    @classmethod
    def op_from_data(cls, data: Any) -> Increment:
        if (
            isinstance(data, dict)
            and set(data) == {"increment"}
            and isinstance(data["increment"], list)
            and len(data["increment"]) == 2
            and isinstance(data["increment"][0], str)
        ):
            replica, amount = data["increment"]
            try:
                return Increment(replica, check_amount(cls.type_name, "op_from_data", amount))
            except InvalidOperationError:
                pass
        raise DecodeError(cls.type_name, "expected {increment: [replica, amount >= 0]}", data)
