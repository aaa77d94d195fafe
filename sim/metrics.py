"""Message counters: totals, per link, per node, per message kind and per tick.

The hot path only does attribute, list and dict increments on objects the network keeps
references to. Links with a state of their own (see :mod:`sim.network`) count per link and per
kind; pairs served by a zone sender count once, in a *cell* of the sender (sent) and of the
receiver (delivered) for the message's kind (a counter per pair would cost more than the rest
of a 100,000-node world). A cell is an index into four columns (plain lists of ints), so the
totals read at every tick are four ``sum(list)`` calls in C over contiguous lists instead of a
walk over one object per (node, kind): at 100,000 nodes that walk cost 12 of 110 CPU seconds.
Totals, per-kind and per-node figures are sums taken when read: a zone message costs two
increments at each end instead of four.

>>> m = Metrics()
>>> c = m.link("a", "b")
>>> c.sent += 1; c.bytes_sent += 10
>>> m.to_data()["per_node"]["a"]["sent"]
1
>>> cell = m.node_kind("a", "gossip")
>>> cell.sent += 2
>>> m.columns[0][cell.index], m.sent, m.kinds["gossip"].sent
(2, 2, 2)
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

__all__ = ["DROP_CAUSES", "KindCounters", "LinkCounters", "Metrics", "NodeKindCounters"]

DROP_CAUSES = ("loss", "partition", "node_down")


class LinkCounters:
    """Mutable counters of one directed link (hot path: plain attribute increments)."""

    __slots__ = ("sent", "bytes_sent", "delivered", "bytes_delivered", "duplicated", "dropped")

    def __init__(self) -> None:
        self.sent = 0
        self.bytes_sent = 0
        self.delivered = 0
        self.bytes_delivered = 0
        self.duplicated = 0
        self.dropped: dict[str, int] = {}

    def to_data(self) -> dict[str, Any]:
        """The link's counters as plain data."""
        return {
            "sent": self.sent,
            "bytes_sent": self.bytes_sent,
            "delivered": self.delivered,
            "bytes_delivered": self.bytes_delivered,
            "duplicated": self.duplicated,
            "dropped": dict(sorted(self.dropped.items())),
        }


class KindCounters:
    """Counters of one message kind, so protocols can be compared by bytes on the wire."""

    __slots__ = ("sent", "bytes_sent", "delivered", "bytes_delivered")

    def __init__(self) -> None:
        self.sent = 0
        self.bytes_sent = 0
        self.delivered = 0
        self.bytes_delivered = 0

    def to_data(self) -> dict[str, int]:
        """The kind's counters as plain data."""
        return {k: getattr(self, k) for k in KindCounters.__slots__}

    def add(self, other: KindCounters | NodeKindCounters) -> None:
        """Add ``other``'s counts to these."""
        self.sent += other.sent
        self.bytes_sent += other.bytes_sent
        self.delivered += other.delivered
        self.bytes_delivered += other.bytes_delivered


#: positions of the four columns in :attr:`Metrics.columns` (the order of KindCounters' fields)
SENT, BYTES_SENT, DELIVERED, BYTES_DELIVERED = range(4)


def _cell_field(column: int) -> Any:
    """A read-write property on one column of a :class:`NodeKindCounters` cell."""

    def get(self: NodeKindCounters) -> int:
        return self._metrics.columns[column][self.index]

    def set_(self: NodeKindCounters, value: int) -> None:
        self._metrics.columns[column][self.index] = value

    return property(get, set_)


class NodeKindCounters:
    """A view of one node's cell for one message kind: ``sent`` as the sender of zone-sender
    pairs, ``delivered`` as their receiver. Reads and writes go to the metrics' columns."""

    __slots__ = ("_metrics", "index")

    def __init__(self, metrics: Metrics, index: int) -> None:
        self._metrics = metrics
        #: the cell's position in :attr:`Metrics.columns`
        self.index = index

    sent = _cell_field(SENT)
    bytes_sent = _cell_field(BYTES_SENT)
    delivered = _cell_field(DELIVERED)
    bytes_delivered = _cell_field(BYTES_DELIVERED)

    to_data = KindCounters.to_data


_COUNTS = {key: attrgetter(key) for key in KindCounters.__slots__}
_COLUMN_OF = {key: column for column, key in enumerate(KindCounters.__slots__)}


