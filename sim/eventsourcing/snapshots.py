"""Recovery of a replica from its journal, and the snapshots that spare it re-folding everything.

At every start a replica reads its journal into an :class:`~sim.eventsourcing.fold.EventLog`.
With ``snapshot_every=N`` it saves a :class:`~sim.eventsourcing.journal.Snapshot` once at
least N events were added since the last one, and at a start it folds from the newest snapshot
when that is safe: the journal holds every event the snapshot covers, and every event it does
not cover sorts after the snapshot's last event, so the covered events are exactly the first
ones of the fold order. An event that arrived after the snapshot and sorts before its end (a
concurrent write from a partition, say) makes the replica replay everything (a *fallback*).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crdt.clocks import VersionVector
from sim.eventsourcing.behavior import fresh
from sim.eventsourcing.errors import UnencodablePayloadError
from sim.eventsourcing.fold import EventLog
from sim.eventsourcing.journal import EventEnvelope, Journal, Snapshot

__all__ = ["Recovery", "Snapshotter", "usable_prefix"]


@dataclass(frozen=True, slots=True)
class Recovery:
    """How a start rebuilt the state: ``source`` is ``"snapshot"``, ``"replay"`` or ``"empty"``;
    ``folded`` the events folded (fewer than held when it began from a snapshot);
    ``fell_back`` True when a snapshot was found but could not be used."""

    source: str
    folded: int
    fell_back: bool = False


def usable_prefix(events: Sequence[EventEnvelope], seen: dict[str, int], snapshot: Snapshot) -> int | None:
    """How many of ``events`` (in fold order, ``seen`` their highest seq per origin) the
    snapshot covers when it is safe to start from it (0: it covers none); None when an event
    it does not cover sorts before its end."""
    if any(seen.get(o, 0) < s for o, s in snapshot.seen.items()):
        return 0  # the journal lacks events the snapshot covers
    covered = 0
    for event in events:
        if event.origin_seq <= snapshot.seen.get(event.origin, 0):
            covered += 1
        elif event.order_key <= snapshot.last_key:
            return None
    return covered


class Snapshotter:
    """When a replica saves snapshots and how it starts from them (``every`` None: never)."""

    def __init__(self, every: int | None) -> None:
        self.every = every
        #: events added since the last snapshot (or the start)
        self.since = 0

    def recover(self, log: EventLog, journal: Journal) -> Recovery:
        """Fill ``log`` (fresh) from ``journal``, from the newest safe snapshot if any."""
        stored = journal.read(log.pid)
        log.hold(stored)
        checkpoint, fell_back = self._checkpoint(log, journal)
        log.fold_from(checkpoint)
        start = checkpoint[0] if checkpoint else 0
        self.since = len(log.events) - start
        source = "empty" if not stored else "snapshot" if start else "replay"
        return Recovery(source, len(log.events) - start, fell_back)

    def _checkpoint(self, log: EventLog, journal: Journal) -> tuple[tuple[int, Any, VersionVector] | None, bool]:
        if not self.every or not log.events:
            return None, False
        snapshot = journal.load_snapshot(log.pid)
        if snapshot is None:
            return None, False
        covered = usable_prefix(log.events, log.seen, snapshot)
        if not covered:
            return None, covered is None
        decode = log.behavior.from_snapshot
        state = snapshot.state if decode is None else decode(snapshot.state)
        return (covered, state, snapshot.version), False

    def added(self, count: int, log: EventLog, journal: Journal) -> bool:
        """Count ``count`` events added to ``log``; save a snapshot when one is due (True)."""
        self.since += count
        if not self.every or self.since < self.every:
            return False
        self.save(log, journal)
        return True

    def save(self, log: EventLog, journal: Journal) -> None:
        """Save the state after every event held (all are in the journal)."""
        behavior = log.behavior
        state = fresh(log.state) if behavior.to_snapshot is None else behavior.to_snapshot(log.state)
        try:
            journal.save_snapshot(Snapshot(log.pid, state, log.fold_version, dict(log.seen), log.last_key))
        except UnencodablePayloadError as err:
            raise UnencodablePayloadError(
                f"{err}; give the Behavior to_snapshot / from_snapshot to store this state") from err
        self.since = 0
