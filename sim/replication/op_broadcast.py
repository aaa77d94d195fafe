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

Options: ``retransmit`` (ticks between retransmissions, default 2), ``reliable`` (default true;
false sends each record once, which the checker must catch over lossy links).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from crdt import VersionVector
from crdt.base import Op
from crdt.codec import size as op_size
from sim.replication.protocol import Calls, Protocol
from sim.replication.values import DELETED

if TYPE_CHECKING:
    from sim.network import Message
    from sim.replication.replicator import Replicator

__all__ = ["OpBroadcast", "OpRecord"]

_OPTIONS = frozenset({"retransmit", "reliable"})


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


class OpBroadcast(Protocol):
    name: ClassVar[str] = "op"
    option_names: ClassVar[frozenset[str]] = _OPTIONS

    def __init__(self, replicator: Replicator, options: dict[str, Any]) -> None:
        super().__init__(replicator, options)
        self.reliable = bool(options.get("reliable", True))
        # neighbour -> records sent to it and not yet acknowledged (insertion ordered)
        self.outbox: dict[str, dict[tuple[str, int], OpRecord]] = {}
        self.waiting: dict[tuple[str, int], OpRecord] = {}
        self.unsynced: set[str] = set()
        self.node.on_message("op.msg", self._on_msg)
        self.node.on_message("op.ack", self._on_ack)
        self.node.on_message("op.sync", self._on_sync)
        self.node.every(options.get("retransmit", 2), self._retransmit)

    # -- durable delivery state ---------------------------------------------------------------

    @property
    def _durable(self) -> dict[str, Any]:
        store = self.node.durable if self.replicator.group.durable else self.node.volatile
        return store.setdefault("op", {"vc": VersionVector(), "log": {}})

    @property
    def delivered(self) -> VersionVector:
        return self._durable["vc"]

    # -- local changes ------------------------------------------------------------------------

    def local_update(self, key: str, calls: Calls) -> None:
        # Each op is prepared on the state the previous one produced, as the source sees them.
        state, ops = self.replicator.current(key), []
        for name, args in calls:
            op = state.prepare(name, self.replicator.replica_id, *args)  # type: ignore[union-attr]
            if op is not None:
                state = state.effect(op)  # type: ignore[union-attr]
                ops.append(op)
        if ops:
            self._originate(key, tuple(ops), state.type_name)  # type: ignore[union-attr]

    def local_delete(self, key: str) -> None:
        self._originate(key, (), self.replicator.group.key_spec(key).type.type_name)

    def _originate(self, key: str, ops: tuple[Op, ...], type_name: str) -> None:
        vc, origin = self.delivered, self.replicator.replica_id
        record = OpRecord.create(origin, vc.get(origin) + 1, vc, key, ops, type_name)
        self._deliver(record)
        self._forward(record, came_from=None)

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
                for op in record.ops:
                    state = state.effect(op)  # type: ignore[union-attr]
                self.replicator.replace(record.key, state, record.origin)
        durable["vc"] = durable["vc"].merge(VersionVector({record.origin: record.seq}))
        durable["log"][record.id] = record

    def _forward(self, record: OpRecord, came_from: str | None) -> None:
        for peer in self.peers():
            if peer != came_from and peer != record.origin:
                self._send_record(peer, record)

    def _send_record(self, peer: str, record: OpRecord) -> None:
        if self.reliable:
            self.outbox.setdefault(peer, {})[record.id] = record
        self.send(peer, "op.msg", record, record.nbytes)

    def _on_msg(self, msg: Message) -> None:
        record: OpRecord = msg.payload
        self.send(msg.src, "op.ack", record.id, len(record.origin) + 6)
        if self.delivered.get(record.origin) >= record.seq or record.id in self.waiting:
            return  # a duplicate
        self.waiting[record.id] = record
        self._drain(msg.src)

    def _drain(self, came_from: str) -> None:
        progress = True
        while progress:
            progress = False
            for record_id in sorted(self.waiting):
                record = self.waiting[record_id]
                if self._deliverable(record):
                    del self.waiting[record_id]
                    self._deliver(record)
                    self._forward(record, came_from)
                    progress = True

    def _on_ack(self, msg: Message) -> None:
        box = self.outbox.get(msg.src)
        if box is not None:
            box.pop(tuple(msg.payload), None)

    def _retransmit(self) -> None:
        for peer in sorted(self.unsynced):
            self._send_sync(peer, reply=True)
        for peer in sorted(self.outbox):
            for record in list(self.outbox[peer].values()):
                self.send(peer, "op.msg", record, record.nbytes)

    # -- restart: catch up with neighbours ----------------------------------------------------

    def _on_sync(self, msg: Message) -> None:
        theirs: VersionVector = msg.payload["vc"]
        self.unsynced.discard(msg.src)
        for _, record in sorted(self._durable["log"].items()):
            if theirs.get(record.origin) < record.seq:
                self._send_record(msg.src, record)
        if msg.payload["reply"]:
            self._send_sync(msg.src, reply=False)

    def _send_sync(self, peer: str, reply: bool) -> None:
        self.send(peer, "op.sync", {"vc": self.delivered, "reply": reply}, 16 * len(self.delivered.entries))

    def start(self) -> None:
        self.outbox = {}
        self.waiting = {}
        # After a restart, exchange version vectors with every neighbour (repeated with the
        # retransmissions until each answers): each side then sends what the other lacks.
        self.unsynced = set(self.peers()) if self.node.incarnation > 0 else set()
        for peer in sorted(self.unsynced):
            self._send_sync(peer, reply=True)

    def pending(self) -> bool:
        return bool(self.waiting) or bool(self.unsynced) or any(self.outbox.values())
