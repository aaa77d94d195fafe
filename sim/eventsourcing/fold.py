"""The events one replica holds of an entity, in fold order, and the state folded from them.

Pure: no node, no network, no journal, no SimPy; a replica feeds it what its journal stored.
Every replica folds the events in one total order, :attr:`EventEnvelope.order_key`
``(timestamp, origin, origin_seq)``. An event that sorts after every event held is applied to
the current state; one that sorts before some (a concurrent event from a partition, say) makes
the log re-fold from the closest checkpoint before it (one every :data:`CHECKPOINT_EVERY`
events). The state is therefore a function of the set of events, whatever the arrival order.

Retire and stability markers (:mod:`~sim.eventsourcing.pruning`) are held and ordered like any
event but never reach the event handler nor the version vector of the fold.

>>> from crdt.clocks import VersionVector
>>> from sim.eventsourcing.behavior import Behavior
>>> adder = Behavior(0, lambda s, c: [c], lambda s, e, ctx: s + e)
>>> def ev(origin, seq, ts, n):
...     return EventEnvelope("p", origin, seq, VersionVector({origin: seq}), ts, n)
>>> log = EventLog("a", "p", adder, ["a", "b"], prune=True)
>>> log.load([])
>>> log.insert([ev("a", 1, 0.2, 5)]), log.insert([ev("b", 1, 0.1, 2)])  # the second sorts first
(False, True)
>>> log.state, log.seen, log.version.to_data()
(7, {'a': 1, 'b': 1}, {'a': 1, 'b': 1})
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any

from crdt.clocks import VersionVector
from sim.eventsourcing.behavior import Behavior, EventContext, fresh
from sim.eventsourcing.errors import EventHandlerError
from sim.eventsourcing.journal import EventEnvelope
from sim.eventsourcing.pruning import SYSTEM_KEY, PruneBook

__all__ = ["CHECKPOINT_EVERY", "EventLog", "OrderKey"]

#: a checkpoint of the folded state every this many events (re-folds start from one)
CHECKPOINT_EVERY = 32

OrderKey = tuple[float, str, int]


class EventLog:
    """The events of entity ``pid`` held at replica ``replica``, and their fold.

    ``replicas`` are all the replicas of the entity and ``prune`` whether retired ones are
    pruned from :attr:`version` (see :mod:`~sim.eventsourcing.pruning`). The state is None until
    :meth:`load`.
    """

    def __init__(self, replica: str, pid: str, behavior: Behavior, replicas: Sequence[str], prune: bool) -> None:
        self.replica = replica
        self.pid = pid
        self.behavior = behavior
        self.replicas = list(replicas)
        self.prune = prune
        #: every event held, in fold order
        self.events: list[EventEnvelope] = []
        self._keys: list[OrderKey] = []
        #: every event held, by id ``(origin, origin_seq)``
        self.by_id: dict[tuple[str, int], EventEnvelope] = {}
        #: per origin, the highest origin_seq held (a journal has no gaps below it)
        self.seen: dict[str, int] = {}
        #: the merge of the (effective, see :class:`PruneBook`) versions of every user event folded
        #: into the state; :attr:`version` is this without the pruned entries
        self.fold_version = VersionVector()
        self.state: Any = None
        #: the largest timestamp of a user event held (system events do not raise it)
        self.max_timestamp = float("-inf")
        self._checkpoints: list[tuple[int, Any, VersionVector]] = []
        #: retire and stability markers held; ``pruned`` the replicas whose entry is pruned here
        self.book = PruneBook()
        self.pruned: frozenset[str] = frozenset()

    # -- reading what is held -----------------------------------------------------------------

    @property
    def version(self) -> VersionVector:
        """The version vector of the state, without the entries pruned here."""
        version = self.fold_version
        for replica in self.pruned:
            version = version.without(replica)
        return version

    @property
    def last_key(self) -> OrderKey:
        """The order key of the last event in fold order (there must be one)."""
        return self._keys[-1]

    def is_retired(self, replica: str) -> bool:
        """True once ``replica``'s retire marker is held."""
        return replica in self.book.retired

    # -- filling ------------------------------------------------------------------------------

    def load(self, stored: Iterable[EventEnvelope], checkpoint: tuple[int, Any, VersionVector] | None = None) -> None:
        """Hold ``stored`` (a journal's events, in any order) and fold them, from ``checkpoint``
        ``(events covered, state, version)`` when given: the state after the first events of
        the fold order, e.g. a snapshot's (see :mod:`~sim.eventsourcing.snapshots`)."""
        self.hold(stored)
        self.fold_from(checkpoint)

    def hold(self, stored: Iterable[EventEnvelope]) -> None:
        """The first half of :meth:`load`: hold ``stored`` without folding it yet."""
        stored = list(stored)
        for event in stored:
            self.seen[event.origin] = max(self.seen.get(event.origin, 0), event.origin_seq)
            self.by_id[event.id] = event
            if not self.book.note(event):
                self.max_timestamp = max(self.max_timestamp, event.timestamp)
        self._update_pruned()
        self.events = sorted(stored, key=lambda e: e.order_key)
        self._keys = [e.order_key for e in self.events]

    def fold_from(self, checkpoint: tuple[int, Any, VersionVector] | None = None) -> None:
        """The second half of :meth:`load`: fold the held events (from ``checkpoint``)."""
        self._checkpoints = [checkpoint] if checkpoint else []
        self.state = fresh(self.behavior.initial)
        self._refold(checkpoint[0] if checkpoint else 0)

    def insert(self, stored: Sequence[EventEnvelope]) -> bool:
        """Add newly persisted events to the fold (in order, or by re-folding); True when it
        re-folded."""
        if not stored:
            return False
        first = len(self.events)
        system = False
        for event in stored:
            self.by_id[event.id] = event
            self.seen[event.origin] = max(self.seen.get(event.origin, 0), event.origin_seq)
            if self.book.note(event):
                system = True
            else:
                self.max_timestamp = max(self.max_timestamp, event.timestamp)
            at = bisect.bisect(self._keys, event.order_key)
            self._keys.insert(at, event.order_key)
            self.events.insert(at, event)
            first = min(first, at)
        if system:
            self._update_pruned()
        if first == len(self.events) - len(stored):
            self.state, self.fold_version = self._fold(first, self.state, self.fold_version)
            return False
        self._refold(first)
        return True

    def trial(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Apply ``envelopes`` to a copy of the state: raises :class:`EventHandlerError` if the
        handler cannot, changes nothing."""
        state, version = fresh(self.state), self.fold_version
        for envelope in envelopes:
            state, version = self.apply(state, version, envelope)

    # -- folding ------------------------------------------------------------------------------

    def apply(self, state: Any, version: VersionVector, event: EventEnvelope) -> tuple[Any, VersionVector]:
        """``(state, version)`` after ``event``; a system event changes neither."""
        payload = event.payload
        if isinstance(payload, dict) and SYSTEM_KEY in payload:
            return state, version  # a retire or stability marker: not part of the user's state
        effective = self.book.effective(event)
        ctx = EventContext(self.replica, event.origin, not effective.dominates(version), event)
        try:
            new_state = self.behavior.event_handler(state, event.payload, ctx)
        except Exception as err:
            raise EventHandlerError(
                f"entity {self.pid} at replica {self.replica}: the event handler raised {type(err).__name__}: "
                f"{err} on event {event.origin}#{event.origin_seq} (payload {event.payload!r})"
            ) from err
        return new_state, version.merge(effective)

    def _refold(self, start: int) -> None:
        """Recompute the state from position ``start`` of the fold order on."""
        while self._checkpoints and self._checkpoints[-1][0] > start:
            self._checkpoints.pop()
        if self._checkpoints:
            index, saved, version = self._checkpoints[-1]
            state = fresh(saved)
        else:
            index, state, version = 0, fresh(self.behavior.initial), VersionVector()
        self.state, self.fold_version = self._fold(index, state, version)

    def _fold(self, index: int, state: Any, version: VersionVector) -> tuple[Any, VersionVector]:
        for i in range(index, len(self.events)):
            if i % CHECKPOINT_EVERY == 0 and (not self._checkpoints or self._checkpoints[-1][0] < i):
                self._checkpoints.append((i, fresh(state), version))
            state, version = self.apply(state, version, self.events[i])
        return state, version

    def _update_pruned(self) -> None:
        self.pruned = frozenset(self.book.pruned(self.replicas)) if self.prune else frozenset()
