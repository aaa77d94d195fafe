"""Conflict resolution for replicated entities: three event handlers to build a Behavior from.

Why the state is the same everywhere: every replica folds the same set of events in the same
total order (:attr:`~sim.eventsourcing.journal.EventEnvelope.order_key`, which extends
causality), re-folding when an event arrives out of that order. So *any* deterministic event
handler converges, and the resolvers only choose the semantics of concurrent writes:

* :class:`LastWriterWins` keeps, per field, the value of the event with the greatest
  ``(timestamp, origin)``. It is also commutative on its own (a max), so it would converge
  without the fold order; because timestamps grow along causality, a causally later write
  always wins, and among concurrent writes the later clock reading (then the larger replica id)
  wins, the same everywhere.
* :class:`CustomMerge` calls the user's ``apply`` for an event that causally follows the state
  and ``merge`` for a concurrent one; determinism comes from the fold order.
* :class:`CrdtState` holds a CRDT from :mod:`crdt` and its events are the CRDT's operations
  (prepared at the origin against its state, applied everywhere with ``effect``); concurrent
  operations commute, as op-based CRDTs do under causal delivery, which the fold order gives.

>>> from crdt.clocks import VersionVector
>>> from sim.eventsourcing.behavior import EventContext
>>> from sim.eventsourcing.journal import EventEnvelope
>>> def ctx(origin, ts):
...     return EventContext("x", origin, True, EventEnvelope("p", origin, 1, VersionVector({origin: 1}), ts, None))
>>> lww = LastWriterWins(key=lambda p: p["field"], value=lambda p: p["to"])
>>> a = lww(lww.initial, {"field": "title", "to": "A"}, ctx("a", 2.0))
>>> b = lww(lww.initial, {"field": "title", "to": "B"}, ctx("b", 1.0))
>>> ab = lww(a, {"field": "title", "to": "B"}, ctx("b", 1.0))   # either order: A (later clock) wins
>>> ba = lww(b, {"field": "title", "to": "A"}, ctx("a", 2.0))
>>> lww.value(ab) == lww.value(ba) == {"title": "A"}
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crdt.base import Crdt
from sim.eventsourcing.behavior import Behavior, EventContext

__all__ = ["CrdtState", "CustomMerge", "LastWriterWins", "Stamped"]


@dataclass(frozen=True, slots=True)
class Stamped:
    """A value with the ``(timestamp, replica)`` of the write that set it."""

    value: Any
    timestamp: float
    replica: str

    @property
    def stamp(self) -> tuple[float, str]:
        """``(timestamp, replica)``: the order in which the last writer wins."""
        return (self.timestamp, self.replica)


def _identity(payload: Any) -> Any:
    return payload


class LastWriterWins:
    """Last-writer-wins by ``(timestamp, origin replica)``, for one value or per field.

    Without ``key`` the state is one :class:`Stamped` (or None); with ``key`` it is a dict
    ``field -> Stamped`` and each event sets the field ``key(payload)``. ``value(payload)`` is
    the value written (the payload itself by default).
    """

    def __init__(self, key: Callable[[Any], str] | None = None, value: Callable[[Any], Any] = _identity) -> None:
        self.key = key
        self.value_of = value
        self.initial: Any = None if key is None else {}

    def __call__(self, state: Any, payload: Any, ctx: EventContext) -> Any:
        new = Stamped(self.value_of(payload), ctx.event.timestamp, ctx.origin)
        if self.key is None:
            return new if state is None or new.stamp > state.stamp else state
        field = self.key(payload)
        old = state.get(field)
        if old is not None and old.stamp >= new.stamp:
            return state
        return {**state, field: new}

    def value(self, state: Any) -> Any:
        """The plain value(s) without stamps."""
        if self.key is None:
            return None if state is None else state.value
        return {k: s.value for k, s in sorted(state.items())}

    def behavior(self, command_handler: Callable[[Any, Any], Sequence[Any] | None]) -> Behavior:
        """A behaviour with this resolver: ``command_handler(state, command)`` returns the events to persist."""
        return Behavior(self.initial, command_handler, self)


class CustomMerge:
    """``apply(state, payload)`` for an event that follows the state causally,
    ``merge(state, payload, context)`` for one concurrent with it.

    Both must be deterministic functions of their arguments; every replica then computes the
    same state since it folds the same events in the same order.
    """

    def __init__(self, initial: Any, apply: Callable[[Any, Any], Any],
                 merge: Callable[[Any, Any, EventContext], Any]) -> None:
        self.initial = initial
        self.apply = apply
        self.merge = merge

    def __call__(self, state: Any, payload: Any, ctx: EventContext) -> Any:
        if ctx.concurrent:
            return self.merge(state, payload, ctx)
        return self.apply(state, payload)

    def behavior(self, command_handler: Callable[[Any, Any], Sequence[Any] | None]) -> Behavior:
        """A behaviour with this resolver: ``command_handler(state, command)`` returns the events to persist."""
        return Behavior(self.initial, command_handler, self)


class CrdtState:
    """The state is a CRDT value of ``crdt_type``; an event is one of its operations as data.

    In the command handler, :meth:`prepare` turns a mutation at the origin replica into an event
    payload (None when it would change nothing); the event handler applies it with ``effect``.
    """

    def __init__(self, crdt_type: type[Crdt[Any]]) -> None:
        self.crdt_type = crdt_type
        self.initial = crdt_type()

    def prepare(self, state: Crdt[Any], name: str, replica: str, *args: Any) -> Any:
        """The event for the operation ``name(*args)`` at ``replica``, as data; ``None`` when it changes nothing."""
        op = state.prepare(name, replica, *args)
        return None if op is None else op.to_data()

    def __call__(self, state: Crdt[Any], payload: Any, ctx: EventContext) -> Crdt[Any]:
        return state.effect(self.crdt_type.op_from_data(payload))

    def behavior(self, command_handler: Callable[[Any, Any, str], Sequence[Any] | None]) -> Behavior:
        """A behaviour whose ``command_handler(state, command, replica)`` knows its replica id."""
        return Behavior(self.initial, command_handler, self, with_replica=True)
