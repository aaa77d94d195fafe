"""Dot stores and their causal join: the shared core of the dot-based ("causal") CRDTs.

A causal CRDT is a *dot store* plus a :class:`~crdt.clocks.CausalContext` of every dot the
replica has seen (Almeida, Shoker, Baquero, "Delta State Replicated Data Types"). A dot store
is one of

* a **dot set** – ``frozenset[Dot]`` (flags; the dots of one ORSet element);
* a **dot fun** – ``Mapping[Dot, value]`` (MVRegister, CausalCounter); a dot's value never
  changes once made, so the join never has to combine two values of one dot;
* a **dot map** – ``Mapping[key, dot store]`` (ORSet elements, ORMap entries).

The *causal join* of ``(s1, c1)`` and ``(s2, c2)`` keeps the dots both stores hold, plus each
dot of one side that the other side's context has not seen: a dot that one side has seen but
no longer holds was removed there, and the removal wins over the stale copy.

>>> from crdt.clocks import Dot
>>> a1, b1 = Dot("a", 1), Dot("b", 1)
>>> seen_a = context_of([a1])
>>> sorted(join_dot_sets(frozenset({a1}), seen_a, frozenset({b1}), context_of([b1])))
[Dot(replica='a', counter=1), Dot(replica='b', counter=1)]
>>> join_dot_sets(frozenset({a1}), seen_a, frozenset(), context_of([a1]))  # removed elsewhere
frozenset()

:class:`CausalCrdt` is the base class of the causal types: it holds ``store`` and
``context``, implements ``merge`` as the causal join of the stores and the union of the
contexts, and the canonical encoding ``{"context": ..., "store": ...}``. Because a type's store
join, encoding and value are class methods over a bare store, :class:`~crdt.ormap.ORMap` can
nest any causal type under one shared context.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Self, TypeVar

from crdt.base import Crdt, Op
from crdt.clocks import CausalContext, Dot
from crdt.errors import DecodeError, InvalidOperationError

__all__ = [
    "CausalCrdt",
    "context_of",
    "next_dot",
    "seen_by",
    "join_dot_sets",
    "join_dot_funs",
    "join_dot_maps",
    "context_dots",
    "keys_losing_dots",
    "walk_cost",
    "WALK_FACTOR",
    "encode_dots",
    "decode_dots",
    "decode_dot",
    "dots_repr",
    "context_repr",
]

V = TypeVar("V")
S = TypeVar("S")

EMPTY_CONTEXT = CausalContext()
_NO_STRAYS: frozenset[Dot] = frozenset()
_new = object.__new__


def context_of(dots: Iterable[Dot]) -> CausalContext:
    """The (compact) causal context holding exactly ``dots``."""
    fresh = list(dots)
    return CausalContext._folded({}, _NO_STRAYS, fresh, {}) if fresh else EMPTY_CONTEXT


def next_dot(context: CausalContext, replica: str) -> tuple[Dot, CausalContext]:
    """``replica``'s next dot and ``context`` with it added (see ``CausalContext.advance``)."""
    return context.advance(replica)


def seen_by(context: CausalContext) -> Callable[[tuple[str, int]], bool]:
    """A fast membership test for ``context`` (used in the inner loops of joins)."""
    get = context.vv.entries.get
    cloud = context.cloud
    if cloud:
        return lambda d: d[1] <= get(d[0], 0) or d in cloud
    return lambda d: d[1] <= get(d[0], 0)


#: A map-like causal type merges by walking its smaller side alone when walking it costs this
#: many times less than the larger side's entry count (below that a full join is as cheap).
WALK_FACTOR = 4


def context_dots(context: CausalContext) -> Iterator[tuple[str, int]]:
    """Every dot of ``context`` as a plain ``(replica, counter)`` pair, in no given order."""
    for replica, count in context.vv.entries.items():
        for counter in range(1, count + 1):
            yield replica, counter
    yield from context.cloud


