"""Delta-state anti-entropy (Almeida, Shoker, Baquero, Algorithm 2: causal consistency).

Each node keeps a sequence counter ``c`` and a buffer ``D`` of delta groups by sequence number,
and for each neighbour the highest sequence number it acknowledged. Every ``every`` ticks it
sends each neighbour the join of the buffered deltas it has not acknowledged (a *delta
interval*), or its full state when the buffer no longer reaches back that far, when the
neighbour is new to it, or when the neighbour restarted. The receiver joins the interval,
buffers what changed its state (so deltas travel on, transitively), and acknowledges. A buffer
entry is dropped once every neighbour acknowledged it.

Causal delivery of deltas holds under loss, duplication and reordering because an interval
always starts where the receiver acknowledged: everything before it has been joined there. A
restart breaks that (volatile buffers are lost), so each incarnation has an *epoch*; an interval
addressed to an old epoch of the receiver is refused and answered with a request for the full
state, and acknowledgements for an old epoch of the sender are ignored.

Options (Enes et al., ICDE 2019): ``bp`` (default true) never sends a delta back to the
neighbour it came from; ``rr`` (default true) buffers only the parts of a received delta group
that are new to the local state (``Crdt.difference``, exact for types with a cheap join
decomposition), where classic delta propagation buffers the whole group whenever any of it is
new. ``every`` is the sync period in ticks (default 1). ``fanout`` (default 8) bounds the
neighbours a node syncs with per round: with more neighbours than that it takes the next
``fanout`` of them in sorted order, round-robin, so on a complete graph a round costs
``fanout`` messages, not n - 1, and every neighbour is still reached every ``n / fanout``
rounds (acknowledgements and garbage collection are per neighbour, as before).
A state received from a write or a read repair is buffered like a received delta, so it
spreads on (``spread_written: false`` puts back the bug where it did not, for the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import reduce
from typing import TYPE_CHECKING, Any, ClassVar

from crdt.base import Crdt
from sim.replication.protocol import Calls, Protocol, register_protocol
from sim.replication.values import DELETED, StoredValue, difference, join, value_size

if TYPE_CHECKING:
    from sim.network import Message
    from sim.replication.replicator import Replicator

__all__ = ["DeltaGossip"]


def _whole_or_nothing(current: StoredValue | None, incoming: StoredValue) -> bool:
    """Whether ``current.difference(incoming)`` is the default: all of it or nothing."""
    return (isinstance(current, Crdt) and type(current) is type(incoming)
            and type(current).difference is Crdt.difference)


def _merge_difference(current: StoredValue | None, incoming: StoredValue
                      ) -> Callable[[Any], tuple[Crdt[Any], Crdt[Any] | None]] | None:
    """``current.merge_difference`` when the type computes the join and the difference in one
    walk (``(merged, part)``, ``part`` None when nothing is new), else None."""
    if type(current) is not type(incoming) or not isinstance(current, Crdt):
        return None
    return getattr(current, "merge_difference", None)


def _join_all(values: list[StoredValue]) -> StoredValue:
    """The join of ``values`` in buffer order: at once when the type joins many values in one
    pass (``join_all``), else in turn."""
    first = values[0]
    if len(values) == 1:
        return first
    many = getattr(type(first), "join_all", None)
    if many is not None and all(type(v) is type(first) for v in values):
        return many(values)
    return reduce(join, values)


#: each option's JSON Schema (the scenario schema's data.options.delta)
_OPTIONS: dict[str, Any] = {
    "every": {"type": "integer", "minimum": 1, "maximum": 10_000},
    "bp": {"type": "boolean"},
    "rr": {"type": "boolean"},
    "causal": {"type": "boolean"},
    "fanout": {"type": "integer", "minimum": 1, "maximum": 10_000},
    "spread_written": {"type": "boolean"},
}
_UNKNOWN = None  # a neighbour we have not heard from in this incarnation: it gets full state


@register_protocol
class DeltaGossip(Protocol):
    name: ClassVar[str] = "delta"
    option_names: ClassVar[frozenset[str]] = frozenset(_OPTIONS)
    option_schema: ClassVar[Mapping[str, Any]] = _OPTIONS

    def __init__(self, replicator: Replicator, options: dict[str, Any]) -> None:
        super().__init__(replicator, options)
        self.bp = bool(options.get("bp", True))
        self.rr = bool(options.get("rr", True))
        # Deliberately breakable for the checker's tests: without the causal condition a node
        # sends each delta once, from where it last sent rather than from the last ack.
        self.causal = bool(options.get("causal", True))
        # False only joins a state from a write or a read repair, without buffering it, so on a
        # non-complete topology the news stops here (a bug the tests must catch).
        self.spread_written = bool(options.get("spread_written", True))
        self.fanout = self.int_option("fanout", 8, minimum=1)
        self._next_peer = 0  # where the round-robin over neighbours continues
        self.epoch = 0
        self.counter = 0
        self.buffer: dict[int, tuple[str, StoredValue, str]] = {}
        # neighbour -> (its epoch, highest sequence number of ours it acknowledged)
        self.acks: dict[str, tuple[int, int] | None] = {}
        self.sent_upto: dict[str, int] = {}
        # (start, neighbour left out by BP or None) -> interval, for the buffer as of counter
        # ``_intervals_at`` (a buffer entry is only added at the counter or dropped before an ack)
        self._intervals_at = -1
        self._intervals: dict[tuple[int, str | None], dict[str, StoredValue]] = {}
        self.node.on_message("delta.sync", self._on_sync)
        self.node.on_message("delta.ack", self._on_ack)
        self.node.on_message("delta.hello", self._on_hello)
        # after a restart: peers that have not answered our hello yet (they may not know we
        # restarted, and have nothing new to send, so without it nobody would tell us anything)
        self.ungreeted: set[str] | None = None
        self.node.every(options.get("every", 1), self._round)

    # -- local changes ------------------------------------------------------------------------

    def local_update(self, key: str, calls: Calls) -> StoredValue | None:
        state, group = self.replicator.current(key), None
        for name, args in calls:
            delta = state.mutate_delta(name, self.replicator.replica_id, *args)  # type: ignore[union-attr]
            if delta is not None:
                state = join(state, delta)
                group = delta if group is None else join(group, delta)
        if group is None:
            return None  # nothing changed: nothing to send
        self.replicator.replace(key, state, self.node.id)
        self._buffer(key, group, self.node.id)
        # with volatile state, the delta tells the checks whether the update survived crashes
        return None if self.replicator.group.durable else group

    def local_delete(self, key: str) -> None:
        self.replicator.replace(key, DELETED, self.node.id)
        self._buffer(key, DELETED, self.node.id)

    def _buffer(self, key: str, delta: StoredValue, origin: str) -> None:
        self.buffer[self.counter] = (key, delta, origin)
        self.counter += 1

    # -- sending ------------------------------------------------------------------------------

    def _round(self) -> None:
        for peer in self._round_peers():
            if self.ungreeted is not None and peer in self.ungreeted:
                self.send(peer, "delta.hello", {"epoch": self.epoch}, 4)
            self._sync(peer)

    def _round_peers(self) -> list[str]:
        peers = self.peers()
        if len(peers) <= self.fanout:
            return list(peers)
        start = self._next_peer % len(peers)
        self._next_peer = start + self.fanout
        chosen = peers[start:start + self.fanout]
        return [*chosen, *peers[:self.fanout - len(chosen)]]

    def _sync(self, peer: str, always: bool = False) -> None:
        ack = self.acks.get(peer, _UNKNOWN)
        start = (self.sent_upto.get(peer, 0) if not self.causal else (ack[1] if ack else 0))
        oldest = min(self.buffer, default=self.counter)
        if ack is _UNKNOWN and self.causal:
            if not self._keys() and not always:
                return
            payload = {key: self.replicator.states[key] for key in self._keys()}
            full, receiver_epoch = True, None
        elif start >= self.counter:
            return
        elif start < oldest and self.causal:
            payload = {key: self.replicator.states[key] for key in self._keys()}
            full, receiver_epoch = True, None
        else:
            payload = self._interval(peer, max(start, oldest))
            full, receiver_epoch = False, (ack[0] if ack else None)
            if not payload and not self.causal:
                self.sent_upto[peer] = self.counter
                return
        size = sum(len(k) + value_size(v) for k, v in payload.items())
        message = {
            "epoch": self.epoch,
            "to_epoch": receiver_epoch,
            "seq": self.counter,
            "full": full,
            "deltas": payload,
        }
        self.send(peer, "delta.sync", message, size)
        self.sent_upto[peer] = self.counter

    def _keys(self) -> list[str]:
        states = self.replicator.states
        return [k for k in self.replicator.group.keys_for(self.name) if k in states]

    def _interval(self, peer: str, start: int) -> dict[str, StoredValue]:
        """The join, per key, of buffered deltas from ``start`` on (without ``peer``'s own, if BP).

        Neighbours that acknowledged the same sequence number get the same interval (unless BP
        leaves out deltas of their own), so it is joined once per round for all of them, and
        the joined values, shared, are sized once."""
        buffer, counter = self.buffer, self.counter
        excluded = peer if self.bp and any(buffer[seq][2] == peer for seq in range(start, counter)) else None
        if self._intervals_at != counter:
            self._intervals_at, self._intervals = counter, {}
        cached = self._intervals.get((start, excluded))
        if cached is not None:
            return dict(cached)
        parts: dict[str, list[StoredValue]] = {}
        for seq in range(start, counter):
            key, delta, origin = buffer[seq]
            if origin != excluded:
                parts.setdefault(key, []).append(delta)
        group = {key: _join_all(values) for key, values in parts.items()}
        self._intervals[(start, excluded)] = group
        return dict(group)

    # -- receiving ----------------------------------------------------------------------------

    def accept_write(self, key: str, payload: Any, source: str, ack: Callable[[], None]) -> None:
        """A state from a write (or a read's repair) spreads on like a received delta: had
        it only been joined, the delta that later brings the same news would inflate nothing
        here and stop, and replicas behind this one on a non-complete topology never hear it."""
        if not self.spread_written:
            super().accept_write(key, payload, source, ack)
            return
        part = difference(self.replicator.states.get(key), payload)
        if part is not None:
            self.store(key, part, source)
            self._buffer(key, part, source)
        ack()

    def _on_hello(self, msg: Message) -> None:
        # A restarted peer: it may have lost everything, so it gets our full state, even empty
        # (the answer is also what tells it we heard).
        self.acks[msg.src] = _UNKNOWN
        self._sync(msg.src, always=True)

    def _on_sync(self, msg: Message) -> None:
        payload = msg.payload
        if self.ungreeted is not None:
            self.ungreeted.discard(msg.src)
        if not payload["full"] and payload["to_epoch"] != self.epoch and self.causal:
            # Addressed to an earlier incarnation of ours: we may lack what precedes it.
            self._ack(msg.src, payload["epoch"], -1)
            return
        group: dict[str, StoredValue] = payload["deltas"]
        states = self.replicator.states
        inflating: dict[str, StoredValue] = {}
        joined: dict[str, StoredValue] = {}
        for key in sorted(group):
            incoming, current = group[key], states.get(key)
            fused = _merge_difference(current, incoming)
            if fused is not None:
                # One walk of the delta gives both the new state and the part new here.
                state, new = fused(incoming)
                if new is not None:
                    joined[key], inflating[key] = state, new
                continue
            if _whole_or_nothing(current, incoming):
                # Its difference is the merge compared with the state: keep that merge rather
                # than merge a second time to store it.
                merged = join(current, incoming)  # type: ignore[arg-type]
                if merged is not current and merged != current:
                    joined[key], inflating[key] = merged, incoming
                continue
            part = difference(current, incoming)
            if part is not None:
                inflating[key] = part
        for key, part in inflating.items():
            if key in joined:
                self.replicator.replace(key, joined[key], msg.src)
            else:
                self.store(key, part, msg.src)
        # Classic delta propagation buffers a received group whole when any of it is new; RR
        # buffers only the parts that were new here, so redundant state stops travelling.
        forward = inflating if self.rr else (group if inflating else {})
        for key in sorted(forward):
            self._buffer(key, forward[key], msg.src)
        self._ack(msg.src, payload["epoch"], payload["seq"])

    def _ack(self, peer: str, their_epoch: int, seq: int) -> None:
        self.send(peer, "delta.ack", {"epoch": self.epoch, "for_epoch": their_epoch, "seq": seq}, 12)

    def _on_ack(self, msg: Message) -> None:
        payload = msg.payload
        if payload["for_epoch"] != self.epoch:
            return  # acknowledges an earlier incarnation's sequence numbers
        if payload["seq"] < 0:
            self.acks[msg.src] = _UNKNOWN  # the peer restarted: it gets the full state
            return
        previous = self.acks.get(msg.src)
        if previous is None or previous[0] != payload["epoch"] or payload["seq"] > previous[1]:
            self.acks[msg.src] = (payload["epoch"], payload["seq"])
        self._collect_garbage()

    def _collect_garbage(self) -> None:
        known = [ack[1] for p in self.peers() if (ack := self.acks.get(p)) is not None]
        if len(known) < len(self.peers()):
            return
        floor = min(known, default=self.counter)
        for seq in [s for s in self.buffer if s < floor]:
            del self.buffer[seq]

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        durable = self.node.durable
        self.epoch = durable["delta.epoch"] = durable.get("delta.epoch", -1) + 1
        self.counter = 0
        self.buffer = {}
        self._intervals_at = -1
        self.acks = {}
        self.sent_upto = {}
        self.ungreeted = set(self.peers()) if self.node.incarnation > 0 else None

    def pending(self) -> bool:
        if self.ungreeted:
            return True
        if not self.causal:
            return any(self.sent_upto.get(p, 0) < self.counter for p in self.peers())
        for peer in self.peers():
            ack = self.acks.get(peer, _UNKNOWN)
            if ack is _UNKNOWN:
                if self._keys():
                    return True
            elif ack[1] < self.counter:
                return True
        return False

