"""Replicated event-sourced entities: several replicas accept writes for one persistence id.

The user gives a :class:`Behavior`: a command handler ``(state, command) -> events`` and an
event handler ``(state, event, context) -> state``. :class:`ReplicatedEntity` puts one
:class:`EntityReplica` on each of its nodes. A command runs at one replica; its events are
written to that replica's journal in one atomic write, and only then is the command
acknowledged (:class:`CommandResult`). The events then replicate to every other replica, whose
journals end holding every event.

Replication (per entity, between every pair of replicas):

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
>>> w.schedule(0.1, lambda: entity.command("dc-1", 5) and None)
>>> w.schedule(0.1, lambda: entity.command("dc-3", 2) and None)
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
    UnknownReplicaError,
)
from sim.eventsourcing.journal import EventEnvelope, Journal, JournalProvider, in_memory_journals

if TYPE_CHECKING:
    from sim.network import Message
    from sim.node import Node
    from sim.world import World

__all__ = ["Behavior", "CommandResult", "EntityReplica", "EventContext", "ReplicatedEntity"]

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
    """

    initial: Any
    command_handler: Callable[..., Sequence[Any] | None]
    event_handler: Callable[[Any, Any, EventContext], Any]
    #: call ``command_handler(state, command, replica_id)`` (e.g. to prepare a CRDT operation)
    with_replica: bool = False


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
        #: the merge of the versions of every event folded into the state
        self.version = VersionVector()
        self.state: Any = None
        self.max_timestamp = float("-inf")
        self._checkpoints: list[tuple[int, Any, VersionVector]] = []
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
            self.max_timestamp = max(self.max_timestamp, event.timestamp)
        self.events = sorted(stored, key=lambda e: e.order_key)
        self._keys = [e.order_key for e in self.events]
        self._refold(0)
        self.recovered = bool(stored)
        self.acked = dict.fromkeys(self.peers())
        for peer in self.peers():
            self._send_seen(peer, reply=True)

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

    # -- folding ---------------------------------------------------------------------------

    def _apply(self, state: Any, version: VersionVector, event: EventEnvelope) -> tuple[Any, VersionVector]:
        ctx = EventContext(self.id, event.origin, not event.version.dominates(version), event)
        try:
            new_state = self.entity.behavior.event_handler(state, event.payload, ctx)
        except Exception as err:
            raise EventHandlerError(
                f"entity {self.pid} at replica {self.id}: the event handler raised {type(err).__name__}: {err} "
                f"on event {event.origin}#{event.origin_seq} (payload {event.payload!r})"
            ) from err
        return new_state, version.merge(event.version)

    def _refold(self, start: int) -> None:
        """Recompute the state from position ``start`` of the fold order on."""
        while self._checkpoints and self._checkpoints[-1][0] > start:
            self._checkpoints.pop()
        if self._checkpoints:
            index, saved, version = self._checkpoints[-1]
            state = fresh(saved)
        else:
            index, state, version = 0, fresh(self.entity.behavior.initial), VersionVector()
        self.state, self.version = self._fold(index, state, version)

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
        for event in stored:
            self._ids[event.id] = event
            self.seen[event.origin] = max(self.seen.get(event.origin, 0), event.origin_seq)
            self.max_timestamp = max(self.max_timestamp, event.timestamp)
            at = bisect.bisect(self._keys, event.order_key)
            self._keys.insert(at, event.order_key)
            self.events.insert(at, event)
            first = min(first, at)
        if first == len(self.events) - len(stored):
            self.state, self.version = self._fold(first, self.state, self.version)
        else:
            self.entity.refolds += 1
            self._refold(first)

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

    def _process(self, command: Any, on_result: ResultCallback | None) -> CommandResult | None:
        behavior = self.entity.behavior
        try:
            args = (fresh(self.state), command, self.id) if behavior.with_replica else (fresh(self.state), command)
            payloads = list(behavior.command_handler(*args) or ())
        except Exception as err:
            return self.entity._finish(CommandResult(
                self.id, command, False, reason=f"command rejected: {type(err).__name__}: {err}", error=err),
                on_result)
        if not payloads:
            return self.entity._finish(CommandResult(self.id, command, True), on_result)
        envelopes = []
        version, stamp, seq = self.version, self.max_timestamp, self.seen.get(self.id, 0)
        for payload in payloads:
            seq += 1
            stamp = max(self.node.local_time(), stamp + TIMESTAMP_STEP)
            version = version.merge(VersionVector({self.id: seq}))
            envelopes.append(EventEnvelope(self.pid, self.id, seq, version, stamp, payload))
        # Validate before persisting: a payload the journal cannot encode, or an event the
        # handler cannot apply, must leave nothing in the journal.
        try:
            self.journal_or_fail().encode_all(envelopes)
            state, vv = fresh(self.state), self.version
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
        return result

    # -- replication -----------------------------------------------------------------------

    def _send_seen(self, peer: str, reply: bool) -> None:
        self.node.send(peer, self._kind_seen, {"seen": dict(self.seen), "reply": reply},
                       _HEADER + 12 * len(self.seen))

    def _send_events(self, peer: str, events: Sequence[EventEnvelope]) -> None:
        size = _HEADER + 12 * len(self.seen) + sum(e.size() for e in events)
        self.node.send(peer, self._kind_events, {"events": tuple(events), "seen": dict(self.seen)}, size)

    def _learn(self, peer: str, seen: dict[str, int]) -> None:
        if peer not in self.acked:
            return  # not (or no longer) a replica of this entity
        known = self.acked[peer] or {}
        self.acked[peer] = {o: max(known.get(o, 0), seen.get(o, 0)) for o in sorted(known.keys() | seen.keys())}

    def _on_seen(self, msg: Message) -> None:
        self._learn(msg.src, msg.payload["seen"])
        if msg.payload["reply"]:
            self._send_seen(msg.src, reply=False)

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

    def missing_for(self, peer: str) -> list[EventEnvelope]:
        """Events held here that ``peer`` has not acknowledged (of origins other than it)."""
        acked = self.acked.get(peer)
        if acked is None:
            return []
        missing = [e for e in self._ids.values() if e.origin != peer and e.origin_seq > acked.get(e.origin, 0)]
        return sorted(missing, key=lambda e: e.id)

    def _retransmit(self) -> None:
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
        if self._writing or self._stash:
            return True
        return any(self.acked.get(p) is None or self.missing_for(p) for p in self.peers())

    # -- inspection ------------------------------------------------------------------------

    def fold_from_journal(self) -> Any:
        """The state recomputed from scratch from the journal (checks use it)."""
        state, version = fresh(self.entity.behavior.initial), VersionVector()
        for event in sorted(self.journal_or_fail().read(self.pid), key=lambda e: e.order_key):
            state, version = self._apply(state, version, event)
        return state


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
                 write_latency: float = 0.0, check: bool = True) -> None:
        if not isinstance(persistence_id, str) or not persistence_id:
            raise ConfigError("persistence_id", "must be a non-empty string", persistence_id)
        if len(set(replicas)) != len(replicas) or not replicas:
            raise ConfigError(f"entity {persistence_id}: replicas", "must name distinct nodes", list(replicas))
        for name, value in (("retransmit", retransmit), ("batch", batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"entity {persistence_id}: {name}", "must be a positive integer", value)
        if isinstance(write_latency, bool) or not isinstance(write_latency, int | float) or write_latency < 0:
            raise ConfigError(f"entity {persistence_id}: write_latency", "must be >= 0 seconds", write_latency)
        self.world = world
        self.persistence_id = persistence_id
        self.behavior = behavior
        self.replicas = sorted(replicas)
        self.journals = journals or in_memory_journals()
        self.retransmit = retransmit
        self.batch = batch
        self.write_latency = float(write_latency)
        #: every command result, in order (acknowledged events are those of ``ok`` results)
        self.results: list[CommandResult] = []
        self.refolds = 0
        self.replicated = 0
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
        return self.replica(node_id).command(command, on_result)

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
