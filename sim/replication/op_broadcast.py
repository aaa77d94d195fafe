"""Op-based replication over reliable causal broadcast.

A local mutation is *prepared* at its source (``Crdt.prepare``), applied there, and broadcast
as a record ``(origin, seq, deps, key, op)``: ``seq`` numbers the origin's operations and
``deps`` is the version vector of operations the origin had delivered before it. A replica
delivers (applies with ``Crdt.effect``) a record once it has delivered the origin's previous
one and everything in ``deps``; until then it waits in a causal buffer. Duplicates are
recognised by ``(origin, seq)`` and dropped.

Reliability over lossy links is hop by hop: each record is sent to every replica neighbour and
retransmitted every ``retransmit`` ticks until that neighbour acknowledges it; a node that
delivers a record forwards it to its other neighbours the same way, so operations reach every
replica of a connected topology. The delivered version vector and a log of delivered records
are durable; after a restart a node exchanges version vectors with its neighbours (``op.sync``)
and each side sends what the other lacks.

A write above ``local`` sends the key's last delivered record (not the state: joining a state
into an op replica and then applying its ops would count twice); a replica acknowledges it
once delivered. With volatile state a crash can destroy the only copy of a record: records no
live replica holds are given up with those that causally follow them (see ``_discard_lost``)
and reported, so the survivors still go quiet.

Options: ``retransmit`` (ticks between retransmissions, default 2), ``reliable`` (default true;
false sends each record once, which the checker must catch over lossy links). The switches
``track_senders``, ``writes_as_records``, ``discard_lost`` and ``refuse_lost`` (default true)
exist so the tests can put back bugs the protocol had and show the checks catch them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from crdt import VersionVector
from crdt.base import Op
from crdt.codec import size as op_size
from sim.replication.protocol import Calls, Protocol, register_protocol
from sim.replication.values import DELETED

if TYPE_CHECKING:
    from sim.network import Message
    from sim.replication.replicator import Replicator

__all__ = ["OpBroadcast", "OpRecord"]

#: each option's JSON Schema (the scenario schema's data.options.op)
_OPTIONS: dict[str, Any] = {
    "retransmit": {"type": "integer", "minimum": 1, "maximum": 10_000},
    "reliable": {"type": "boolean"},
    "track_senders": {"type": "boolean"},
    "writes_as_records": {"type": "boolean"},
    "discard_lost": {"type": "boolean"},
    "refuse_lost": {"type": "boolean"},
}


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One broadcast update: its operations in order; no operations means the key was deleted."""

    origin: str
    seq: int
    deps: VersionVector
    key: str
    ops: tuple[Op, ...]
    type_name: str
    #: bytes on the wire, computed once (a record is sent to every neighbour and retransmitted)
    nbytes: int = 0

    @property
    def id(self) -> tuple[str, int]:
        return (self.origin, self.seq)

    @classmethod
    def create(cls, origin: str, seq: int, deps: VersionVector, key: str, ops: tuple[Op, ...], type_name: str
               ) -> OpRecord:
        body = 2 + sum(op_size(op, type_name) for op in ops)
        size = len(origin) + 6 + sum(len(r) + 4 for r, _ in deps) + len(key) + body
        return cls(origin, seq, deps, key, ops, type_name, size)


