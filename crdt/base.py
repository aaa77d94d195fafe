"""The shape every CRDT in this library shares.

A CRDT value is immutable. It offers three ways to propagate a change, all derived from the
same mutation (``add``, ``increment``, ``set`` …; the first argument is always the replica that
performs it, so every mutation has the same calling convention):

* **state form** – ``x.add(replica, e)`` returns the new full state; replicas exchange states
  and combine them with :meth:`Crdt.merge`, a join (idempotent, commutative, associative).
* **delta form** – ``x.add_delta(replica, e)`` returns a small value of the same type such that
  ``x.merge(delta) == x.add(replica, e)``; deltas are joined like states.
* **op form** – ``x.prepare_add(replica, e)`` returns an operation record, and
  ``y.effect(op)`` applies it at every replica (the source included); concurrent operations
  commute when delivered in causal order.

A mutation that changes nothing yields ``None`` from its delta and prepare forms, so nothing is
broadcast. :meth:`Crdt.mutate`, :meth:`Crdt.mutate_delta` and :meth:`Crdt.prepare` reach any
mutation by name, which is how the simulator's workloads drive every type the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar, Generic, Self, TypeVar

from crdt.errors import InvalidOperationError, TypeMismatchError

__all__ = ["Crdt", "Op"]

V = TypeVar("V")


class Op:
    """Marker base of operation records (frozen dataclasses with ``to_data``/``from_data``)."""

    __slots__ = ()

    def to_data(self) -> Any:  # pragma: no cover - every concrete op overrides it
        raise NotImplementedError


class Crdt(ABC, Generic[V]):
    """Abstract base of every CRDT value type.

    A value is immutable, so what it knows about itself is computed once and kept on it:
    :func:`crdt.codec.to_bytes` keeps its canonical encoding in ``_encoded`` and
    :func:`crdt.codec.fingerprint` its fingerprint in ``_fingerprint`` (slots left unset until
    first asked). A type that can maintain its size or fingerprint through its mutations and
    merges, without encoding, overrides :meth:`_quick_size` and :meth:`_quick_fingerprint`.
    """

    __slots__ = ("_encoded", "_fingerprint")

    _encoded: bytes
    _fingerprint: str

    #: Stable name used in encodings and error messages.
    type_name: ClassVar[str]
    #: What kind of value the type holds, one of :data:`crdt.registry.KINDS` (``"counter"``,
    #: ``"observed-remove set"`` …): the simulator drives and checks a type by its kind.
    kind: ClassVar[str] = ""
    #: Names of the mutations; each has ``name``, ``name_delta`` and ``prepare_name`` methods.
    operations: ClassVar[tuple[str, ...]] = ()
    #: The op records :meth:`effect` applies (what every ``prepare_*`` of the type returns).
    op_types: ClassVar[tuple[type[Op], ...]] = ()
    #: True when :meth:`merge` returns an input itself whenever the result equals it, so a
    #: caller learns that nothing changed from ``is`` alone (no comparison of the states).
    merge_returns_equal_input: ClassVar[bool] = False

    @classmethod
    def accepts(cls, msg: object) -> bool:
        """Whether ``msg`` can be applied to a value of this type: a state (or delta) of the type,
        merged, or one of its ops, applied by :meth:`effect`.

        >>> from crdt import GCounter, PNCounter
        >>> PNCounter.accepts(PNCounter().prepare_increment("a")), GCounter.accepts(PNCounter())
        (True, False)
        """
        return type(msg) is cls or type(msg) in cls.op_types

    @abstractmethod
    def merge(self, other: Self) -> Self:
        """The join of ``self`` and ``other``; neither input changes."""

    @abstractmethod
    def value(self) -> V:
        """The plain Python value this state stands for."""

    def difference(self, delta: Self) -> Self | None:
        """The part of ``delta`` that ``self`` lacks: ``None`` if ``self`` already has all of it.

        ``self.merge(self.difference(d)) == self.merge(d)`` always holds. The default is the
        whole delta or nothing; types with a cheap join decomposition return only the parts
        that inflate ``self`` (the RR optimisation of delta propagation drops the rest).
        """
        self._check_same_type(delta, "difference")
        return None if self.merge(delta) == self else delta

    @abstractmethod
    def effect(self, op: Op) -> Self:
        """Apply an operation prepared at some replica (op-based propagation)."""

    def effect_all(self, ops: Iterable[Op]) -> Self:
        """:meth:`effect` of each of ``ops`` in turn (a type may apply them in one step)."""
        state = self
        for op in ops:
            state = state.effect(op)
        return state

    @abstractmethod
    def to_data(self) -> Any:
        """A canonical JSON-compatible encoding (see :mod:`crdt.codec`)."""

    @classmethod
    @abstractmethod
    def from_data(cls, data: Any) -> Self:
        """Decode what :meth:`to_data` produced; malformed data raises ``DecodeError``."""

    @classmethod
    @abstractmethod
    def op_from_data(cls, data: Any) -> Op:
        """Decode an operation record of this type."""

    def _quick_size(self) -> int | None:
        """The canonical encoding's byte length if known without encoding, else None."""
        return None

    def _quick_fingerprint(self) -> str | None:
        """A fingerprint (16 hex digits; equal values, equal fingerprints) if the type keeps
        one incrementally, else None (then it is derived from the canonical encoding)."""
        return None

    # -- mutations by name -------------------------------------------------------------------

    def _mutation(self, prefix: str, name: str, suffix: str) -> Any:
        if name not in self.operations:
            raise InvalidOperationError(
                self.type_name, name, f"unknown operation; expected one of {list(self.operations)}", name
            )
        return getattr(self, f"{prefix}{name}{suffix}")

    def mutate(self, name: str, replica: str, *args: Any) -> Self:
        """The state form of mutation ``name``: ``x.mutate("add", "a", 1) == x.add("a", 1)``."""
        return self._mutation("", name, "")(replica, *args)

    def mutate_delta(self, name: str, replica: str, *args: Any) -> Self | None:
        """The delta form of mutation ``name``, or ``None`` when it would change nothing."""
        return self._mutation("", name, "_delta")(replica, *args)

    def prepare(self, name: str, replica: str, *args: Any) -> Op | None:
        """The op form of mutation ``name``, or ``None`` when it would change nothing."""
        return self._mutation("prepare_", name, "")(replica, *args)

    # -- helpers for subclasses ---------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self.type_name} values are immutable; use a mutation that returns a new value")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self.type_name} values are immutable")

    def _check_same_type(self, other: object, operation: str) -> None:
        if type(other) is not type(self):
            raise TypeMismatchError(self.type_name, operation, other)
