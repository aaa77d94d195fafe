"""Replicated event-sourced entities: several replicas accept writes for one persistence id.

The user gives a :class:`Behavior`: a command handler ``(state, command) -> events`` and an
event handler ``(state, event, context) -> state``. :class:`ReplicatedEntity` puts one
:class:`EntityReplica` on each of its nodes. A command runs at one replica; its events are
written to that replica's journal in one atomic write, and only then is the command
acknowledged (:class:`CommandResult`). The events then replicate to every other replica, whose
journals end holding every event.

An :class:`EntityReplica` is a thin component that wires, on its node, the parts that each own
one concept:

* :mod:`~sim.eventsourcing.fold` -- the events held, in fold order, and the state folded from
  them with checkpoints (pure; the state is a function of the set of events, the same at every
  replica whatever the arrival order, for any event handler);
* :mod:`~sim.eventsourcing.commands` -- the command pipeline: run, stamp, validate, persist,
  answer; the stash behind a write in flight;
* :mod:`~sim.eventsourcing.replication` -- the protocol between replicas (``seen`` exchange,
  push, retransmission, relaying);
* :mod:`~sim.eventsourcing.snapshots` -- recovery from the journal at every start, from a
  snapshot when that is safe;
* :mod:`~sim.eventsourcing.pruning` -- retire and stability markers, pruning a retired replica's
  version-vector entry.

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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crdt.clocks import VersionVector
from sim.checks import CheckResult
from sim.errors import ConfigError
from sim.eventsourcing.behavior import Behavior, EventContext
from sim.eventsourcing.commands import RETIRE, CommandPipeline, CommandResult, ResultCallback, stamp_system_event
from sim.eventsourcing.errors import EventSourcingError, UnknownReplicaError
from sim.eventsourcing.fold import EventLog
from sim.eventsourcing.journal import EventEnvelope, Journal, JournalProvider, in_memory_journals
from sim.eventsourcing.pruning import PruneBook, stable_payload
from sim.eventsourcing.replication import ReplicationLink
from sim.eventsourcing.snapshots import Snapshotter

if TYPE_CHECKING:
    from sim.network import Message
    from sim.node import Node
    from sim.world import World

__all__ = ["RETIRE", "Behavior", "CommandResult", "EntityReplica", "EventContext", "ReplicatedEntity"]


class EntityReplica:
    """One replica of an entity: a component of one node (see :class:`ReplicatedEntity`).

    It owns the node's journal while the node is up, an :class:`~sim.eventsourcing.fold.EventLog`
    (``log``, rebuilt at every start), the command pipeline (``commands``), the replication link
    (``link``) and the snapshot policy (``snapshotter``), and writes the stability markers.
    """

    def __init__(self, node: Node, entity: ReplicatedEntity) -> None:
        self.node = node
        self.entity = entity
        self.id = node.id
        self.pid = entity.persistence_id
        self.link = ReplicationLink(node, self.pid, self.peers(), entity.batch, self._store_replicated)
        self.commands = CommandPipeline(self, entity.write_latency)
        self.snapshotter = Snapshotter(entity.snapshot_every)
        self._reset()
        node.on_message(self.link.kind_events, self._on_events)
        node.on_message(self.link.kind_seen, self._on_seen)
        node.on_start(self._start)
        node.on_crash(self._crash)
        node.every(entity.retransmit, self._retransmit)
        node.add_component(f"eventsourcing:{self.pid}", self)

    # -- lifecycle ----------------------------------------------------------------------------

    def _reset(self) -> None:
        self.journal: Journal | None = None
        self.log = EventLog(self.id, self.pid, self.entity.behavior, self.entity.replicas, self.entity.prune)
        self.link.stop()
        self.commands.reset()
        self.snapshotter.since = 0
        #: how the last start rebuilt the state: "snapshot", "replay" or "empty"
        self.recovered_from = "empty"
        #: events folded by the last start (fewer than held when it began from a snapshot)
        self.recovery_folded = 0
        self.recovered = False

    def _start(self) -> None:
        self._reset()
        self.journal = self.entity.journals(self.node)
        recovery = self.snapshotter.recover(self.log, self.journal)
        if recovery.fell_back:
            self.entity.snapshot_fallbacks += 1
        self.recovered_from, self.recovery_folded = recovery.source, recovery.folded
        self.recovered = recovery.source != "empty"
        self.link.start(self.log)

    def _crash(self) -> None:
        failed = self.commands.take_waiting()
        if self.journal is not None:
            self.journal.close()
        self._reset()
        for command, callback in failed:
            self.finish(CommandResult(self.id, command, False,
                                      reason=f"node {self.id} crashed before the events were persisted"), callback)

    def peers(self) -> list[str]:
        """The other replicas of the entity, in name order."""
        return [r for r in self.entity.replicas if r != self.id]

    def journal_or_fail(self) -> Journal:
        """The node's open journal; :class:`EventSourcingError` while the node is down."""
        if self.journal is None:
            raise EventSourcingError(f"replica {self.id} of {self.pid} has no open journal (node down)")
        return self.journal

    # -- what the log holds (read-only views) --------------------------------------------------

    @property
    def state(self) -> Any:
        """The folded state (None while the node is down)."""
        return self.log.state

    @property
    def events(self) -> list[EventEnvelope]:
        """Every event of the entity held here, in fold order."""
        return self.log.events

    @property
    def seen(self) -> dict[str, int]:
        """Per origin, the highest origin_seq in the local journal (no gaps below it)."""
        return self.log.seen

    @property
    def version(self) -> VersionVector:
        """The version vector of the state, without the entries pruned here."""
        return self.log.version

    @property
    def fold_version(self) -> VersionVector:
        """The version vector of the fold, pruned entries included (see :class:`PruneBook`)."""
        return self.log.fold_version

    @property
    def max_timestamp(self) -> float:
        """The largest timestamp of a user event held."""
        return self.log.max_timestamp

    @property
    def book(self) -> PruneBook:
        """The retire and stability markers held."""
        return self.log.book

    @property
    def pruned(self) -> frozenset[str]:
        """The retired replicas whose entry is pruned here."""
        return self.log.pruned

    @property
    def acked(self) -> dict[str, dict[str, int] | None]:
        """Per peer, what it acknowledged holding; None until it told us after our start."""
        return self.link.acked

    @property
    def retired(self) -> bool:
        """True once this replica's retire marker is in its journal (it takes no commands)."""
        return self.log.is_retired(self.id)

    # -- commands -----------------------------------------------------------------------------

    def command(self, command: Any, on_result: ResultCallback | None = None) -> CommandResult | None:
        """Run ``command`` here; the result (also passed to ``on_result``), or None while it
        waits behind a write in flight (``on_result`` gets it later)."""
        return self.commands.command(command, on_result)

    def retire(self, on_result: ResultCallback | None = None) -> CommandResult | None:
        """Retire this replica: write its retire marker (after any write in flight); from then
        on it rejects commands. Its events stay and it keeps replicating; see
        :mod:`~sim.eventsourcing.pruning`."""
        return self.command(RETIRE, on_result)

    # the pipeline's host (:class:`~sim.eventsourcing.commands.PipelineHost`)

    def finish(self, result: CommandResult, callback: ResultCallback | None) -> CommandResult:
        """Record ``result`` with the entity and pass it to ``callback``."""
        return self.entity._finish(result, callback)

    def stored(self, events: list[EventEnvelope]) -> None:
        """Fold events just persisted here; count a re-fold; save a snapshot when one is due."""
        if not events:
            return
        if self.log.insert(events):
            self.entity.refolds += 1
        if self.snapshotter.added(len(events), self.log, self.journal_or_fail()):
            self.entity.snapshots += 1

    def publish(self, events: list[EventEnvelope]) -> None:
        """Push events just persisted here to the peers."""
        self.link.push(events)

    def settle(self) -> None:
        """A write is over: write the stability markers now due."""
        self._mark_stable()

    # -- replication --------------------------------------------------------------------------

    def _store_replicated(self, events: list[EventEnvelope]) -> None:
        self.stored(self.journal_or_fail().append(events))
        self.entity.replicated += len(events)

    def _on_seen(self, msg: Message) -> None:
        self.link.on_seen(msg)
        self._mark_stable()

    def _on_events(self, msg: Message) -> None:
        self.link.on_events(msg)
        self._mark_stable()

    def _retransmit(self) -> None:
        self._mark_stable()
        self.link.retransmit()

    def missing_for(self, peer: str) -> list[EventEnvelope]:
        """Events held here that ``peer`` has not acknowledged (of origins other than it)."""
        return self.link.missing_for(peer)

    def pending(self) -> bool:
        """True while a write is in flight or a peer may lack events held here."""
        if not self.node.up:
            return False
        if self.commands.busy or self.stability_due():
            return True
        return not self.link.idle()

    # -- retirement and pruning ---------------------------------------------------------------

    def stability_due(self) -> list[str]:
        """Retired replicas this one should now write a stability marker for: it holds their
        retire marker, and every remaining peer acknowledged holding it too."""
        if not self.book.retired or not self.entity.prune or not self.node.up or self.journal is None:
            return []
        if self.commands.busy or self.retired:
            return []  # a write in flight owns the next origin_seq; a retired replica writes nothing
        return self.book.stability_due(self.id, self.entity.replicas, self.seen, self.acked)

    def _mark_stable(self) -> None:
        due = self.stability_due()
        if not due:
            return
        seq = self.seen.get(self.id, 0)
        envelopes = []
        now = self.node.local_time()
        for replica in due:
            seq += 1
            payload = stable_payload(replica, self.book.retired[replica][1])
            envelopes.append(stamp_system_event(self.log, now, seq, payload))
        try:
            stored = self.journal_or_fail().append(envelopes)
        except EventSourcingError:
            return  # retried at the next tick
        self.stored(stored)
        self.link.push(stored)

    # -- inspection ---------------------------------------------------------------------------

    def replay(self) -> tuple[Any, dict[str, int], VersionVector]:
        """State, seen record and version recomputed from the whole journal, ignoring any
        snapshot and everything in memory (checks and tests use it)."""
        log = EventLog(self.id, self.pid, self.entity.behavior, self.entity.replicas, self.entity.prune)
        log.load(self.journal_or_fail().read(self.pid))
        return log.state, log.seen, log.version

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
        """The replica on ``node_id``; :class:`UnknownReplicaError` if there is none."""
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
        """True while a replica has a write in flight or a peer may lack its events (the quiet
        phase waits for this)."""
        return any(r.pending() for r in self._replicas.values())

    def states(self) -> dict[str, Any]:
        """The state of every replica that is up."""
        return {n: r.state for n, r in self._replicas.items() if r.node.up}

    def check(self) -> CheckResult:
        """The entity's convergence check (:func:`sim.eventsourcing.checks.entity_check`) now."""
        from sim.eventsourcing.checks import entity_check

        return entity_check(self)
