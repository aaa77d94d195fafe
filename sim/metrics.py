"""Message counters: totals, per link, per node, per message kind and per tick.

The hot path only does attribute and dict increments on objects the network keeps references
to. Links with a state of their own (see :mod:`sim.network`) count per link and per kind; pairs
served by a zone sender count once, in a :class:`NodeKindCounters` of the sender (sent) and of
the receiver (delivered) for the message's kind (a counter per pair would cost more than the
rest of a 100,000-node world). Totals, per-kind and per-node figures are sums taken when read:
a zone message costs two increments at each end instead of four.

>>> m = Metrics()
>>> c = m.link("a", "b")
>>> c.sent += 1; c.bytes_sent += 10
>>> m.to_data()["per_node"]["a"]["sent"]
1
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

    def add(self, other: KindCounters) -> None:
        """Add ``other``'s counts to these."""
        self.sent += other.sent
        self.bytes_sent += other.bytes_sent
        self.delivered += other.delivered
        self.bytes_delivered += other.bytes_delivered


class NodeKindCounters(KindCounters):
    """One node's messages of one kind over pairs that have no link counters of their own:
    ``sent`` as their sender, ``delivered`` as their receiver."""

    __slots__ = ()


_COUNTS = {key: attrgetter(key) for key in KindCounters.__slots__}


class Metrics:
    """All counters of one world."""

    def __init__(self) -> None:
        self.links: dict[tuple[str, str], LinkCounters] = {}
        #: node -> kind -> counters of the node's zone-sender pairs
        self.nodes: dict[str, dict[str, NodeKindCounters]] = {}
        #: kind -> counters of the messages sent over links
        self.link_kinds: dict[str, KindCounters] = {}
        # every NodeKindCounters, for totals summed in C (once per tick by roll_tick)
        self._cells: list[NodeKindCounters] = []
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
        return sum(map(get, self.link_kinds.values())) + sum(map(get, self._cells))

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
        for cells in self.nodes.values():
            for kind, counters in cells.items():
                out[kind].add(counters)
        return out

    def link(self, src: str, dst: str) -> LinkCounters:
        counters = self.links.get((src, dst))
        if counters is None:
            counters = self.links[(src, dst)] = LinkCounters()
        return counters

    def node(self, node: str) -> dict[str, NodeKindCounters]:
        """The node's counters by kind (the dict the network adds new kinds to with
        :meth:`node_kind`)."""
        cells = self.nodes.get(node)
        if cells is None:
            cells = self.nodes[node] = {}
        return cells

    def node_kind(self, node: str, kind: str) -> NodeKindCounters:
        """The counters of ``node``'s zone-sender messages of ``kind``."""
        cells = self.node(node)
        counters = cells.get(kind)
        if counters is None:
            counters = cells[kind] = NodeKindCounters()
            self._cells.append(counters)
            self._kind_names.setdefault(kind)
        return counters

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
        for node, cells in self.nodes.items():
            row = nodes.setdefault(node, dict.fromkeys(_NODE_KEYS, 0))
            for n in cells.values():
                row["sent"] += n.sent
                row["bytes_sent"] += n.bytes_sent
                row["received"] += n.delivered
                row["bytes_received"] += n.bytes_delivered
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
