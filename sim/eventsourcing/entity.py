"""Replicated event-sourced entities: several replicas accept writes for one persistence id.

The user gives a :class:`Behavior`: a command handler ``(state, command) -> events`` and an
event handler ``(state, event, context) -> state``. :class:`ReplicatedEntity` puts one
:class:`EntityReplica` on each of its nodes. A command runs at one replica; its events are
written to that replica's journal in one atomic write, and only then is the command
acknowledged (:class:`CommandResult`). The events then replicate to every other replica, whose
journals end holding every event.

Replication (per entity, between every pair of replicas; a replica that is not a neighbour in
the topology is reached hop by hop, see :meth:`sim.node.Node.send_routed`):

* each replica knows, per origin, the highest ``origin_seq`` it holds (``seen``); its journal
  holds each origin's events without gaps, because a replica writes an event of origin ``o``
  only if it is the next one after ``seen[o]``;
* new local events are pushed to every peer at once; every ``retransmit`` ticks a replica
  sends each peer (a batch of) the events it holds that the peer has not acknowledged, of any
  origin (relaying lets events cross a partition through a third replica); a receiver writes
  the in-order ones, drops duplicates and gaps, and acknowledges with its whole ``seen``;
* a replica that starts (or restarts after a crash) does not know what its peers hold: it
  sends them its ``seen`` and waits for theirs before sending events, so replication resumes
  where it stopped instead of from the beginning.

State and conflicts: every replica folds the events of the entity in one total order, the
:attr:`EventEnvelope.order_key` ``(timestamp, origin, origin_seq)``. Timestamps come from the
origin's (possibly skewed) clock, raised just above the largest timestamp the origin had seen,
so the order extends causality: an event comes after every event its origin had seen. An event
that arrives in order is applied to the current state; one that sorts before events already
applied (a concurrent event from a partition, say) makes the replica re-fold from the closest
checkpoint before it. The state is therefore a function of the set of events, the same at every
replica whatever the arrival order, for any event handler (last-writer-wins and custom merges
included). :class:`EventContext` tells the handler whether the event is concurrent with the
state it is applied to (version vectors) and which replica it came from.

>>> from sim.world import World
>>> w = World(seed=1)
>>> _ = w.add_nodes("dc", 3); w.connect("dc", "complete")
>>> counter = Behavior(0, lambda s, cmd: [{"add": cmd}], lambda s, e, ctx: s + e["add"])
>>> entity = ReplicatedEntity(w, w.node_ids, "counter-1", counter)
>>> w.schedule(0.1, lambda: entity.command("dc-1", 5))
>>> w.schedule(0.1, lambda: entity.command("dc-3", 2))
>>> w.run(duration="1s").ok, [entity.replica(n).state for n in w.node_ids]
(True, [7, 7, 7])
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crdt.base import Crdt
from crdt.clocks import VersionVector
from sim.checks import CheckResult
from sim.errors import ConfigError
from sim.eventsourcing.errors import (
    EventHandlerError,
    EventSourcingError,
    JournalError,
    UnencodablePayloadError,
    UnknownReplicaError,
)
from sim.eventsourcing.journal import EventEnvelope, Journal, JournalProvider, Snapshot, in_memory_journals
from sim.eventsourcing.pruning import SYSTEM_KEY, PruneBook, retire_payload, stable_payload

if TYPE_CHECKING:
    from sim.network import Message
    from sim.node import Node
    from sim.world import World

__all__ = ["RETIRE", "Behavior", "CommandResult", "EntityReplica", "EventContext", "ReplicatedEntity"]

#: how much an origin raises a timestamp above the largest one it has seen
TIMESTAMP_STEP = 1e-6
#: a checkpoint of the folded state every this many events (re-folds start from one)
CHECKPOINT_EVERY = 32
_HEADER = 24


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


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one command at one replica.

    ``ok``: its events (possibly none) are persisted in the replica's journal; ``events`` are
    the stored envelopes. Otherwise ``reason`` says why, and ``error`` holds the exception
    raised by a handler or the journal, if any; nothing of the command was persisted.
    """

    replica: str
    command: Any
    ok: bool
    events: tuple[EventEnvelope, ...] = ()
    reason: str = ""
    error: BaseException | None = field(default=None, compare=False)


