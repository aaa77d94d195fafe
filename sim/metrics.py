"""Message counters: totals, per link, per node, per message kind and per tick.

The hot path only does attribute and dict increments on objects the network keeps references
to. Links with a state of their own (see :mod:`sim.network`) count per link; pairs served by a
zone sender count at their two nodes only (a counter per pair would cost more than the rest of
a 100,000-node world). Per-node figures are both summed when a snapshot is taken.

>>> m = Metrics()
>>> c = m.link("a", "b")
>>> c.sent += 1; c.bytes_sent += 10
>>> m.to_data()["per_node"]["a"]["sent"]
1
"""

from __future__ import annotations

from typing import Any

__all__ = ["DROP_CAUSES", "KindCounters", "LinkCounters", "Metrics", "NodeCounters"]

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


class NodeCounters:
    """What one node sent and received over pairs that have no link counters of their own."""

    __slots__ = ("sent", "bytes_sent", "received", "bytes_received")

    def __init__(self) -> None:
        self.sent = 0
        self.bytes_sent = 0
        self.received = 0
        self.bytes_received = 0


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
        return {k: getattr(self, k) for k in self.__slots__}


class Metrics:
    """All counters of one world."""

    def __init__(self) -> None:
        self.links: dict[tuple[str, str], LinkCounters] = {}
        self.nodes: dict[str, NodeCounters] = {}
        self.kinds: dict[str, KindCounters] = {}
        self.dropped: dict[str, int] = dict.fromkeys(DROP_CAUSES, 0)
        self.duplicated = 0
        self.ops_issued = 0
        self.ops_skipped = 0
        # Per-tick series: totals at each tick boundary; differences give per-tick rates.
        self.ticks: list[dict[str, int]] = []

    # Totals are sums over message kinds (few), so the hot path counts each message once.
    @property
    def sent(self) -> int:
        return sum(c.sent for c in self.kinds.values())

    @property
    def delivered(self) -> int:
        return sum(c.delivered for c in self.kinds.values())

    @property
    def bytes_sent(self) -> int:
        return sum(c.bytes_sent for c in self.kinds.values())

    @property
    def bytes_delivered(self) -> int:
        return sum(c.bytes_delivered for c in self.kinds.values())

    def link(self, src: str, dst: str) -> LinkCounters:
        counters = self.links.get((src, dst))
        if counters is None:
            counters = self.links[(src, dst)] = LinkCounters()
        return counters

    def node(self, node: str) -> NodeCounters:
        counters = self.nodes.get(node)
        if counters is None:
            counters = self.nodes[node] = NodeCounters()
        return counters

    def kind(self, kind: str) -> KindCounters:
        counters = self.kinds.get(kind)
        if counters is None:
            counters = self.kinds[kind] = KindCounters()
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
        for node, n in self.nodes.items():
            row = nodes.setdefault(node, dict.fromkeys(_NODE_KEYS, 0))
            row["sent"] += n.sent
            row["bytes_sent"] += n.bytes_sent
            row["received"] += n.received
            row["bytes_received"] += n.bytes_received
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