def keys_losing_dots(
    delta_context: CausalContext,
    seen: Callable[[tuple[str, int]], bool],
    held: set[Dot],
    changes: Mapping[Any, Any],
    dot_index: Callable[[], Any],
) -> Iterator[Any]:
    """The keys of a store that a delta's context removes dots from, each once.

    A dot the delta's context names, that this side has ``seen``, that is not among the dots
    already joined under the delta's own keys (``held``), is a dot the delta removed; its key
    comes from ``dot_index()`` (a mapping, built only if such a dot exists). Keys already in ``changes`` are
    skipped; the caller adds each key it is given to ``changes`` before asking for the next, so
    the generator must be consumed lazily.
    """
    index: Any = None
    for d in context_dots(delta_context):
        if not seen(d) or d in held:
            continue  # a dot we never saw is not in our store
        if index is None:
            index = dot_index()
        key = index.get(d)
        if key is not None and key not in changes:
            yield key


def walk_cost(entries: int, context: CausalContext) -> int:
    """What walking one side of a join costs: its ``entries`` and every dot its context names."""
    return entries + sum(context.vv.entries.values()) + len(context.cloud)


def join_dot_sets(
    a: frozenset[Dot], ca: CausalContext, b: frozenset[Dot], cb: CausalContext
) -> frozenset[Dot]:
    """The causal join of two dot sets (returns ``a`` itself when nothing changes)."""
    if a == b:
        return a
    seen_a, seen_b = seen_by(ca), seen_by(cb)
    kept = a & b
    changed = False
    for d in a - b:
        if seen_b(d):
            changed = True
        else:
            kept |= {d}
    for d in b - a:
        if not seen_a(d):
            kept |= {d}
            changed = True
    return kept if changed else a


def join_dot_funs(
    a: Mapping[Dot, V], ca: CausalContext, b: Mapping[Dot, V], cb: CausalContext
) -> dict[Dot, V]:
    """The causal join of two dot funs (a dot's value is the same on every side)."""
    seen_a, seen_b = seen_by(ca), seen_by(cb)
    joined = {d: v for d, v in a.items() if d in b or not seen_b(d)}
    joined.update((d, v) for d, v in b.items() if d not in a and not seen_a(d))
    return joined


def join_dot_maps(
    a: Mapping[Any, S],
    ca: CausalContext,
    b: Mapping[Any, S],
    cb: CausalContext,
    join: Callable[[S | None, CausalContext, S | None, CausalContext], S | None],
) -> dict[Any, S]:
    """The causal join of two dot maps, joining the stores under each key with ``join``.

    ``join`` receives ``None`` for a key one side lacks and returns ``None`` for an empty
    store, so a dot map never keeps an empty entry (that keeps the representation canonical).
    """
    joined: dict[Any, S] = {}
    for key, sa in a.items():
        s = join(sa, ca, b.get(key), cb)
        if s is not None:
            joined[key] = s
    for key, sb in b.items():
        if key not in a:
            s = join(None, ca, sb, cb)
            if s is not None:
                joined[key] = s
    return joined


# -- encoding helpers -----------------------------------------------------------------------


def encode_dots(dots: Iterable[Dot]) -> list[list[Any]]:
    """Dots as a sorted list of ``[replica, counter]`` pairs."""
    return [[d.replica, d.counter] for d in sorted(dots)]


def decode_dot(type_name: str, data: Any) -> Dot:
    try:
        return Dot.from_data(data)
    except DecodeError:
        raise DecodeError(
            type_name, "expected a dot [replica: str, counter: int >= 1]", data
        ) from None


def decode_dots(type_name: str, data: Any, nonempty: bool = False) -> frozenset[Dot]:
    """Decode a list of distinct dots (``nonempty``: reject an empty list)."""
    if not isinstance(data, list) or (nonempty and not data):
        raise DecodeError(
            type_name,
            "expected a non-empty list of dots" if nonempty else "expected a list of dots",
            data,
        )
    dots = frozenset(decode_dot(type_name, d) for d in data)
    if len(dots) != len(data):
        raise DecodeError(type_name, "a dot is listed twice", data)
    return dots


def dots_repr(dots: Iterable[Dot]) -> str:
    """Dots in a short readable form: ``a1 a2 b1``."""
    return " ".join(f"{d.replica}{d.counter}" for d in sorted(dots))


