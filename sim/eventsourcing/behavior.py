"""What the user gives an entity (:class:`Behavior`) and what its event handler is told
(:class:`EventContext`); plain data, no simulator.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crdt.base import Crdt
from sim.eventsourcing.journal import EventEnvelope

__all__ = ["Behavior", "EventContext", "fresh"]


@dataclass(frozen=True, slots=True)
class EventContext:
    """What an event handler knows about the event it applies.

    ``concurrent`` is True when the state it is applied to holds an event the origin had not
    seen when it emitted this one (the version vectors are concurrent); ``replica`` is the
    replica folding it; ``origin`` the one that emitted it.
    """

    replica: str
    origin: str
    concurrent: bool
    event: EventEnvelope

    @property
    def timestamp(self) -> float:
        """The event's timestamp (the writing replica's clock)."""
        return self.event.timestamp


@dataclass(frozen=True, slots=True)
class Behavior:
    """How an entity handles commands and events; plain Python functions.

    ``initial`` is the empty state (deep-copied before each fold, so a handler that mutates
    its state in place does no harm, though returning a new state is safer).
    ``command_handler(state, command)`` returns the event payloads to persist (JSON data; an
    empty list or None persists nothing); raising rejects the command.
    ``event_handler(state, payload, context)`` returns the new state; it must depend only on its
    arguments (it runs again on every replica and during re-folds). With ``with_replica`` the
    command handler also gets the id of the replica running it.

    ``to_snapshot(state)`` / ``from_snapshot(data)`` turn a state into JSON data and back, for
    snapshots (default: the state is stored as it is, so it must already be JSON data that
    comes back equal, e.g. no tuples); ``from_snapshot(to_snapshot(s))`` must equal ``s``.
    """

    initial: Any
    command_handler: Callable[..., Sequence[Any] | None]
    event_handler: Callable[[Any, Any, EventContext], Any]
    #: call ``command_handler(state, command, replica_id)`` (e.g. to prepare a CRDT operation)
    with_replica: bool = False
    to_snapshot: Callable[[Any], Any] | None = None
    from_snapshot: Callable[[Any], Any] | None = None


def fresh(value: Any) -> Any:
    """A copy a handler may mutate; immutable CRDT values are shared (they cannot be copied)."""
    if value is None or isinstance(value, Crdt | str | int | float | bool | frozenset):
        return value
    return copy.deepcopy(value)