ResultCallback = Callable[[CommandResult], None]


class _Retire:
    """The command of :meth:`EntityReplica.retire` (writes the replica's retire marker)."""

    def __repr__(self) -> str:
        return "RETIRE"


#: the ``command`` of the result of a retirement
RETIRE = _Retire()


def fresh(value: Any) -> Any:
    """A copy a handler may mutate; immutable CRDT values are shared (they cannot be copied)."""
    if value is None or isinstance(value, Crdt | str | int | float | bool | frozenset):
        return value
    return copy.deepcopy(value)


class EntityReplica:
    """One replica of an entity: a component of one node (see :class:`ReplicatedEntity`)."""

    def __init__(self, node: Node, entity: ReplicatedEntity) -> None:
        self.node = node
        self.entity = entity
        self.id = node.id
        self.pid = entity.persistence_id
        self._kind_events = f"es.events:{self.pid}"
        self._kind_seen = f"es.seen:{self.pid}"
        self._reset()
        node.on_message(self._kind_events, self._on_events)
        node.on_message(self._kind_seen, self._on_seen)
        node.on_start(self._start)
        node.on_crash(self._crash)
        node.every(entity.retransmit, self._retransmit)
        node.add_component(f"eventsourcing:{self.pid}", self)

    # -- volatile state --------------------------------------------------------------------

    def _reset(self) -> None:
        self.journal: Journal | None = None
        #: every event of the entity, in fold order
        self.events: list[EventEnvelope] = []
        self._keys: list[tuple[float, str, int]] = []
        self._ids: dict[tuple[str, int], EventEnvelope] = {}
        #: per origin, the highest origin_seq in the local journal (no gaps below it)
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
        self._since_snapshot = 0
        #: how the last start rebuilt the state: "snapshot", "replay" or "empty"
        self.recovered_from = "empty"
        #: events folded by the last start (fewer than held when it began from a snapshot)
        self.recovery_folded = 0
        #: per peer, what it acknowledged holding; None until it told us after our start
        self.acked: dict[str, dict[str, int] | None] = {}
        self._writing = False
        self._stash: list[tuple[Any, ResultCallback | None]] = []
        self._in_flight: list[tuple[Any, ResultCallback | None]] = []
        self.recovered = False

    def _start(self) -> None:
        self._reset()
        self.journal = self.entity.journals(self.node)
        self.state = fresh(self.entity.behavior.initial)
        stored = self.journal.read(self.pid)
        for event in stored:
            self.seen[event.origin] = max(self.seen.get(event.origin, 0), event.origin_seq)
            self._ids[event.id] = event
            if not self.book.note(event):
                self.max_timestamp = max(self.max_timestamp, event.timestamp)
        self._update_pruned()
        self.events = sorted(stored, key=lambda e: e.order_key)
        self._keys = [e.order_key for e in self.events]
        start = self._restore_snapshot()
        self.recovered_from = "empty" if not stored else "snapshot" if start else "replay"
        self.recovery_folded = len(self.events) - start
        self._refold(start)
        self._since_snapshot = len(self.events) - start
        self.recovered = bool(stored)
        self.acked = dict.fromkeys(self.peers())
        for peer in self.peers():
            self._send_seen(peer, reply=True)

    def _restore_snapshot(self) -> int:
        """Put the newest snapshot as the checkpoint its events end at, when that is safe;
        the number of events it covers (0: replay everything).

        Safe when the journal holds every event the snapshot covers and every event it does not
        cover sorts after the snapshot's last event: the covered events are then exactly the
        first ones of the fold order. An event that arrived after the snapshot and sorts before
        its end (a concurrent write from a partition, say) makes the replica replay everything.
        """
        if not self.entity.snapshot_every or not self.events:
            return 0
        snapshot = self.journal_or_fail().load_snapshot(self.pid)
        if snapshot is None or any(self.seen.get(o, 0) < s for o, s in snapshot.seen.items()):
            return 0
        covered = 0
        for event in self.events:
            if event.origin_seq <= snapshot.seen.get(event.origin, 0):
                covered += 1
            elif event.order_key <= snapshot.last_key:
                self.entity.snapshot_fallbacks += 1
                return 0
        if covered == 0:
            return 0
        decode = self.entity.behavior.from_snapshot
        state = snapshot.state if decode is None else decode(snapshot.state)
        self._checkpoints = [(covered, state, snapshot.version)]
        return covered

    def _take_snapshot(self) -> None:
        """Save the state after every event held (all are in the journal)."""
        behavior = self.entity.behavior
        state = fresh(self.state) if behavior.to_snapshot is None else behavior.to_snapshot(self.state)
        try:
            self.journal_or_fail().save_snapshot(
                Snapshot(self.pid, state, self.fold_version, dict(self.seen), self._keys[-1]))
        except UnencodablePayloadError as err:
            raise UnencodablePayloadError(
                f"{err}; give the Behavior to_snapshot / from_snapshot to store this state") from err
        self._since_snapshot = 0
        self.entity.snapshots += 1

    def _crash(self) -> None:
        failed = self._in_flight + self._stash
        if self.journal is not None:
            self.journal.close()
        self._reset()
        for command, callback in failed:
            self.entity._finish(CommandResult(self.id, command, False,
                                              reason=f"node {self.id} crashed before the events were persisted"),
                                callback)

    def peers(self) -> list[str]:
        return [r for r in self.entity.replicas if r != self.id]

    @property
    def version(self) -> VersionVector:
        """The version vector of the state, without the entries pruned here."""
        version = self.fold_version
        for replica in self.pruned:
            version = version.without(replica)
        return version

    @property
    def retired(self) -> bool:
        """True once this replica's retire marker is in its journal (it takes no commands)."""
        return self.id in self.book.retired

    # -- folding ---------------------------------------------------------------------------

    def _apply(self, state: Any, version: VersionVector, event: EventEnvelope,
               book: PruneBook | None = None) -> tuple[Any, VersionVector]:
        payload = event.payload
        if isinstance(payload, dict) and SYSTEM_KEY in payload:
            return state, version  # a retire or stability marker: not part of the user's state
        effective = (book or self.book).effective(event)
        ctx = EventContext(self.id, event.origin, not effective.dominates(version), event)
        try:
            new_state = self.entity.behavior.event_handler(state, event.payload, ctx)
        except Exception as err:
            raise EventHandlerError(
                f"entity {self.pid} at replica {self.id}: the event handler raised {type(err).__name__}: {err} "
                f"on event {event.origin}#{event.origin_seq} (payload {event.payload!r})"
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
            index, state, version = 0, fresh(self.entity.behavior.initial), VersionVector()
        self.state, self.fold_version = self._fold(index, state, version)

    def _fold(self, index: int, state: Any, version: VersionVector) -> tuple[Any, VersionVector]:
        for i in range(index, len(self.events)):
            if i % CHECKPOINT_EVERY == 0 and (not self._checkpoints or self._checkpoints[-1][0] < i):
                self._checkpoints.append((i, fresh(state), version))
            state, version = self._apply(state, version, self.events[i])
        return state, version

    def _insert(self, stored: Sequence[EventEnvelope]) -> None:
        """Add newly persisted events to the fold (in order, or by re-folding)."""
        if not stored:
            return
        first = len(self.events)
        system = False
        for event in stored:
            self._ids[event.id] = event
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
        else:
            self.entity.refolds += 1
            self._refold(first)
        self._since_snapshot += len(stored)
        every = self.entity.snapshot_every
        if every and self._since_snapshot >= every:
            self._take_snapshot()

    def _update_pruned(self) -> None:
        self.pruned = frozenset(self.book.pruned(self.entity.replicas)) if self.entity.prune else frozenset()

    # -- commands --------------------------------------------------------------------------

    def command(self, command: Any, on_result: ResultCallback | None = None) -> CommandResult | None:
        """Run ``command`` here; the result (also passed to ``on_result``), or None while it
        waits behind a write in flight (``on_result`` gets it later)."""
        if not self.node.up:
            return self.entity._finish(CommandResult(self.id, command, False, reason=f"node {self.id} is down"),
                                       on_result)
        if self._writing:
            self._stash.append((command, on_result))
            return None
        return self._process(command, on_result)

    def retire(self, on_result: ResultCallback | None = None) -> CommandResult | None:
        """Retire this replica: write its retire marker (after any write in flight); from then
        on it rejects commands. Its events stay and it keeps replicating; see
        :mod:`~sim.eventsourcing.pruning`."""
        return self.command(RETIRE, on_result)

    def _system_envelope(self, seq: int, payload: Any) -> EventEnvelope:
        # A system event does not raise max_timestamp: user timestamps stay what they would be
        # without it.
        stamp = max(self.node.local_time(), self.max_timestamp + TIMESTAMP_STEP)
        return EventEnvelope(self.pid, self.id, seq, self.version.merge(VersionVector({self.id: seq})), stamp,
                             payload)

    def _process(self, command: Any, on_result: ResultCallback | None) -> CommandResult | None:
        behavior = self.entity.behavior
        if self.retired:
            return self.entity._finish(CommandResult(
                self.id, command, False, reason=f"replica {self.id} of {self.pid} is retired"), on_result)
        if command is RETIRE:
            upto = self.fold_version.get(self.id)
            envelope = self._system_envelope(self.seen.get(self.id, 0) + 1, retire_payload(self.id, upto))
            return self._write(command, [envelope], on_result)
        try:
            args = (fresh(self.state), command, self.id) if behavior.with_replica else (fresh(self.state), command)
            payloads = list(behavior.command_handler(*args) or ())
        except Exception as err:
            return self.entity._finish(CommandResult(
                self.id, command, False, reason=f"command rejected: {type(err).__name__}: {err}", error=err),
                on_result)
        if not payloads:
            return self.entity._finish(CommandResult(self.id, command, True), on_result)
        if any(isinstance(p, dict) and SYSTEM_KEY in p for p in payloads):
            return self.entity._finish(CommandResult(
                self.id, command, False, reason=f"event payloads may not use the reserved key {SYSTEM_KEY!r}"),
                on_result)
        envelopes = []
        version, stamp, seq = self.version, self.max_timestamp, self.seen.get(self.id, 0)
        for payload in payloads:
            seq += 1
            stamp = max(self.node.local_time(), stamp + TIMESTAMP_STEP)
            version = version.merge(VersionVector({self.id: seq}))
            envelopes.append(EventEnvelope(self.pid, self.id, seq, version, stamp, payload))
        return self._write(command, envelopes, on_result)

    def _write(self, command: Any, envelopes: list[EventEnvelope],
               on_result: ResultCallback | None) -> CommandResult | None:
        # Validate before persisting: a payload the journal cannot encode, or an event the
        # handler cannot apply, must leave nothing in the journal.
        try:
            self.journal_or_fail().encode_all(envelopes)
            state, vv = fresh(self.state), self.fold_version
            for env in envelopes:
                state, vv = self._apply(state, vv, env)
        except (JournalError, EventHandlerError) as err:
            return self.entity._finish(CommandResult(self.id, command, False, reason=str(err), error=err),
                                       on_result)
        if self.entity.write_latency > 0:
            self._writing = True
            self._in_flight = [(command, on_result)]

            def persist_later() -> None:
                self._persist(command, envelopes, on_result)

            self.node.after(self.entity.write_latency, persist_later)
            return None
        return self._persist(command, envelopes, on_result)

    def journal_or_fail(self) -> Journal:
        if self.journal is None:
            raise EventSourcingError(f"replica {self.id} of {self.pid} has no open journal (node down)")
        return self.journal

    def _persist(self, command: Any, envelopes: list[EventEnvelope],
                 on_result: ResultCallback | None) -> CommandResult | None:
        self._writing = False
        self._in_flight = []
        try:
            stored = self.journal_or_fail().append(envelopes)
        except JournalError as err:
            result = self.entity._finish(CommandResult(self.id, command, False, reason=str(err), error=err), on_result)
        else:
            self._insert(stored)
            result = self.entity._finish(CommandResult(self.id, command, True, tuple(stored)), on_result)
            for peer in self.peers():
                if self.acked.get(peer) is not None:
                    self._send_events(peer, stored)
        while self._stash and not self._writing:
            queued, callback = self._stash.pop(0)
            self._process(queued, callback)
        self._mark_stable()
        return result

    # -- retirement and pruning ------------------------------------------------------------

    def stability_due(self) -> list[str]:
        """Retired replicas this one should now write a stability marker for: it holds their
        retire marker, and every remaining peer acknowledged holding it too."""
        book = self.book
        if not book.retired or not self.entity.prune or not self.node.up or self.journal is None:
            return []
        if self._writing or self._stash or self.retired:
            return []  # a write in flight owns the next origin_seq; a retired replica writes nothing
        others = [p for p in book.remaining(self.entity.replicas) if p != self.id]
        due = []
        for replica, (marker, _) in sorted(book.retired.items()):
            if self.id in book.stable.get(replica, {}) or self.seen.get(replica, 0) < marker:
                continue
            if all((self.acked.get(p) or {}).get(replica, 0) >= marker for p in others):
                due.append(replica)
        return due

    def _mark_stable(self) -> None:
        due = self.stability_due()
        if not due:
            return
        seq = self.seen.get(self.id, 0)
        envelopes = []
        for replica in due:
            seq += 1
            envelopes.append(self._system_envelope(seq, stable_payload(replica, self.book.retired[replica][1])))
        try:
            stored = self.journal_or_fail().append(envelopes)
        except EventSourcingError:
            return  # retried at the next tick
        self._insert(stored)
        for peer in self.peers():
            if self.acked.get(peer) is not None:
                self._send_events(peer, stored)

    # -- replication -----------------------------------------------------------------------

    def _send_seen(self, peer: str, reply: bool) -> None:
        self.node.send_routed(peer, self._kind_seen, {"seen": dict(self.seen), "reply": reply},
                       _HEADER + 12 * len(self.seen))

    def _send_events(self, peer: str, events: Sequence[EventEnvelope]) -> None:
        size = _HEADER + 12 * len(self.seen) + sum(e.size() for e in events)
        self.node.send_routed(peer, self._kind_events, {"events": tuple(events), "seen": dict(self.seen)}, size)

    def _learn(self, peer: str, seen: dict[str, int]) -> None:
        if peer not in self.acked:
            return  # not (or no longer) a replica of this entity
        known = self.acked[peer] or {}
        self.acked[peer] = {o: max(known.get(o, 0), seen.get(o, 0)) for o in sorted(known.keys() | seen.keys())}

    def _on_seen(self, msg: Message) -> None:
        self._learn(msg.src, msg.payload["seen"])
        if msg.payload["reply"]:
            self._send_seen(msg.src, reply=False)
        self._mark_stable()

    def _on_events(self, msg: Message) -> None:
        self._learn(msg.src, msg.payload["seen"])
        fresh: list[EventEnvelope] = []
        nxt: dict[str, int] = {}
        for event in sorted(msg.payload["events"], key=lambda e: e.id):
            if event.persistence_id != self.pid:
                continue
            expected = nxt.get(event.origin, self.seen.get(event.origin, 0) + 1)
            if event.origin_seq == expected:  # earlier ones are duplicates, later ones gaps
                fresh.append(event)
                nxt[event.origin] = expected + 1
        if fresh:
            self._insert(self.journal_or_fail().append(fresh))
            self.entity.replicated += len(fresh)
        self._send_seen(msg.src, reply=False)
        self._mark_stable()

    def missing_for(self, peer: str) -> list[EventEnvelope]:
        """Events held here that ``peer`` has not acknowledged (of origins other than it)."""
        acked = self.acked.get(peer)
        if acked is None:
            return []
        missing = [e for e in self._ids.values() if e.origin != peer and e.origin_seq > acked.get(e.origin, 0)]
        return sorted(missing, key=lambda e: e.id)

    def _retransmit(self) -> None:
        self._mark_stable()
        for peer in self.peers():
            if self.acked.get(peer) is None:
                self._send_seen(peer, reply=True)
                continue
            missing = self.missing_for(peer)
            if missing:
                self._send_events(peer, missing[: self.entity.batch])

    def pending(self) -> bool:
        """True while a write is in flight or a peer may lack events held here."""
        if not self.node.up:
            return False
        if self._writing or self._stash or self.stability_due():
            return True
        return any(self.acked.get(p) is None or self.missing_for(p) for p in self.peers())

    # -- inspection ------------------------------------------------------------------------

    def replay(self) -> tuple[Any, dict[str, int], VersionVector]:
        """State, seen record and version recomputed from the whole journal, ignoring any
        snapshot and everything in memory (checks and tests use it)."""
        events = self.journal_or_fail().read(self.pid)
        book, seen = PruneBook(), dict[str, int]()
        for event in events:
            book.note(event)
            seen[event.origin] = max(seen.get(event.origin, 0), event.origin_seq)
        state, version = fresh(self.entity.behavior.initial), VersionVector()
        for event in sorted(events, key=lambda e: e.order_key):
            state, version = self._apply(state, version, event, book)
        for replica in book.pruned(self.entity.replicas) if self.entity.prune else ():
            version = version.without(replica)
        return state, seen, version

    def fold_from_journal(self) -> Any:
        """The state recomputed from scratch from the journal (checks use it)."""
        return self.replay()[0]


class ReplicatedEntity:
    """An entity ``persistence_id`` replicated on the nodes ``replicas``.

    ``journals`` opens each node's journal at every start (default: in memory, kept in
    ``node.durable``); ``retransmit`` is the number of ticks between resends; ``batch`` the most
    events per message; ``write_latency`` (seconds) delays each local write: a node that
    crashes meanwhile persists nothing and the command fails. ``check`` registers the check
    :func:`sim.eventsourcing.checks.entity_check` as ``"eventsourcing:<persistence_id>"``.
    """

    def __init__(self, world: World, replicas: Sequence[str], persistence_id: str, behavior: Behavior,
                 journals: JournalProvider | None = None, retransmit: int = 2, batch: int = 64,
                 write_latency: float = 0.0, check: bool = True, snapshot_every: int | None = None,
                 prune: bool = True) -> None:
        if not isinstance(persistence_id, str) or not persistence_id:
            raise ConfigError("persistence_id", "must be a non-empty string", persistence_id)
        if len(set(replicas)) != len(replicas) or not replicas:
            raise ConfigError(f"entity {persistence_id}: replicas", "must name distinct nodes", list(replicas))
        for name, value in (("retransmit", retransmit), ("batch", batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"entity {persistence_id}: {name}", "must be a positive integer", value)
        if isinstance(write_latency, bool) or not isinstance(write_latency, int | float) or write_latency < 0:
            raise ConfigError(f"entity {persistence_id}: write_latency", "must be >= 0 seconds", write_latency)
        if snapshot_every is not None and (
                isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int) or snapshot_every < 1):
            raise ConfigError(f"entity {persistence_id}: snapshot_every", "must be a positive integer or None",
                              snapshot_every)
        self.world = world
        self.persistence_id = persistence_id
        self.behavior = behavior
        self.replicas = sorted(replicas)
        self.journals = journals or in_memory_journals()
        self.retransmit = retransmit
        self.batch = batch
        self.write_latency = float(write_latency)
        self.snapshot_every = snapshot_every
        self.prune = bool(prune)
        self._retiring: set[str] = set()
        #: every command result, in order (acknowledged events are those of ``ok`` results)
        self.results: list[CommandResult] = []
        self.refolds = 0
        self.replicated = 0
        self.snapshots = 0
        #: starts that found a snapshot but replayed everything (an event sorting before it came later)
        self.snapshot_fallbacks = 0
        self._replicas = {n: EntityReplica(world.node(n), self) for n in self.replicas}
        world.add_pending(self.pending)
        if check:
            from sim.eventsourcing.checks import entity_check

            world.add_check(f"eventsourcing:{persistence_id}", lambda w: entity_check(self))

    def replica(self, node_id: str) -> EntityReplica:
        try:
            return self._replicas[node_id]
        except KeyError:
            raise UnknownReplicaError(
                f"node {node_id!r} is not a replica of entity {self.persistence_id!r} (replicas: {self.replicas})"
            ) from None

    def command(self, node_id: str, command: Any, on_result: ResultCallback | None = None) -> CommandResult | None:
        """Send ``command`` to the replica on ``node_id``; see :meth:`EntityReplica.command`."""
        replica = self.replica(node_id)
        history = self.world.history
        op = history.invoke(node_id, "command", self.persistence_id, "command", [command])

        def recorded(result: CommandResult) -> None:
            history.complete(op, "ok" if result.ok else "fail", reason=result.reason)
            if on_result is not None:
                on_result(result)

        return replica.command(command, recorded)

    def retire(self, node_id: str, on_result: ResultCallback | None = None) -> CommandResult | None:
        """Retire the replica on ``node_id`` (see :meth:`EntityReplica.retire`); the last replica
        not retired (nor retiring) cannot be."""
        replica = self.replica(node_id)
        if node_id not in self._retiring and self._retiring | {node_id} >= set(self.replicas):
            return self._finish(CommandResult(node_id, RETIRE, False, reason=(
                f"replica {node_id} is the last active replica of {self.persistence_id}")), on_result)
        self._retiring.add(node_id)

        def done(result: CommandResult) -> None:
            if not result.ok and not replica.retired:
                self._retiring.discard(node_id)
            if on_result is not None:
                on_result(result)

        return replica.retire(done)

    def pruned(self) -> dict[str, frozenset[str]]:
        """Per replica that is up, the retired replicas whose entry it has pruned."""
        return {n: r.pruned for n, r in self._replicas.items() if r.node.up}

    def _finish(self, result: CommandResult, callback: ResultCallback | None) -> CommandResult:
        self.results.append(result)
        if callback is not None:
            callback(result)
        return result

    @property
    def acknowledged(self) -> list[EventEnvelope]:
        """Every event of an acknowledged command, in acknowledgement order."""
        return [e for r in self.results if r.ok for e in r.events]

    def pending(self) -> bool:
        return any(r.pending() for r in self._replicas.values())

    def states(self) -> dict[str, Any]:
        """The state of every replica that is up."""
        return {n: r.state for n, r in self._replicas.items() if r.node.up}

    def check(self) -> CheckResult:
        from sim.eventsourcing.checks import entity_check

        return entity_check(self)