@register_protocol
class OpBroadcast(Protocol):
    name: ClassVar[str] = "op"
    option_names: ClassVar[frozenset[str]] = frozenset(_OPTIONS)
    option_schema: ClassVar[Mapping[str, Any]] = _OPTIONS

    def __init__(self, replicator: Replicator, options: dict[str, Any]) -> None:
        super().__init__(replicator, options)
        self.reliable = bool(options.get("reliable", True))
        # False forwards every record a message releases away from that message's sender, not
        # from the neighbour each record came from (a bug the property test must catch).
        self.track_senders = bool(options.get("track_senders", True))
        # False makes writes above ``local`` and read repair join full states into the op
        # replica, so an op that arrives later is applied twice (a bug the tests must catch).
        self.writes_as_records = bool(options.get("writes_as_records", True))
        # False keeps records waiting forever for predecessors that crashes destroyed, so the
        # system never goes quiet (a bug the tests must catch).
        self.discard_lost = bool(options.get("discard_lost", True))
        # False lets a write still in flight from a crashed replica deliver a record already
        # given up, so the receiver's later records are given up too (a bug the tests must catch).
        self.refuse_lost = bool(options.get("refuse_lost", True))
        # record id -> acknowledgements of writes to send once the record is delivered here
        self.delivery_acks: dict[tuple[str, int], list[Callable[[], None]]] = {}
        # neighbour -> records sent to it and not yet acknowledged (insertion ordered)
        self.outbox: dict[str, dict[tuple[str, int], OpRecord]] = {}
        # records that arrived before their causal predecessors, with the neighbour each came from
        self.waiting: dict[tuple[str, int], tuple[OpRecord, str | None]] = {}
        self.unsynced: set[str] = set()
        # neighbour -> the latest incarnation it announced in a sync (acks from older ones are stale)
        self.peer_incarnation: dict[str, int] = {}
        self.node.on_message("op.msg", self._on_msg)
        self.node.on_message("op.ack", self._on_ack)
        self.node.on_message("op.sync", self._on_sync)
        self.node.every(options.get("retransmit", 2), self._retransmit)

    # -- durable delivery state ---------------------------------------------------------------

    @property
    def _durable(self) -> dict[str, Any]:
        store = self.node.durable if self.replicator.group.durable else self.node.volatile
        return store.setdefault("op", {"vc": VersionVector(), "log": {}, "last": {}})

    @property
    def delivered(self) -> VersionVector:
        return self._durable["vc"]

    # -- local changes ------------------------------------------------------------------------

    def local_update(self, key: str, calls: Calls) -> tuple[str, int] | None:
        # Each op is prepared on the state the previous one produced, as the source sees them.
        state, ops = self.replicator.current(key), []
        for name, args in calls:
            op = state.prepare(name, self.replicator.replica_id, *args)  # type: ignore[union-attr]
            if op is not None:
                state = state.effect(op)  # type: ignore[union-attr]
                ops.append(op)
        if not ops:
            return None
        return self._originate(key, tuple(ops), state.type_name)  # type: ignore[union-attr]

    def local_delete(self, key: str) -> None:
        self._originate(key, (), self.replicator.group.key_spec(key).type.type_name)

    def _originate(self, key: str, ops: tuple[Op, ...], type_name: str) -> tuple[str, int]:
        vc, origin = self.delivered, self.replicator.replica_id
        record = OpRecord.create(origin, vc.get(origin) + 1, vc, key, ops, type_name)
        self._deliver(record)
        self._forward(record, came_from=None)
        return record.id

    # -- delivery -----------------------------------------------------------------------------

    def _deliverable(self, record: OpRecord) -> bool:
        vc = self.delivered
        if vc.get(record.origin) != record.seq - 1:
            return False
        return all(vc.get(r) >= c for r, c in record.deps if r != record.origin)

    def _deliver(self, record: OpRecord) -> None:
        durable = self._durable
        if not record.ops:
            self.replicator.replace(record.key, DELETED, record.origin)
        else:
            state = self.replicator.current(record.key)
            if state is not DELETED:
                state = state.effect_all(record.ops)  # type: ignore[union-attr]
                self.replicator.replace(record.key, state, record.origin)
        durable["vc"] = durable["vc"].merge(VersionVector({record.origin: record.seq}))
        durable["log"][record.id] = record
        durable["last"][record.key] = record
        for ack in self.delivery_acks.pop(record.id, ()):
            ack()

    def _forward(self, record: OpRecord, came_from: str | None) -> None:
        # The origin holds its own records, unless it restarted with volatile state: then the
        # node of that name is a new replica that needs them like any other.
        origin = record.origin if self.replicator.group.durable else None
        for peer in self.peers():
            if peer != came_from and peer != origin:
                self._send_record(peer, record)

    def _send_record(self, peer: str, record: OpRecord) -> None:
        if self.reliable:
            self.outbox.setdefault(peer, {})[record.id] = record
        self.send(peer, "op.msg", record, record.nbytes)

    def _on_msg(self, msg: Message) -> None:
        record: OpRecord = msg.payload
        self.send(msg.src, "op.ack", (*record.id, self.node.incarnation), len(record.origin) + 8)
        if self.delivered.get(record.origin) >= record.seq or record.id in self.waiting:
            return  # a duplicate
        if self._doomed(record):
            return  # a late copy of a record already given up as lost
        self.waiting[record.id] = (record, msg.src)
        self._drain(msg.src)

    def _drain(self, releaser: str | None) -> None:
        """Deliver every waiting record whose predecessors are now delivered, and forward each
        to every neighbour but the one *it* came from: a record released by a later message
        may have arrived from another neighbour, and the releaser may lack it."""
        progress = True
        while progress:
            progress = False
            for record_id in sorted(self.waiting):
                record, came_from = self.waiting[record_id]
                if self._deliverable(record):
                    del self.waiting[record_id]
                    self._deliver(record)
                    self._forward(record, came_from if self.track_senders else releaser)
                    progress = True

    # -- writes above ``local`` ---------------------------------------------------------------

    def write_payload(self, key: str) -> tuple[Any, int] | None:
        """The last record of ``key`` delivered here: a replica that delivers it has delivered
        everything this one had of the key (its causal predecessors) — and nothing twice."""
        if not self.writes_as_records:
            return super().write_payload(key)
        record = self._durable["last"].get(key)
        return None if record is None else (record, record.nbytes)

    def accept_write(self, key: str, payload: Any, source: str, ack: Callable[[], None]) -> None:
        if not self.writes_as_records:
            super().accept_write(key, payload, source, ack)
            return
        record: OpRecord = payload
        if self.delivered.get(record.origin) >= record.seq:
            ack()
            return
        if self.refuse_lost and self._doomed(record):
            # A write still in flight from a replica that crashed may carry a record already
            # given up as lost: delivering it here would make every later record of this
            # replica depend on it, and so be given up too. The write was not made; no ack.
            return
        self.delivery_acks.setdefault(record.id, []).append(ack)
        if record.id not in self.waiting:
            self.waiting[record.id] = (record, source)
            self._drain(source)

    def holds(self, key: str, ref: Any) -> bool:
        origin, seq = ref
        return bool(self.delivered.get(origin) >= seq)

    def repairs_reads(self) -> bool:
        return not self.writes_as_records

    def _on_ack(self, msg: Message) -> None:
        origin, seq, incarnation = msg.payload
        if incarnation < self.peer_incarnation.get(msg.src, 0):
            # A late ack from before the peer restarted: what that incarnation held is gone,
            # and the record may have been queued again for the new one.
            return
        box = self.outbox.get(msg.src)
        if box is not None:
            box.pop((origin, seq), None)

    def _retransmit(self) -> None:
        if self.waiting and self.discard_lost and not self.replicator.group.durable:
            self._discard_lost()
        for peer in sorted(self.unsynced):
            self._send_sync(peer, reply=True)
        for peer in sorted(self.outbox):
            for record in list(self.outbox[peer].values()):
                self.send(peer, "op.msg", record, record.nbytes)

    # -- volatile crashes: records no replica holds any more --------------------------------

    def _lost_from(self) -> dict[str, int]:
        """Replica id -> the first of its sequence numbers destroyed with every copy; all later
        ones are lost too (each depends on its predecessor), so this names the lost set."""
        return self.replicator.group.protocol_state(self.name).setdefault("lost_from", {})

    def _doomed(self, record: OpRecord) -> bool:
        """Whether ``record`` is, or causally follows, a record destroyed with every copy."""
        lost = self._lost_from()
        if not lost:
            return False
        if record.seq >= lost.get(record.origin, record.seq + 1):
            return True
        return any(c >= lost[r] for r, c in record.deps if r in lost)

    def _discard_lost(self) -> None:
        """Give up the predecessors of waiting records that no live replica holds, and the
        waiting records that follow them.

        With volatile state a crash destroys a node's log, and a record it was the last to
        hold can never arrive: the records waiting for it would wait forever and the system
        never go quiet. A record is gone when no replica that is up has delivered it, waits
        for it or is still sending it (whoever sends a record keeps it until acknowledged).
        A copy may still be in flight from a crashed sender (a broadcast or a write); once a
        record is given up every replica refuses such a copy (see ``_doomed``), so no live
        replica builds on it. Only the simulator sees all replicas at once; a real system
        needs a membership service to decide the same. Each lost record is reported to the
        group by id.
        """
        group = self.replicator.group
        live = [p for r in group.replicators.values() if r.node.up
                and isinstance(p := r.protocols.get(self.name), OpBroadcast)]
        lost = self._lost_from()
        for record, _ in list(self.waiting.values()):
            for origin, seq in self._missing(record):
                if seq < lost.get(origin, seq + 1) and not any(p._holds(origin, seq) for p in live):
                    lost[origin] = seq
                    group.record_lost((origin, seq), None)
        for record_id in sorted(self.waiting):
            record, _ = self.waiting[record_id]
            if self._doomed(record):
                del self.waiting[record_id]
                self.delivery_acks.pop(record_id, None)
                group.record_lost(record_id, record.key)

    def _missing(self, record: OpRecord) -> list[tuple[str, int]]:
        """The first undelivered predecessor of ``record`` from each replica it depends on."""
        vc = self.delivered
        needs = {record.origin: record.seq - 1}
        for r, c in record.deps:
            if r != record.origin:
                needs[r] = max(needs.get(r, 0), c)
        return [(r, vc.get(r) + 1) for r, c in sorted(needs.items()) if vc.get(r) < c]

    def _holds(self, origin: str, seq: int) -> bool:
        if self.delivered.get(origin) >= seq or (origin, seq) in self.waiting:
            return True
        return any((origin, seq) in box for box in self.outbox.values())

    # -- restart: catch up with neighbours ----------------------------------------------------

    def _on_sync(self, msg: Message) -> None:
        theirs: VersionVector = msg.payload["vc"]
        self.unsynced.discard(msg.src)
        if msg.payload["incarnation"] > self.peer_incarnation.get(msg.src, 0):
            self.peer_incarnation[msg.src] = msg.payload["incarnation"]
            # Records that came from the peer's earlier incarnation are not known to it now.
            for record_id, (record, came_from) in list(self.waiting.items()):
                if came_from == msg.src:
                    self.waiting[record_id] = (record, None)
        for _, record in sorted(self._durable["log"].items()):
            if theirs.get(record.origin) < record.seq:
                self._send_record(msg.src, record)
        if msg.payload["reply"]:
            self._send_sync(msg.src, reply=False)

    def _send_sync(self, peer: str, reply: bool) -> None:
        payload = {"vc": self.delivered, "reply": reply, "incarnation": self.node.incarnation}
        self.send(peer, "op.sync", payload, 16 * len(self.delivered.entries) + 2)

    def start(self) -> None:
        self.outbox = {}
        self.waiting = {}
        self.delivery_acks = {}
        self.peer_incarnation = {}
        # After a restart, exchange version vectors with every neighbour (repeated with the
        # retransmissions until each answers): each side then sends what the other lacks.
        self.unsynced = set(self.peers()) if self.node.incarnation > 0 else set()
        for peer in sorted(self.unsynced):
            self._send_sync(peer, reply=True)

    def pending(self) -> bool:
        return bool(self.waiting) or bool(self.unsynced) or any(self.outbox.values())
