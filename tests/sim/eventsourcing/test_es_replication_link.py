"""The replication link on its own: a recording stand-in for the node, no world, no network."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from crdt.clocks import VersionVector
from sim.eventsourcing.behavior import Behavior
from sim.eventsourcing.fold import EventLog
from sim.eventsourcing.journal import EventEnvelope
from sim.eventsourcing.replication import ReplicationLink

ADDER = Behavior(0, lambda s, c: [c], lambda s, e, ctx: s + e)


class RecordingNode:
    """Keeps what the link sends: (peer, kind, payload, size)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any], int]] = []

    def send_routed(self, dst: str, kind: str, payload: dict[str, Any], size: int) -> None:
        self.sent.append((dst, kind, payload, size))

    def take(self) -> list[tuple[str, str, dict[str, Any], int]]:
        sent, self.sent = self.sent, []
        return sent


def ev(origin: str, seq: int, n: int = 1, pid: str = "p") -> EventEnvelope:
    return EventEnvelope(pid, origin, seq, VersionVector({origin: seq}), float(seq), n)


def started(batch: int = 64) -> tuple[ReplicationLink, RecordingNode, EventLog]:
    node = RecordingNode()
    log = EventLog("a", "p", ADDER, ["a", "b", "c"], prune=True)
    log.load([])
    link = ReplicationLink(node, "p", ["b", "c"], batch, log.insert)  # type: ignore[arg-type]
    link.start(log)
    return link, node, log


def msg(src: str, **payload: Any) -> Any:
    return SimpleNamespace(src=src, payload=payload)


def test_a_start_asks_every_peer_and_sends_no_events_before_they_answer() -> None:
    link, node, log = started()
    assert [(p, k, m) for p, k, m, _ in node.take()] == [
        ("b", "es.seen:p", {"seen": {}, "reply": True}), ("c", "es.seen:p", {"seen": {}, "reply": True})]
    log.insert([ev("a", 1)])
    link.push([ev("a", 1)])
    assert node.take() == [] and not link.idle()
    link.retransmit()  # still no answer: ask again
    assert [(p, k) for p, k, _, _ in node.take()] == [("b", "es.seen:p"), ("c", "es.seen:p")]


def test_events_are_stored_in_order_duplicates_and_gaps_dropped_and_acknowledged() -> None:
    link, node, log = started()
    node.take()
    link.on_events(msg("b", events=(ev("b", 2, 20), ev("b", 1, 10), ev("c", 2, 99), ev("b", 4, 40),
                                    ev("b", 1, 10, pid="other")), seen={"b": 4}))
    assert log.seen == {"b": 2} and log.state == 30  # b#1, b#2 in order; c#2 and b#4 are gaps
    assert node.take() == [("b", "es.seen:p", {"seen": {"b": 2}, "reply": False}, 24 + 12)]
    link.on_events(msg("c", events=(ev("b", 1, 10), ev("b", 3, 30)), seen={}))
    assert log.seen == {"b": 3} and log.state == 60  # the duplicate is dropped, the next one kept


def test_retransmission_sends_each_peer_what_it_lacks_in_batches_and_relays() -> None:
    link, node, log = started(batch=2)
    log.insert([ev("a", 1), ev("a", 2), ev("a", 3), ev("b", 1)])
    node.take()
    link.on_seen(msg("b", seen={"a": 1}, reply=True))
    link.on_seen(msg("c", seen={"a": 3, "b": 1}, reply=False))
    assert node.take() == [("b", "es.seen:p", {"seen": {"a": 3, "b": 1}, "reply": False}, 24 + 24)]
    assert [e.id for e in link.missing_for("b")] == [("a", 2), ("a", 3)]  # b's own event is not sent back
    assert link.missing_for("c") == [] and not link.idle()
    link.retransmit()
    ((peer, kind, payload, size),) = node.take()
    assert (peer, kind, [e.id for e in payload["events"]]) == ("b", "es.events:p", [("a", 2), ("a", 3)])
    assert size == 24 + 24 + sum(e.size() for e in payload["events"])
    link.on_seen(msg("b", seen={"a": 3, "b": 1}, reply=False))
    assert link.idle()
    link.push([ev("a", 4)])  # both peers answered: a new event goes to both at once
    assert [(p, k) for p, k, _, _ in node.take()] == [("b", "es.events:p"), ("c", "es.events:p")]


def test_acknowledgements_only_grow_and_strangers_are_ignored() -> None:
    link, node, _ = started()
    link.on_seen(msg("b", seen={"a": 5, "b": 2}, reply=False))
    link.on_seen(msg("b", seen={"a": 3, "c": 1}, reply=False))  # an older, reordered ack
    link.on_seen(msg("z", seen={"a": 9}, reply=False))
    assert link.acked == {"b": {"a": 5, "b": 2, "c": 1}, "c": None}
    link.stop()
    assert link.acked == {} and link.missing_for("b") == []
