"""Who can talk to whom: node links (an adjacency map) plus zone-to-zone channels.

Within a group of nodes a named generator (``ring``, ``random_regular`` ...) or explicit edges
build links; :data:`KINDS` is the registry of generators by name (add one with
:func:`register_kind`), which the scenario schema reads. Between zones,
:meth:`Topology.connect_zones` records one entry meaning "every node of zone A can talk to
every node of zone B" without materializing the N x M edges; the neighbours of a node that only
has such a channel within its own zone are a view of the zone's sorted members
(:class:`ZonePeers`), not a list per node, so a 100,000-node zone costs one list. networkx is
imported only to run a generator, or when :attr:`Topology.graph` is read.

>>> t = Topology()
>>> for n in ["a", "b", "c", "d"]:
...     t.add_node(n, "z")
>>> t.connect(["a", "b", "c", "d"], "ring")
>>> t.neighbours("a")
['b', 'd']
>>> t.add_node("x", "edge"); t.connect_zones("z", "edge", channel="wan")
>>> t.neighbours("x"), t.channel("x", "a")
(['a', 'b', 'c', 'd'], 'wan')
"""

from __future__ import annotations

import bisect
import importlib
import math
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from sim.errors import ConfigError

if TYPE_CHECKING:
    import networkx as nx
