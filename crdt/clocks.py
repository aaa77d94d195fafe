"""Logical clocks: dots, version vectors and causal contexts.

A *dot* ``(replica, counter)`` names one event uniquely. A :class:`VersionVector` summarises a
contiguous prefix of events per replica. A :class:`CausalContext` is the set of dots a replica
has seen, kept compressed as a version vector plus a *dot cloud* of the dots that are not yet
contiguous (they arrive out of order under delta propagation).

>>> a = VersionVector().increment("a").increment("a")
>>> b = VersionVector().increment("b")
>>> a.compare(b)
<Ordering.CONCURRENT: 'concurrent'>
>>> a.merge(b).compare(a)
<Ordering.AFTER: 'after'>
>>> ctx = CausalContext().add(Dot("a", 2))  # dot 1 of "a" not seen yet: it stays in the cloud
>>> ctx.contains(Dot("a", 1)), ctx.contains(Dot("a", 2))
(False, True)
>>> ctx.add(Dot("a", 1)).vv.get("a")  # now contiguous: compacted into the vector
2
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError

__all__ = ["Dot", "Ordering", "VersionVector", "CausalContext", "check_replica"]


def check_replica(where: str, operation: str, replica: object) -> str:
    """``replica`` if it can be a replica id: a string that encodes as UTF-8 (a lone surrogate
    such as ``"\\ud800"`` cannot, so it would fail only later, when a state is encoded)."""
    if type(replica) is str and replica.isascii():
        return replica
    if not isinstance(replica, str):
        raise InvalidOperationError(where, operation, "replica id must be a string", replica)
    try:
        replica.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidOperationError(where, operation, "replica id must be valid Unicode (no lone surrogates)",
                                    replica) from None
    return replica


class Dot(NamedTuple):
    """One event: the ``counter``-th event of ``replica``. Ordered by (replica, counter)."""

    replica: str
    counter: int

    def to_data(self) -> list[Any]:
        """``[replica, counter]``."""
        return [self.replica, self.counter]

    @classmethod
    def from_data(cls, data: Any) -> Dot:
        """The dot :meth:`to_data` gave ``data`` for; :class:`DecodeError` otherwise."""
        if (
            not isinstance(data, list | tuple)
            or len(data) != 2
            or not isinstance(data[0], str)
            or not isinstance(data[1], int)
            or isinstance(data[1], bool)
            or data[1] < 1
        ):
            raise DecodeError("Dot", "expected [replica: str, counter: int >= 1]", data)
        return cls(data[0], data[1])


class Ordering(enum.Enum):
    """How two version vectors relate in the causal order."""

    BEFORE = "before"
    AFTER = "after"
    EQUAL = "equal"
    CONCURRENT = "concurrent"


def _check_counts(entries: Mapping[str, int], where: str) -> dict[str, int]:
    clean: dict[str, int] = {}
    for replica, count in entries.items():
        check_replica(where, "create", replica)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidOperationError(where, "create", "counts must be integers >= 0", count)
        if count:
            clean[replica] = count
    return clean


@dataclass(frozen=True, slots=True, init=False)
class VersionVector:
    """A map from replica id to the number of its events seen; missing means 0.

    Immutable: :meth:`increment` and :meth:`merge` return new vectors.
    """

    entries: Mapping[str, int]

    def __init__(self, entries: Mapping[str, int] | None = None) -> None:
        object.__setattr__(self, "entries", _check_counts(entries or {}, "VersionVector"))

    @classmethod
    def _trusted(cls, entries: dict[str, int]) -> VersionVector:
        # Internal constructor for entries already known to be valid and free of zeros.
        vv = _new(cls)
        _set_entries(vv, entries)
        return vv

    def get(self, replica: str) -> int:
        """How many events of ``replica`` the vector has seen (0 for an unknown replica)."""
        return self.entries.get(replica, 0)

    def increment(self, replica: str) -> VersionVector:
        """A copy that has seen one more event of ``replica``."""
        entries = dict(self.entries)
        entries[replica] = entries.get(replica, 0) + 1
        return VersionVector._trusted(entries)

    def merge(self, other: VersionVector) -> VersionVector:
        """The pointwise maximum of the two vectors."""
        if not isinstance(other, VersionVector):
            raise TypeMismatchError("VersionVector", "merge", other)
        entries = dict(self.entries)
        for replica, count in other.entries.items():
            if count > entries.get(replica, 0):
                entries[replica] = count
        return VersionVector._trusted(entries)

    def compare(self, other: VersionVector) -> Ordering:
        """Whether ``self`` happened before, after, equal to, or concurrently with ``other``."""
        if not isinstance(other, VersionVector):
            raise TypeMismatchError("VersionVector", "compare", other)
        less = greater = False
        for replica in self.entries.keys() | other.entries.keys():
            mine, theirs = self.get(replica), other.get(replica)
            less |= mine < theirs
            greater |= mine > theirs
        if less and greater:
            return Ordering.CONCURRENT
        if less:
            return Ordering.BEFORE
        if greater:
            return Ordering.AFTER
        return Ordering.EQUAL

    def dominates(self, other: VersionVector) -> bool:
        """True when every event ``other`` has seen, ``self`` has seen too."""
        return all(self.get(r) >= c for r, c in other.entries.items())

    def contains(self, dot: Dot) -> bool:
        """Whether the vector has seen the event ``dot``."""
        return dot.counter <= self.entries.get(dot.replica, 0)

    def without(self, replica: str) -> VersionVector:
        """This vector with ``replica``'s entry pruned (for retired replicas)."""
        return VersionVector._trusted({r: c for r, c in self.entries.items() if r != replica})

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(sorted(self.entries.items()))

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.entries.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionVector) and self.entries == other.entries

    def __repr__(self) -> str:
        return f"VersionVector({dict(sorted(self.entries.items()))})"

    def to_data(self) -> dict[str, int]:
        """``{replica: count}``, replicas sorted."""
        return dict(sorted(self.entries.items()))

    @classmethod
    def from_data(cls, data: Any) -> VersionVector:
        """The vector :meth:`to_data` gave ``data`` for; :class:`DecodeError` otherwise."""
        if not isinstance(data, dict):
            raise DecodeError("VersionVector", "expected an object of replica -> count", data)
        try:
            return cls(data)
        except InvalidOperationError as error:
            raise DecodeError("VersionVector", str(error), data) from None