class Metrics:
    """All counters of one world."""

    def __init__(self) -> None:
        self.links: dict[tuple[str, str], LinkCounters] = {}
        #: node -> kind -> the index of the node's cell for that kind (never 0, so that a
        #: found index is true)
        self.nodes: dict[str, dict[str, int]] = {}
        #: sent, bytes_sent, delivered, bytes_delivered of every cell, by cell index; index 0
        #: belongs to no cell. Lists are mutated in place, never rebound (the network holds them).
        self.columns: tuple[list[int], list[int], list[int], list[int]] = ([0], [0], [0], [0])
        # the kind of each cell, by index
        self._cell_kinds: list[str] = [""]
        #: kind -> counters of the messages sent over links
        self.link_kinds: dict[str, KindCounters] = {}
        # kinds in the order first counted, so that kinds with no link counters are listed too
        self._kind_names: dict[str, None] = {}
        self.dropped: dict[str, int] = dict.fromkeys(DROP_CAUSES, 0)
        self.duplicated = 0
        self.ops_issued = 0
        self.ops_skipped = 0
        # Per-tick series: totals at each tick boundary; differences give per-tick rates.
        self.ticks: list[dict[str, int]] = []

    # Totals are sums over link kinds (few) and node cells, so the hot path counts once.
    def _total(self, key: str) -> int:
        get = _COUNTS[key]
        return sum(map(get, self.link_kinds.values())) + sum(self.columns[_COLUMN_OF[key]])

    @property
    def sent(self) -> int:
        return self._total("sent")

    @property
    def delivered(self) -> int:
        return self._total("delivered")

    @property
    def bytes_sent(self) -> int:
        return self._total("bytes_sent")

    @property
    def bytes_delivered(self) -> int:
        return self._total("bytes_delivered")

    @property
    def kinds(self) -> dict[str, KindCounters]:
        """Kind -> its counters summed over links and nodes (a fresh snapshot per read)."""
        out = {kind: KindCounters() for kind in self._kind_names}
        for kind, counters in self.link_kinds.items():
            out[kind].add(counters)
        for index in range(1, len(self._cell_kinds)):  # (index 0 belongs to no cell)
            out[self._cell_kinds[index]].add(NodeKindCounters(self, index))
        return out

    def link(self, src: str, dst: str) -> LinkCounters:
        counters = self.links.get((src, dst))
        if counters is None:
            counters = self.links[(src, dst)] = LinkCounters()
        return counters

    def node(self, node: str) -> dict[str, int]:
        """The node's cell indices by kind (the dict the network adds new kinds to with
        :meth:`cell`)."""
        cells = self.nodes.get(node)
        if cells is None:
            cells = self.nodes[node] = {}
        return cells

    def cell(self, node: str, kind: str) -> int:
        """The index in :attr:`columns` of ``node``'s cell for zone-sender messages of ``kind``."""
        cells = self.node(node)
        index = cells.get(kind)
        if index is None:
            index = cells[kind] = len(self._cell_kinds)
            self._cell_kinds.append(kind)
            for column in self.columns:
                column.append(0)
            self._kind_names.setdefault(kind)
        return index

    def node_kind(self, node: str, kind: str) -> NodeKindCounters:
        """The counters of ``node``'s zone-sender messages of ``kind``."""
        return NodeKindCounters(self, self.cell(node, kind))

    def kind(self, kind: str) -> KindCounters:
        """The counters of ``kind``'s messages sent over links."""
        counters = self.link_kinds.get(kind)
        if counters is None:
            counters = self.link_kinds[kind] = KindCounters()
            self._kind_names.setdefault(kind)
        return counters

    def roll_tick(self, tick: int) -> None:
        """Append the cumulative totals at the start of ``tick``."""
        self.ticks.append(
            {
                "tick": tick,
                "sent": self.sent,
                "delivered": self.delivered,
                "dropped": sum(self.dropped.values()),
                "bytes_sent": self.bytes_sent,
            }
        )

    def per_tick(self) -> list[dict[str, int]]:
        """Per-tick deltas of the cumulative series (what happened during each tick)."""
        out: list[dict[str, int]] = []
        prev = {"sent": 0, "delivered": 0, "dropped": 0, "bytes_sent": 0}
        for row in self.ticks:
            out.append({"tick": row["tick"], **{k: row[k] - prev[k] for k in prev}})
            prev = row
        return out

    def per_node(self) -> dict[str, dict[str, int]]:
        nodes: dict[str, dict[str, int]] = {}
        for (src, dst), c in sorted(self.links.items()):
            s = nodes.setdefault(src, dict.fromkeys(_NODE_KEYS, 0))
            d = nodes.setdefault(dst, dict.fromkeys(_NODE_KEYS, 0))
            s["sent"] += c.sent
            s["bytes_sent"] += c.bytes_sent
            d["received"] += c.delivered
            d["bytes_received"] += c.bytes_delivered
        sent, bytes_sent, delivered, bytes_delivered = self.columns
        for node, cells in self.nodes.items():
            row = nodes.setdefault(node, dict.fromkeys(_NODE_KEYS, 0))
            for index in cells.values():
                row["sent"] += sent[index]
                row["bytes_sent"] += bytes_sent[index]
                row["received"] += delivered[index]
                row["bytes_received"] += bytes_delivered[index]
        return dict(sorted(nodes.items()))

    def to_data(self) -> dict[str, Any]:
        """A plain, JSON-encodable copy of every counter, keys sorted."""
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "duplicated": self.duplicated,
            "dropped": dict(sorted(self.dropped.items())),
            "bytes_sent": self.bytes_sent,
            "bytes_delivered": self.bytes_delivered,
            "ops_issued": self.ops_issued,
            "ops_skipped": self.ops_skipped,
            "per_kind": {k: c.to_data() for k, c in sorted(self.kinds.items())},
            "per_link": {f"{s}->{d}": c.to_data() for (s, d), c in sorted(self.links.items())},
            "per_node": self.per_node(),
            "per_tick": self.per_tick(),
        }


_NODE_KEYS = ("sent", "bytes_sent", "received", "bytes_received")
