"""Reliable delivery over one app connection: sequence numbers, acks, re-sends, dedup, shadows.

A :class:`Connection` is one side of a link between two app nodes (a subscriber and its
provider, or two peers of a trusted zone). Each data message gets the next sequence number of
its connection and stays in ``unacked`` until the other side acknowledges that number; the
owner re-sends what is older than the re-send interval on every tick. The receiving side keeps
the contiguous prefix it has seen plus the numbers above it, so a duplicate is acknowledged
again but applied once; order does not matter because every message is applied through the
target CRDT's merge or op.

The sending side also keeps a **shadow** per path: the state it knows the other side holds
because of what it sent on this connection. A state message becomes the part the shadow lacks
(``shadow.difference(msg)``), an op that would not change the shadow's value is not sent, so an
unchanged derived value is never re-sent. A new connection starts with no shadow; the digests
the subscriber reports when it connects let the provider skip what the subscriber already has.

>>> c = Connection("a>b#0.1", "b", "up")
>>> c.push({"x": 1}, 10, now=0.0), c.push({"x": 2}, 10, now=0.0)
(1, 2)
>>> c.acked(1); sorted(c.unacked)
[2]
>>> r = Connection("a>b#0.1", "a", "down")
>>> r.accept(2), r.accept(1), r.accept(2), r.received
(True, True, False, 2)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from crdt import Crdt, Op
from sim.trace import canonical_json

__all__ = ["Connection", "Outgoing", "plain", "value_digest"]


@dataclass
class Outgoing:
    """A data message waiting for its ack."""

    body: dict[str, Any]
    size: int
    sent_at: float
    sends: int = 1


@dataclass
class Connection:
    """One side of a connection: ``role`` is ``up`` (to my provider), ``down`` (to a subscriber),
    ``peer`` (to a node of my zone) or ``attack`` (a side connection an attack opened)."""

    id: str
    peer: str
    role: str
    open: bool = False
    next_seq: int = 1
    unacked: dict[int, Outgoing] = field(default_factory=dict)
    received: int = 0
    above: set[int] = field(default_factory=set)
    shadow: dict[str, Crdt[Any]] = field(default_factory=dict)
    reported: dict[str, str] = field(default_factory=dict)
    session: Any = None
    #: the login/resume an attack connection presents instead of the node's own
    hello: dict[str, Any] | None = None
    #: the incarnation of the other side this connection was opened with (a restart voids it)
    peer_epoch: int | None = None
    attempted_at: float = -1.0
    since_ping: int = 0

    def push(self, body: dict[str, Any], size: int, now: float) -> int:
        seq = self.next_seq
        self.next_seq += 1
        self.unacked[seq] = Outgoing(body, size, now)
        return seq

    def acked(self, seq: Any) -> None:
        if isinstance(seq, int):
            self.unacked.pop(seq, None)

    def accept(self, seq: Any) -> bool:
        """True the first time ``seq`` arrives; False for a duplicate (or a bad number)."""
        if not isinstance(seq, int) or isinstance(seq, bool) or seq <= self.received or seq in self.above:
            return False
        self.above.add(seq)
        while self.received + 1 in self.above:
            self.received += 1
            self.above.discard(self.received)
        return True

    def due(self, now: float, interval: float) -> list[tuple[int, Outgoing]]:
        """Unacknowledged messages last sent at least ``interval`` ago, in sequence order."""
        return [(s, o) for s, o in sorted(self.unacked.items()) if now - o.sent_at >= interval - 1e-9]

    def narrow(self, path: str, msg: Crdt[Any] | Op, base: Crdt[Any]) -> tuple[Crdt[Any] | Op | None, Crdt[Any]]:
        """What to send of ``msg`` given the shadow (``base`` when there is none), and the new shadow.

        None when the other side would not change: an op that leaves the value as it is, a
        state whose every part the other side has.
        """
        shadow = self.shadow.get(path)
        known = shadow if shadow is not None else base
        if isinstance(msg, Op):
            new = known.effect(msg)
            if shadow is not None and new.value() == shadow.value():
                return None, shadow
            if shadow is None and self.reported.get(path) == value_digest(new.value()):
                return None, new
            return msg, new
        new = known.merge(msg)
        if shadow is None:
            if self.reported.get(path) == value_digest(new.value()):
                return None, new
            return msg, new
        if new.value() == shadow.value():
            return None, new  # newer timestamps, same value: nothing the other side would show
        return shadow.difference(msg), new


def plain(value: Any) -> Any:
    """A value as plain JSON data (tuples as lists, sets sorted, CRDTs and ops by ``to_data``)."""
    if isinstance(value, Crdt | Op):
        return plain(value.to_data())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))}
    if isinstance(value, frozenset | set):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if hasattr(value, "to_data"):
        try:
            return plain(value.to_data())
        except (TypeError, ValueError, AttributeError):
            return repr(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def value_digest(value: Any) -> str:
    """A short digest of a state's value, for resynchronisation."""
    try:
        text = canonical_json(plain(value))
    except (TypeError, ValueError):
        text = repr(value)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