@dataclass(frozen=True, slots=True)
class CausalContext:
    """The set of dots seen, as a compact version vector plus a cloud of stray dots.

    Always kept compact (no cloud dot is contiguous with or covered by the vector), so two
    contexts holding the same dots compare equal.
    """

    vv: VersionVector = field(default_factory=VersionVector)
    cloud: frozenset[Dot] = frozenset()

    def contains(self, dot: Dot) -> bool:
        """Whether the context has seen ``dot``, in its compact vector or its cloud."""
        return self.vv.contains(dot) or dot in self.cloud

    def next_dot(self, replica: str) -> Dot:
        """The dot ``replica`` uses for its next event (one past its contiguous prefix)."""
        return Dot(check_replica("CausalContext", "next_dot", replica), self.vv.get(replica) + 1)

    def advance(self, replica: str) -> tuple[Dot, CausalContext]:
        """``replica``'s next dot and this context with it added (``self.add(dot)``), fast.

        The new dot is contiguous with ``replica``'s prefix, so unless the cloud holds a later
        dot of ``replica`` (which would then fold into the vector) only the vector changes. It
        runs on every state-form mutation of the dot-based types, so it skips the validating
        constructors.

        >>> dot, ctx = CausalContext().advance("a")
        >>> dot, ctx.vv.get("a")
        (Dot(replica='a', counter=1), 1)
        """
        counter = self.vv.entries.get(check_replica("CausalContext", "advance", replica), 0) + 1
        dot = Dot(replica, counter)
        if self.cloud and any(d.replica == replica for d in self.cloud):
            return dot, self.add(dot)
        counts = {**self.vv.entries}
        counts[replica] = counter
        return dot, _counted(counts, self.cloud)

    def add(self, dot: Dot) -> CausalContext:
        """A context that has also seen ``dot`` (``self`` when it had)."""
        entries, cloud = self.vv.entries, self.cloud
        replica, counter = dot
        seen = entries.get(replica, 0)
        if counter <= seen or (cloud and dot in cloud):
            return self
        if counter == seen + 1 and not cloud:  # the next dot of its replica: only the vector grows
            counts = {**entries}
            counts[replica] = counter
            return _counted(counts, cloud)
        return CausalContext._folded(dict(entries), cloud, [dot], {})

    def add_all(self, dots: Iterable[Dot]) -> CausalContext:
        """A context that has also seen every one of ``dots`` (``self`` when it had)."""
        get, cloud = self.vv.entries.get, self.cloud
        new = [d for d in dots if d[1] > get(d[0], 0) and d not in cloud]
        if not new:
            return self
        return CausalContext._folded(dict(self.vv.entries), cloud, new, {})

    def merge(self, other: CausalContext) -> CausalContext:
        """The union of two contexts, compacted into the vector where the dots are contiguous;
        ``self`` itself when it already holds every dot of ``other``. Costs what ``other``
        holds (its vector entries and cloud) plus, when the result differs, a copy of
        ``self``'s vector: never a sort, never a walk over ``self``'s cloud except to rebuild
        it when it changes."""
        if not isinstance(other, CausalContext):
            raise TypeMismatchError("CausalContext", "merge", other)
        if other is self:
            return self
        mine = self.vv.entries
        raised: dict[str, int] = {}  # replica -> its count here, for entries ``other`` raises
        for replica, count in other.vv.entries.items():
            old = mine.get(replica, 0)
            if count > old:
                raised[replica] = old
        cloud = self.cloud
        fresh = [d for d in other.cloud if d[1] > mine.get(d[0], 0) and d not in cloud]
        if not raised and not fresh:
            return self
        entries = dict(mine)
        theirs = other.vv.entries
        for replica in raised:
            entries[replica] = theirs[replica]
        if not cloud and len(fresh) <= 1:
            # The common case of a delta's join: no strays here, at most one new stray dot.
            if not fresh:
                return _counted(entries, cloud)
            replica, counter = fresh[0]
            seen = entries.get(replica, 0)
            if counter == seen + 1:
                entries[replica] = counter
            elif counter > seen:
                return _counted(entries, frozenset(fresh))
            return _counted(entries, cloud)
        return CausalContext._folded(entries, cloud, fresh, raised)

    @staticmethod
    def union(contexts: Sequence[CausalContext]) -> CausalContext:
        """The union of ``contexts`` (at least one) in one pass, compacted once: what joining
        many deltas at once needs, where merging them pairwise would rebuild the growing cloud
        at every step. The first context itself when the others add nothing to it.

        >>> a, b = CausalContext().add(Dot("a", 1)), CausalContext().add(Dot("a", 3))
        >>> CausalContext.union([a, b, CausalContext().add(Dot("a", 2))]).vv.get("a")
        3
        """
        first = contexts[0]
        if len(contexts) == 1:
            return first
        entries = dict(first.vv.entries)
        strays = list(first.cloud)
        raised = False
        for context in contexts[1:]:
            for replica, count in context.vv.entries.items():
                if count > entries.get(replica, 0):
                    entries[replica] = count
                    raised = True
            strays.extend(context.cloud)
        if not raised:
            cloud, get = first.cloud, entries.get
            if all(d[1] <= get(d[0], 0) or d in cloud for d in strays[len(cloud):]):
                return first
        return CausalContext._folded(entries, frozenset(), strays, {})

    def dots(self) -> Iterator[Dot]:
        """Every dot in the context, in (replica, counter) order."""
        for replica, count in self.vv:
            for counter in range(1, count + 1):
                yield Dot(replica, counter)
        yield from sorted(self.cloud)

    @staticmethod
    def _folded(
        entries: dict[str, int], cloud: frozenset[Dot], fresh: list[Dot], raised: Mapping[str, int]
    ) -> CausalContext:
        """The compact context of vector ``entries`` (owned, raised already where ``raised``
        says, from the count given there), the old compact ``cloud`` and ``fresh`` dots.

        Only the replicas whose entry rose or that got a fresh dot can change: their cloud dots
        now covered are dropped, and dots that became contiguous fold into the vector, found by
        asking for the next counter rather than by sorting the cloud.
        """
        # Membership is asked with plain (replica, counter) tuples: a Dot hashes and compares
        # as one, and building the named tuple costs more than the lookup.
        covered: list[Dot] = []
        if cloud:
            for replica, old in raised.items():
                new = entries[replica]
                if new - old <= len(cloud):
                    covered.extend(Dot(replica, k) for k in range(old + 1, new + 1) if (replica, k) in cloud)
                else:
                    covered.extend(d for d in cloud if d.replica == replica and d.counter <= new)
        get = entries.get
        strays = {d for d in fresh if d[1] > get(d[0], 0)}
        # Only a replica with a new stray, or whose entry rose, can fold further.
        touched = {d[0] for d in strays}
        touched.update(raised)
        if not strays and not covered:
            if cloud and raised:
                strays = set(cloud)
            else:
                return _counted(entries, cloud)
        else:
            strays.update(cloud)
            strays.difference_update(covered)
        for replica in touched:
            count = get(replica, 0)
            if (replica, count + 1) not in strays:
                continue
            while (replica, count + 1) in strays:
                count += 1
                strays.discard((replica, count))
            entries[replica] = count
        if len(strays) == len(cloud) and strays == cloud:
            return _counted(entries, cloud)
        return _counted(entries, frozenset(strays))

    def to_data(self) -> dict[str, Any]:
        """``{vv: {replica: count}, cloud: [[replica, counter], ...]}``, the cloud sorted."""
        return {"vv": self.vv.to_data(), "cloud": [d.to_data() for d in sorted(self.cloud)]}

    @classmethod
    def from_data(cls, data: Any) -> CausalContext:
        """The context :meth:`to_data` gave ``data`` for; :class:`DecodeError` otherwise."""
        if not isinstance(data, dict) or set(data) != {"vv", "cloud"} or not isinstance(data["cloud"], list):
            raise DecodeError("CausalContext", "expected {vv: {...}, cloud: [[replica, counter], ...]}", data)
        vv = VersionVector.from_data(data["vv"])
        fresh = [d for d in map(Dot.from_data, data["cloud"]) if not vv.contains(d)]
        return CausalContext._folded(dict(vv.entries), frozenset(), fresh, {})


_new = object.__new__
_set_entries = VersionVector.__dict__["entries"].__set__
_set_vv = CausalContext.__dict__["vv"].__set__
_set_cloud = CausalContext.__dict__["cloud"].__set__


def _counted(entries: dict[str, int], cloud: frozenset[Dot]) -> CausalContext:
    # The context of vector ``entries`` (owned here, valid, free of zeros) and compact ``cloud``,
    # without the validating constructors and their frozen-attribute detour (joins make many).
    vv = _new(VersionVector)
    _set_entries(vv, entries)
    ctx = _new(CausalContext)
    _set_vv(ctx, vv)
    _set_cloud(ctx, cloud)
    return ctx