def context_repr(context: CausalContext) -> str:
    vv = ", ".join(f"{r}:{c}" for r, c in context.vv)
    cloud = f" + {dots_repr(context.cloud)}" if context.cloud else ""
    return f"{{{vv}}}{cloud}"


# -- the base class ---------------------------------------------------------------------------


class CausalCrdt(Crdt[V]):
    """Base of CRDTs whose state is a dot store (``store``) and a causal ``context``.

    Subclasses define the store's empty value, join, dots, value and encoding as class
    methods over a bare store, so a map can hold their stores under its own context.
    """

    __slots__ = ("store", "context")

    store: Any
    context: CausalContext

    def __init__(self) -> None:
        _set_store(self, self._empty_store())
        _set_context(self, EMPTY_CONTEXT)

    @classmethod
    def _of(cls, store: Any, context: CausalContext) -> Self:
        value = _new(cls)
        _set_store(value, store)
        _set_context(value, context)
        return value

    # -- what each causal type defines ---------------------------------------------------

    @classmethod
    @abstractmethod
    def _empty_store(cls) -> Any:
        """The store of the bottom state."""

    @classmethod
    @abstractmethod
    def _join_stores(cls, a: Any, ca: CausalContext, b: Any, cb: CausalContext) -> Any:
        """The causal join of two stores of this type."""

    @classmethod
    @abstractmethod
    def _store_dots(cls, store: Any) -> Iterator[Dot]:
        """Every dot a store holds."""

    @classmethod
    @abstractmethod
    def _store_value(cls, store: Any) -> V:
        """What :meth:`value` returns for a store."""

    @classmethod
    @abstractmethod
    def _store_to_data(cls, store: Any) -> Any:
        """The canonical encoding of a store."""

    @classmethod
    @abstractmethod
    def _store_from_data(cls, data: Any) -> Any:
        """Decode a store; malformed data raises ``DecodeError``."""

    @classmethod
    def _store_is_empty(cls, store: Any) -> bool:
        return not store

    # -- shared behaviour ----------------------------------------------------------------

    def dots(self) -> list[Dot]:
        """The dots the store holds, sorted."""
        return sorted(self._store_dots(self.store))

    def value(self) -> V:
        return self._store_value(self.store)

    def merge(self, other: Self) -> Self:
        self._check_same_type(other, "merge")
        if other is self:
            return self
        store = self._join_stores(self.store, self.context, other.store, other.context)
        return self._of(store, self.context.merge(other.context))

    def _merge_delta(self, store: Any, context: CausalContext) -> Self:
        # Applying an op is merging the delta it carries (ops are deltas delivered causally).
        return self._of(
            self._join_stores(self.store, self.context, store, context), self.context.merge(context)
        )

    def __eq__(self, other: object) -> bool:
        return other is self or (
            type(other) is type(self)
            and self.context == other.context
            and self.store == other.store
        )

    __hash__ = None  # type: ignore[assignment]

    def to_data(self) -> Any:
        return {"context": self.context.to_data(), "store": self._store_to_data(self.store)}

    @classmethod
    def from_data(cls, data: Any) -> Self:
        if not isinstance(data, dict) or set(data) != {"context", "store"}:
            raise DecodeError(cls.type_name, "expected {context: ..., store: ...}", data)
        try:
            context = CausalContext.from_data(data["context"])
        except DecodeError as error:
            raise DecodeError(cls.type_name, f"bad context ({error})", data["context"]) from None
        store = cls._store_from_data(data["store"])
        seen = seen_by(context)
        for dot in cls._store_dots(store):
            if not seen(dot):
                raise DecodeError(
                    cls.type_name, f"the store holds dot {dot} its context lacks", data
                )
        return cls._of(store, context)

    def _expect_op(self, op: Op, kinds: type | tuple[type, ...]) -> None:
        if not isinstance(op, kinds):
            names = [k.__name__ for k in kinds] if isinstance(kinds, tuple) else [kinds.__name__]
            raise InvalidOperationError(self.type_name, "effect", f"expected one of {names}", op)


_set_store = CausalCrdt.__dict__["store"].__set__
_set_context = CausalCrdt.__dict__["context"].__set__