else:
    class _Networkx:
        """networkx, imported when a generator first uses it (importing it costs a run that
        needs no generator about a third of a second)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(importlib.import_module("networkx"), name)

    nx = _Networkx()

__all__ = ["KINDS", "Topology", "TopologyKind", "ZonePeers", "register_kind"]

#: a generator: (node count, its parameters, a seed) -> a graph over nodes 0..n-1
Generator = Callable[[int, dict[str, Any], int], "nx.Graph"]


@dataclass(frozen=True)
class TopologyKind:
    """A named way to connect a group of nodes, and the parameters it accepts."""

    name: str
    generate: Generator
    params: tuple[str, ...] = ()


#: every topology kind by name, in the order they are offered (the scenario schema reads it)
KINDS: dict[str, TopologyKind] = {}


def register_kind(name: str, params: Sequence[str] = ()) -> Callable[[Generator], Generator]:
    """Decorator: offer a generator as topology kind ``name`` accepting ``params``."""

    def add(generate: Generator) -> Generator:
        if name in KINDS and KINDS[name].generate is not generate:
            raise ConfigError("topology kind", "must have a name no other kind has", name)
        KINDS[name] = TopologyKind(name, generate, tuple(params))
        return generate

    return add


def _params(kind: str, params: dict[str, Any], allowed: Sequence[str]) -> None:
    for key in sorted(params):
        if key not in allowed:
            raise ConfigError(f"topology {kind}", f"accepts only parameters {list(allowed)}", key)


def _int_param(kind: str, params: dict[str, Any], key: str, low: int, high: int) -> int:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"topology {kind}: {key}", f"must be an integer in [{low}, {high}]",
                          value)
    return value


@register_kind("complete")
def _complete(n: int, params: dict[str, Any], seed: int) -> nx.Graph:
    return nx.complete_graph(n)


@register_kind("ring")
def _ring(n: int, params: dict[str, Any], seed: int) -> nx.Graph:
    return nx.cycle_graph(n) if n > 2 else nx.path_graph(n)


@register_kind("star")
def _star(n: int, params: dict[str, Any], seed: int) -> nx.Graph:
    return nx.star_graph(n - 1) if n > 0 else nx.empty_graph(0)


@register_kind("line")
def _line(n: int, params: dict[str, Any], seed: int) -> nx.Graph:
    return nx.path_graph(n)


@register_kind("grid", ("cols",))
def _grid(n: int, params: dict[str, Any], seed: int) -> nx.Graph:
    cols = params.get("cols", max(1, math.isqrt(n)))
    cols = _int_param("grid", {"cols": cols}, "cols", 1, max(1, n))
    g = nx.empty_graph(n)
    for i in range(n):
        if (i + 1) % cols and i + 1 < n:
            g.add_edge(i, i + 1)
        if i + cols < n:
            g.add_edge(i, i + cols)
    return g


@register_kind("random_regular", ("d",))
def _random_regular(n: int, params: dict[str, Any], seed: int) -> nx.Graph:
    d = _int_param("random_regular", params, "d", 1, max(1, n - 1))
    if (n * d) % 2:
        raise ConfigError("topology random_regular: d", "times the node count must be even", d)
    return nx.random_regular_graph(d, n, seed=seed)


@register_kind("watts_strogatz", ("k", "p"))
def _watts_strogatz(n: int, params: dict[str, Any], seed: int) -> nx.Graph:
    k = _int_param("watts_strogatz", params, "k", 2, max(2, n - 1))
    p = params.get("p")
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
        raise ConfigError("topology watts_strogatz: p", "must be a probability in [0, 1]", p)
    return nx.connected_watts_strogatz_graph(n, k, p, seed=seed)


@register_kind("barabasi_albert", ("m",))
def _barabasi_albert(n: int, params: dict[str, Any], seed: int) -> nx.Graph:
    m = _int_param("barabasi_albert", params, "m", 1, max(1, n - 1))
    return nx.barabasi_albert_graph(n, m, seed=seed)


def _generate(kind: str, n: int, params: dict[str, Any], rng: random.Random) -> nx.Graph:
    seed = rng.randrange(2**32)  # drawn for every kind, so a kind's choice never shifts the stream
    if kind not in KINDS:
        raise ConfigError("topology", f"must be one of {sorted(KINDS)}", kind)
    _params(kind, params, KINDS[kind].params)
    return KINDS[kind].generate(n, params, seed)


class ZonePeers(Sequence[str]):
    """Every member of a zone but one, in sorted order: a view over one shared sorted list.

    It indexes, slices, iterates and compares like the list it stands for (``random.sample``
    draws the same elements from it), at the cost of one integer per node.

    >>> peers = ZonePeers(["a", "b", "c", "d"], "b")
    >>> list(peers), peers[1], len(peers), peers == ["a", "c", "d"], "b" in peers
    (['a', 'c', 'd'], 'c', 3, True, False)
    """

    __slots__ = ("members", "node", "_at")

    def __init__(self, members: Sequence[str], node: str) -> None:
        self.members = members  # sorted; shared by every view of the zone
        self.node = node
        at = bisect.bisect_left(members, node)
        self._at = at if at < len(members) and members[at] == node else len(members)

    def __len__(self) -> int:
        return len(self.members) - (self._at < len(self.members))

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("ZonePeers index out of range")
        return self.members[index + (index >= self._at)]

    def __iter__(self) -> Iterator[str]:
        at = self._at
        yield from self.members[:at]
        yield from self.members[at + 1:]

    def __contains__(self, node: object) -> bool:
        if node == self.node or not isinstance(node, str):
            return False
        at = bisect.bisect_left(self.members, node)
        return at < len(self.members) and self.members[at] == node

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ZonePeers):
            return self.members == other.members and self.node == other.node
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))

    def skipping(self) -> tuple[Sequence[str], int]:
        """The zone's shared member list and the index of the member left out (the list's
        length if none): item ``i`` of the view is ``members[i + (i >= at)]``, for a caller
        that indexes many times without a call each.

        >>> members, at = ZonePeers(["a", "b", "c"], "b").skipping()
        >>> [members[i + (i >= at)] for i in range(2)]
        ['a', 'c']
        """
        return self.members, self._at


class Topology:
    """Nodes, their zones, links between nodes (with an optional channel type) and zone
    channels."""

    def __init__(self) -> None:
        #: node -> neighbour -> channel type of the link (None: no type), both directions
        self._adj: dict[str, dict[str, str | None]] = {}
        self._zone_of: dict[str, str] = {}
        self._zones: dict[str, list[str]] = {}
        # (zone_a, zone_b) -> channel type (None: the default model); stored both ways.
        self._zone_channels: dict[tuple[str, str], str | None] = {}
        self._neighbours: dict[str, Sequence[str]] = {}
        #: zone -> its members, sorted (the lists :class:`ZonePeers` views share)
        self._sorted_zones: dict[str, list[str]] = {}
        #: destination -> hop distance of every node that can reach it (cached like neighbours)
        self._distances: dict[str, dict[str, int]] = {}

    @property
    def graph(self) -> nx.Graph:
        """The links as a networkx graph (built when asked; zone channels are not in it)."""
        import networkx as nx

        graph = nx.Graph()
        for node, adjacent in self._adj.items():
            graph.add_node(node)
            for other, channel in adjacent.items():
                graph.add_edge(node, other, channel=channel)
        return graph

    def edges(self) -> list[tuple[str, str]]:
        """Every link once, as ``(a, b)`` with ``a < b``, sorted."""
        return sorted((a, b) for a, adjacent in self._adj.items() for b in adjacent if a < b)

    # -- nodes and zones -------------------------------------------------------------------

    def add_node(self, node: str, zone: str) -> None:
        if node in self._zone_of:
            raise ConfigError("node", "must be a new node id", node)
        self._zone_of[node] = zone
        self._zones.setdefault(zone, []).append(node)
        self._changed()

    def zone_of(self, node: str) -> str:
        return self._zone_of[node]

    def has_node(self, node: str) -> bool:
        return node in self._zone_of

    def has_zone(self, zone: str) -> bool:
        return zone in self._zones

    @property
    def zones(self) -> list[str]:
        """Zone names in creation order."""
        return list(self._zones)

    def nodes_in(self, zone: str) -> list[str]:
        if zone not in self._zones:
            raise ConfigError("zone", f"must be one of {sorted(self._zones)}", zone)
        return list(self._zones[zone])

    # -- links -----------------------------------------------------------------------------

    def _check_node(self, node: str, param: str) -> None:
        if node not in self._zone_of:
            raise ConfigError(param, "must name a known node", node)

    def add_edges(self, edges: Iterable[tuple[str, str]], channel: str | None = None) -> None:
        """Add undirected links between named nodes; self-links and unknown nodes are errors."""
        for a, b in edges:
            self._check_node(a, "edge")
            self._check_node(b, "edge")
            if a == b:
                raise ConfigError("edge", "must join two different nodes", f"{a}-{b}")
            self._adj.setdefault(a, {})[b] = channel
            self._adj.setdefault(b, {})[a] = channel
        self._changed()

    def connect(self, nodes: Sequence[str], kind: str, channel: str | None = None,
                rng: random.Random | None = None, **params: Any) -> None:
        """Link ``nodes`` (in the given order) with the named generator.

        ``rng`` seeds the random generators (networkx ``seed=``); pass a named world stream.
        """
        for node in nodes:
            self._check_node(node, f"topology {kind}")
        graph = _generate(kind, len(nodes), dict(params), rng or random.Random(0))
        self.add_edges(((nodes[a], nodes[b]) for a, b in sorted(graph.edges())), channel)
        for node in nodes:
            self._adj.setdefault(node, {})

    def connect_zones(self, zone_a: str, zone_b: str, channel: str | None = None) -> None:
        """Every node of ``zone_a`` can talk to every node of ``zone_b`` (and back).

        With ``zone_a == zone_b`` the zone is a complete graph, stored as one entry.
        """
        for zone in (zone_a, zone_b):
            if zone not in self._zones:
                raise ConfigError("channel zone", f"must be one of {sorted(self._zones)}", zone)
        self._zone_channels[(zone_a, zone_b)] = channel
        self._zone_channels[(zone_b, zone_a)] = channel
        self._changed()

    def connected(self, src: str, dst: str) -> bool:
        """True if ``src`` may send to ``dst``."""
        if src == dst:
            return False
        if (self._zone_of[src], self._zone_of[dst]) in self._zone_channels:
            return True
        adjacent = self._adj.get(src)
        return adjacent is not None and dst in adjacent

    def channel(self, src: str, dst: str) -> str | None:
        """The channel type of the link (edge attribute first, then the zone channel)."""
        channel = self._adj.get(src, {}).get(dst)
        if channel is not None:
            return channel
        return self._zone_channels.get((self._zone_of[src], self._zone_of[dst]))

    def channel_types(self) -> list[str]:
        """Every channel type named by an edge or a zone channel, sorted."""
        names = {c for c in self._zone_channels.values() if c is not None}
        names.update(c for adjacent in self._adj.values() for c in adjacent.values() if c is not None)
        return sorted(names)

    def neighbours(self, node: str) -> Sequence[str]:
        """Sorted ids of every node ``node`` can send to (cached until the topology changes).

        A node whose only links are its own zone's channel gets a :class:`ZonePeers` view;
        any other a list."""
        cached = self._neighbours.get(node)
        if cached is not None:
            return cached
        self._check_node(node, "neighbours")
        zone = self._zone_of[node]
        channels = [zb for (za, zb) in self._zone_channels if za == zone]
        adjacent = self._adj.get(node)
        if channels == [zone] and not adjacent:
            members = self._sorted_zones.get(zone)
            if members is None:
                members = self._sorted_zones[zone] = sorted(self._zones[zone])
            result: Sequence[str] = ZonePeers(members, node)
        else:
            found: set[str] = set(adjacent or ())
            for zb in channels:
                found.update(self._zones[zb])
            found.discard(node)
            result = sorted(found)
        self._neighbours[node] = result
        return result

    def _changed(self) -> None:
        self._neighbours.clear()
        self._sorted_zones.clear()
        self._distances.clear()

    # -- routes ----------------------------------------------------------------------------

    def distances_to(self, dst: str) -> dict[str, int]:
        """Hop distance to ``dst`` of every node that can reach it (breadth-first, cached)."""
        cached = self._distances.get(dst)
        if cached is not None:
            return cached
        self._check_node(dst, "route")
        found, frontier = {dst: 0}, [dst]
        while frontier:
            following = []
            for node in frontier:
                # Links are symmetric here, so who ``node`` can send to can send to ``node``.
                for neighbour in self.neighbours(node):
                    if neighbour not in found:
                        found[neighbour] = found[node] + 1
                        following.append(neighbour)
            frontier = following
        self._distances[dst] = found
        return found

    def next_hop(self, src: str, dst: str) -> str | None:
        """The neighbour of ``src`` on a shortest path to ``dst`` (the smallest id among equally
        short ones, so routes are deterministic); None when ``dst`` is unreachable."""
        if self.connected(src, dst):
            return dst
        distances = self.distances_to(dst)
        here = distances.get(src)
        if here is None:
            return None
        return next(n for n in self.neighbours(src) if distances.get(n) == here - 1)

    # -- validation ------------------------------------------------------------------------

    def validate(self, require_connected: bool = True) -> None:
        """Raise :class:`ConfigError` if the graph names unknown nodes or is disconnected."""
        for node in sorted(self._adj, key=str):
            self._check_node(node, "topology")
        if not require_connected or len(self._zone_of) <= 1:
            return
        parent: dict[str, str] = {n: n for n in self._zone_of}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)

        for (za, zb) in sorted(self._zone_channels):
            members = self._zones[za] + self._zones[zb]
            if za != zb and (len(self._zones[za]) + len(self._zones[zb])) and members:
                for m in members[1:]:
                    union(members[0], m)
            elif za == zb and len(self._zones[za]) > 1:
                for m in members[1:]:
                    union(members[0], m)
        for a, adjacent in self._adj.items():
            for b in adjacent:
                union(a, b)
        roots = sorted({find(n) for n in self._zone_of})
        if len(roots) > 1:
            cut_off = sorted(n for n in self._zone_of if find(n) != roots[0])
            raise ConfigError(
                "topology", "must connect every node (the graph is disconnected)",
                f"{len(roots)} components; not reachable from {roots[0]}: {cut_off[:5]}",
            )
