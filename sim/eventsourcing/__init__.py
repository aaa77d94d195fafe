"""Replicated event sourcing: several replicas of one entity accept writes concurrently.

* :mod:`~sim.eventsourcing.journal` – the event envelope, the journal interface, in memory;
* :mod:`~sim.eventsourcing.sqlite_journal` – a SQLite file per node (WAL), survives crashes;
* :mod:`~sim.eventsourcing.entity` – the replicated entity and its replicas, which wire:
* :mod:`~sim.eventsourcing.behavior` – what the user gives (:class:`Behavior`) and the handler is told;
* :mod:`~sim.eventsourcing.fold` – the events held in fold order and their fold (pure);
* :mod:`~sim.eventsourcing.commands` – the command pipeline: run, stamp, validate, persist, answer;
* :mod:`~sim.eventsourcing.replication` – the protocol between replicas;
* :mod:`~sim.eventsourcing.snapshots` – recovery at every start, from a snapshot when safe;
* :mod:`~sim.eventsourcing.pruning` – retiring a replica, pruning its version-vector entry;
* :mod:`~sim.eventsourcing.resolvers` – last-writer-wins, custom merge and CRDT-backed states;
* :mod:`~sim.eventsourcing.checks` – the convergence check run after the quiet phase.
"""

from sim.eventsourcing.checks import entity_check
from sim.eventsourcing.entity import RETIRE, Behavior, CommandResult, EntityReplica, EventContext, ReplicatedEntity
from sim.eventsourcing.errors import (
    EventHandlerError,
    EventSourcingError,
    JournalError,
    UnencodablePayloadError,
    UnknownReplicaError,
)
from sim.eventsourcing.journal import (
    EventEnvelope,
    InMemoryJournal,
    Journal,
    JournalProvider,
    Snapshot,
    in_memory_journals,
)
from sim.eventsourcing.pruning import PruneBook
from sim.eventsourcing.resolvers import CrdtState, CustomMerge, LastWriterWins, Stamped
from sim.eventsourcing.sqlite_journal import SqliteJournal, sqlite_journals

__all__ = [
    "RETIRE",
    "Behavior",
    "CommandResult",
    "CrdtState",
    "CustomMerge",
    "EntityReplica",
    "EventContext",
    "EventEnvelope",
    "EventHandlerError",
    "EventSourcingError",
    "InMemoryJournal",
    "Journal",
    "JournalError",
    "JournalProvider",
    "LastWriterWins",
    "PruneBook",
    "ReplicatedEntity",
    "Snapshot",
    "SqliteJournal",
    "Stamped",
    "UnencodablePayloadError",
    "UnknownReplicaError",
    "entity_check",
    "in_memory_journals",
    "sqlite_journals",
]
