"""The replication protocol between the replicas of one entity.

Per entity, between every pair of replicas (a replica that is not a neighbour in the topology
is reached hop by hop, see :meth:`sim.node.Node.send_routed`):

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

Two message kinds per entity: ``es.seen:<pid>`` ``{"seen", "reply"}`` and ``es.events:<pid>``
``{"events", "seen"}``; a message counts a fixed header, 12 bytes per ``seen`` entry and the
size of each event (:meth:`~sim.eventsourcing.journal.EventEnvelope.size`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sim.eventsourcing.fold import EventLog
from sim.eventsourcing.journal import EventEnvelope

if TYPE_CHECKING:
    from sim.network import Message
    from sim.node import Node

__all__ = ["ReplicationLink"]

_HEADER = 24


class ReplicationLink:
    """One replica's side of the protocol with its ``peers``.

    ``store(events)`` persists the in-order events a peer sent (journal, then fold); ``batch``
    is the most events per retransmission. :meth:`start` begins a new life of the replica
    with the log it recovered.
    """

    def __init__(self, node: Node, pid: str, peers: Sequence[str], batch: int,
                 store: Callable[[list[EventEnvelope]], None]) -> None:
        self.node = node
        self.pid = pid
        self.peers = list(peers)
        self.batch = batch
        self.kind_events = f"es.events:{pid}"
        self.kind_seen = f"es.seen:{pid}"
        self._store = store
        self.log: EventLog | None = None
        #: per peer, what it acknowledged holding; None until it told us after our start
        self.acked: dict[str, dict[str, int] | None] = {}

    def _log(self) -> EventLog:
        assert self.log is not None, "the link is used before its replica started"
        return self.log

    def start(self, log: EventLog) -> None:
        """Replicate ``log`` from now on: ask every peer what it holds."""
        self.log = log
        self.acked = dict.fromkeys(self.peers)
        for peer in self.peers:
            self.send_seen(peer, reply=True)

    def stop(self) -> None:
        """The replica crashed: forget what the peers acknowledged."""
        self.log = None
        self.acked = {}

    # -- sending ------------------------------------------------------------------------------

    def send_seen(self, peer: str, reply: bool) -> None:
        seen = self._log().seen
        self.node.send_routed(peer, self.kind_seen, {"seen": dict(seen), "reply": reply}, _HEADER + 12 * len(seen))

    def send_events(self, peer: str, events: Sequence[EventEnvelope]) -> None:
        seen = self._log().seen
        size = _HEADER + 12 * len(seen) + sum(e.size() for e in events)
        self.node.send_routed(peer, self.kind_events, {"events": tuple(events), "seen": dict(seen)}, size)

    def push(self, events: Sequence[EventEnvelope]) -> None:
        """Send newly stored local events to every peer that told us what it holds."""
        for peer in self.peers:
            if self.acked.get(peer) is not None:
                self.send_events(peer, events)

    def missing_for(self, peer: str) -> list[EventEnvelope]:
        """Events held here that ``peer`` has not acknowledged (of origins other than it)."""
        acked = self.acked.get(peer)
        if acked is None:
            return []
        held = self._log().by_id.values()
        missing = [e for e in held if e.origin != peer and e.origin_seq > acked.get(e.origin, 0)]
        return sorted(missing, key=lambda e: e.id)

    def retransmit(self) -> None:
        """Ask a peer that has not answered since our start; send the others what they lack."""
        for peer in self.peers:
            if self.acked.get(peer) is None:
                self.send_seen(peer, reply=True)
                continue
            missing = self.missing_for(peer)
            if missing:
                self.send_events(peer, missing[: self.batch])

    def idle(self) -> bool:
        """True when every peer answered and holds every event held here."""
        return not any(self.acked.get(p) is None or self.missing_for(p) for p in self.peers)

    # -- receiving ----------------------------------------------------------------------------

    def _learn(self, peer: str, seen: dict[str, int]) -> None:
        if peer not in self.acked:
            return  # not (or no longer) a replica of this entity
        known = self.acked[peer] or {}
        self.acked[peer] = {o: max(known.get(o, 0), seen.get(o, 0)) for o in sorted(known.keys() | seen.keys())}

    def on_seen(self, msg: Message) -> None:
        self._learn(msg.src, msg.payload["seen"])
        if msg.payload["reply"]:
            self.send_seen(msg.src, reply=False)

    def on_events(self, msg: Message) -> None:
        """Store the next events of each origin, drop duplicates and gaps, acknowledge."""
        self._learn(msg.src, msg.payload["seen"])
        seen = self._log().seen
        fresh: list[EventEnvelope] = []
        nxt: dict[str, int] = {}
        for event in sorted(msg.payload["events"], key=lambda e: e.id):
            if event.persistence_id != self.pid:
                continue
            expected = nxt.get(event.origin, seen.get(event.origin, 0) + 1)
            if event.origin_seq == expected:  # earlier ones are duplicates, later ones gaps
                fresh.append(event)
                nxt[event.origin] = expected + 1
        if fresh:
            self._store(fresh)
        self.send_seen(msg.src, reply=False)
