"""DistributedData: replicators on a set of nodes, their key specs, and what they record.

One :class:`DistributedData` installs a :class:`~sim.replication.replicator.Replicator` on each
of its nodes, creates the propagation protocols its keys use, registers the quiescence hook
and the convergence and invariant checks, and records what the checks need: when each key
last changed where, and which updates were attempted and acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crdt import Crdt
from sim.errors import ConfigError, SimError
from sim.replication.protocol import protocol_named, protocols
from sim.replication.replicator import Replicator
from sim.replication.values import StoredValue, fingerprint
from sim.topology import ZonePeers
from sim.workload import Workload

if TYPE_CHECKING:
    import random

    from sim.node import Node
    from sim.world import World

__all__ = ["KeySpec", "DistributedData", "UpdateRecord", "random_workload"]


@dataclass(frozen=True, slots=True)
class KeySpec:
    """The CRDT type of a key and the protocol that propagates it."""

    type: type[Crdt[Any]]
    protocol: str = "delta"

    def __post_init__(self) -> None:
        if not (isinstance(self.type, type) and issubclass(self.type, Crdt)):
            raise ConfigError("key type", "must be a CRDT type from the crdt library", self.type)
        protocol_named(self.protocol)  # an unknown protocol fails here, naming the known ones


def _key_spec(key: str, given: KeySpec | type[Crdt[Any]] | str, protocol: str) -> KeySpec:
    """A key's spec from a :class:`KeySpec`, a CRDT type, or a CRDT type's name (``"ORSet"``)."""
    if isinstance(given, KeySpec):
        return given
    if isinstance(given, str):
        from crdt.codec import registered_types

        types = registered_types()
        if given not in types:
            raise ConfigError(f"keys.{key}", f"must name a CRDT type, one of {sorted(types)}", given)
        return KeySpec(types[given], protocol)
    return KeySpec(given, protocol)


@dataclass
class UpdateRecord:
    """One update issued at a replica: its mutations, and whether it was acknowledged."""

    key: str
    node: str
    #: the id the mutation was made under (the node id, or a fresh one after a volatile restart)
    replica: str
    time: float
    calls: list[tuple[str, tuple[Any, ...]]]
    acked: bool = False
    #: what carries the update in its protocol (an op record's id), if the protocol says
    ref: Any = None
    #: destroyed with every copy by crashes (reported by the protocol; volatile state only)
    lost: bool = False
    #: the request's id in the world's history (0 when not recorded there)
    request: int = 0


class DistributedData:
    """The replicated key-value store over ``nodes``.

    ``keys`` maps each declared key to a :class:`KeySpec`, a CRDT type or a type's name
    (``{"cart": "ORSet"}``); the last two use ``default_protocol``. ``replicator(node)`` is the
    node's :class:`~sim.replication.replicator.Replicator` (``update``, ``get``, ``subscribe`` …).
    ``protocol_options`` maps a protocol name to its options (see each protocol module).
    ``durable`` keeps replica states across crashes (in the node's durable store).
    Reads and writes above ``local`` reach replicas that are not neighbours hop by hop
    (:meth:`sim.node.Node.send_routed`); the protocols themselves talk to replica neighbours.
    """

    def __init__(
        self,
        world: World,
        nodes: Sequence[str],
        keys: Mapping[str, KeySpec | type[Crdt[Any]] | str] | None = None,
        *,
        default_protocol: str = "delta",
        protocol_options: Mapping[str, Mapping[str, Any]] | None = None,
        durable: bool = True,
        notify_every: int = 1,
        checks: bool = True,
        history: bool = False,
        route_requests: bool = True,
        check_connected: bool = True,
    ) -> None:
        self.world = world
        self._env = world.env
        self.node_ids = sorted(nodes)
        if len(set(self.node_ids)) != len(self.node_ids):
            raise ConfigError("replicas", "must name each node once", list(nodes))
        for node_id in self.node_ids:
            world.node(node_id)  # unknown nodes fail here, before the run
        known = protocols()
        if default_protocol not in known:
            raise ConfigError("default_protocol", f"must be one of {list(known)}", default_protocol)
        options = {name: dict(opts) for name, opts in (protocol_options or {}).items()}
        for name in options:
            if name not in known:
                raise ConfigError("protocol_options", f"keys must be among {list(known)}", name)
        self.default_protocol = default_protocol
        self.keys: dict[str, KeySpec] = {
            key: _key_spec(key, given, default_protocol) for key, given in (keys or {}).items()
        }
        self.durable = durable
        #: False sends requests only over direct links, which fails on a non-complete topology
        #: (a broken variant the tests must catch); True routes them hop by hop
        self.route_requests = route_requests
        #: False accepts replicas that are not connected through replica links, which then
        #: never replicate (a broken variant the tests must catch)
        self.check_connected = check_connected
        self.notify_every = notify_every
        self._replica_set = frozenset(self.node_ids)
        self._neighbours: dict[str, Sequence[str]] = {}
        # id of a zone's sorted member list -> (the list, whether every member is a replica)
        self._zones_of_replicas: dict[int, tuple[Sequence[str], bool]] = {}
        self._keys_for: dict[str, list[str]] = {}
        self._keys_for_size = -1
        self.last_change: dict[str, float] = {}
        #: with ``history=True``: (time, key, node, fingerprint of the new state) per change
        self.history: list[tuple[float, str, str, str]] | None = [] if history else None
        self.updates: list[UpdateRecord] = []
        self._by_ref: dict[Any, UpdateRecord] = {}
        self._protocol_state: dict[str, dict[str, Any]] = {}
        #: outcomes of the workload's requests: "writes_ok", "writes_failed", "reads_ok", …
        self.requests: dict[str, int] = {}
        used = sorted({spec.protocol for spec in self.keys.values()} | {default_protocol})
        classes = protocols()
        #: the protocols in use that cannot tell when they are done (see :meth:`pending`)
        self._unaware = [name for name in used if not classes[name].knows_when_done]
        self.replicators: dict[str, Replicator] = {}
        for node_id in self.node_ids:
            replicator = Replicator(world.node(node_id), self)
            for name in used:
                replicator.protocols[name] = classes[name](replicator, options.get(name, {}))
            self.replicators[node_id] = replicator
        world.add_pending(self.pending)
        world.add_validator(self.validate)
        if checks:
            from sim.replication.convergence import convergence_check, invariant_check

            world.add_check("convergence", convergence_check(self))
            world.add_check("invariants", invariant_check(self))

    def replicator(self, node_id: str) -> Replicator:
        """The replicator on ``node_id``; :class:`SimError` if the node hosts none."""
        try:
            return self.replicators[node_id]
        except KeyError:
            raise SimError(f"node {node_id!r} hosts no replicator; replicas are {self.node_ids}") from None

    def key_spec(self, key: str, type_: type[Crdt[Any]] | str | None = None) -> KeySpec:
        """The spec of ``key``; an unknown key is created with the default protocol."""
        if isinstance(type_, str):
            type_ = _key_spec(key, type_, self.default_protocol).type
        spec = self.keys.get(key)
        if spec is None:
            if type_ is None:
                raise SimError(f"unknown key {key!r}: update it with a type first, or declare it")
            spec = self.keys[key] = KeySpec(type_, self.default_protocol)
            for replicator in self.replicators.values():
                replicator.version += 1  # what a protocol sent or summarised may now differ
        elif type_ is not None and type_ is not spec.type:
            raise SimError(f"key {key!r} holds a {spec.type.type_name}, not a {type_.type_name}")
        return spec

    def keys_for(self, protocol: str) -> list[str]:
        """Sorted keys under ``protocol`` (asked every round by every node: cached until a key
        is added; keys are never removed, a deleted key keeps its spec)."""
        if self._keys_for_size != len(self.keys):
            self._keys_for, self._keys_for_size = {}, len(self.keys)
        cached = self._keys_for.get(protocol)
        if cached is None:
            cached = self._keys_for[protocol] = sorted(
                k for k, spec in self.keys.items() if spec.protocol == protocol)
        return cached

    def replica_neighbours(self, node_id: str) -> Sequence[str]:
        """Sorted neighbours of ``node_id`` that host a replicator (cached: topology is fixed).

        A zone's view (:class:`~sim.topology.ZonePeers`) whose members are all replicas is
        returned as it is, so a large zone costs no list per node."""
        cached = self._neighbours.get(node_id)
        if cached is None:
            neighbours = self.world.topology.neighbours(node_id)
            if isinstance(neighbours, ZonePeers) and self._all_replicas(neighbours.members):
                cached = neighbours
            else:
                cached = [n for n in neighbours if n in self._replica_set]
            self._neighbours[node_id] = cached
        return cached

    def _all_replicas(self, members: Sequence[str]) -> bool:
        known = self._zones_of_replicas.get(id(members))
        if known is None or known[0] is not members:
            known = self._zones_of_replicas[id(members)] = (members, self._replica_set.issuperset(members))
        return known[1]

    def validate(self) -> None:
        """Raise :class:`ConfigError` unless the replicas are connected through links between
        replicas: the protocols talk only to replica neighbours, so a replica cut off from the
        others (its path leads through nodes without a replicator) would never hear a change."""
        self._neighbours.clear()  # the topology may have changed since a first look
        self._zones_of_replicas.clear()
        if not self.node_ids or not self.check_connected:
            return
        reached, frontier = {self.node_ids[0]}, [self.node_ids[0]]
        zones_done: set[int] = set()  # a zone view reached once has added all its members
        while frontier:
            following = []
            for node in frontier:
                neighbours = self.replica_neighbours(node)
                if isinstance(neighbours, ZonePeers):
                    if id(neighbours.members) in zones_done:
                        continue
                    zones_done.add(id(neighbours.members))
                new = [n for n in neighbours if n not in reached]
                reached.update(new)
                following.extend(new)
            frontier = following
        if len(reached) < len(self.node_ids):
            cut_off = [n for n in self.node_ids if n not in reached]
            raise ConfigError(
                "nodes", "must form a connected graph through links between replicas",
                f"{cut_off[:5]} not reachable from {self.node_ids[0]} through replicas")

    def pending(self) -> bool:
        """Whether a replica still has work, or live replicas of a state-gossip key still differ."""
        if any(r.pending() for r in self.replicators.values()):
            return True
        # Gossip cannot know when everyone has heard; the simulator can, and keeps ticking.
        return any(self._differs(key) for name in self._unaware for key in self.keys_for(name))

    def _differs(self, key: str) -> bool:
        """Whether live replicas of ``key`` disagree (one that never heard of it counts too).

        Asked every quiet tick, mostly while the news is still spreading: it stops at the first
        replica whose fingerprint differs from the first one seen, instead of fingerprinting
        every replica."""
        first: str | None = None
        missing = False
        for replicator in self.replicators.values():
            if not replicator.node.up:
                continue
            value = replicator.states.get(key)
            if value is None:
                missing = True
                continue
            seen = fingerprint(value)
            if first is None:
                first = seen
            elif seen != first:
                return True
        return first is not None and missing

    # -- records for the checks -------------------------------------------------------------

    def note_change(self, key: str, node: str, value: StoredValue) -> None:
        """Note that ``key`` changed at ``node`` now (the convergence time is the last change)."""
        now = self._env._now  # (SimPy's clock itself: ``world.now`` is two property calls)
        self.last_change[key] = now
        if self.history is not None:
            self.history.append((now, key, node, fingerprint(value)))

    def record_update(self, key: str, node: str, calls: list[tuple[str, tuple[Any, ...]]],
                      ref: Any = None) -> UpdateRecord:
        """Record an update issued at ``node`` (the invariants check follows every one)."""
        record = UpdateRecord(key, node, self.replicator(node).replica_id, self.world.now, calls, ref=ref)
        self.updates.append(record)
        if isinstance(ref, tuple):  # an op record's id, by which the protocol may report it lost
            self._by_ref[ref] = record
        trace = self.world.trace
        if trace.enabled:  # the ops list is built only for a trace that keeps it
            trace.record("update", node=node, key=key, ops=[[n, list(a)] for n, a in calls])
        return record

    def count(self, kind: str, ok: bool) -> None:
        """Count one finished request of ``kind`` (``writes``, ``reads``) as ok or failed."""
        name = f"{kind}_{'ok' if ok else 'failed'}"
        self.requests[name] = self.requests.get(name, 0) + 1

    def record_ack(self, record: UpdateRecord) -> None:
        """Mark the update acknowledged to its writer: from now on it must not be lost."""
        record.acked = True

    def protocol_state(self, protocol: str) -> dict[str, Any]:
        """What a protocol shares between its replicas of this group: the simulator's view,
        for decisions a real system would take with a membership service."""
        return self._protocol_state.setdefault(protocol, {})

    def record_lost(self, ref: Any, key: str | None) -> None:
        """A protocol gave up what ``ref`` names (an op record): crashes destroyed every copy."""
        update = self._by_ref.get(ref)
        if update is not None and not update.lost:
            update.lost = True
        self.world.trace.record("lost", key=key if update is None else update.key,
                                ref=list(ref) if isinstance(ref, tuple) else ref)

    def lost_updates(self) -> list[UpdateRecord]:
        """Updates no live replica holds: given up by their protocol, or, with volatile state,
        held by no replica that is up (crashes destroyed every copy before it spread)."""
        if self.durable:
            return [u for u in self.updates if u.lost]
        live = [r for r in self.replicators.values() if r.node.up]

        def held(u: UpdateRecord) -> bool:
            protocol = self.keys[u.key].protocol
            return any(r.protocols[protocol].holds(u.key, u.ref) for r in live)

        return [u for u in self.updates if u.lost or (u.ref is not None and not held(u))]

    def states(self, key: str) -> dict[str, Any]:
        """The stored value of ``key`` at every replica that is up, by node id."""
        return {
            n: r.states.get(key) for n, r in self.replicators.items() if r.node.up
        }


def random_workload(
    dd: DistributedData,
    rate: Any,
    keys: Sequence[str] | None = None,
    nodes: Sequence[str] | None = None,
    write: Any = None,
    mode: str = "poisson",
    reads: float = 0.0,
    read: Any = None,
) -> Workload:
    """A workload that updates random keys of ``dd`` with plausible mutations of their types.

    A fraction ``reads`` of the operations are reads at consistency ``read`` instead. Add it
    with ``world.add_workload(...)``; it draws from the world's ``"workload"`` stream.
    """
    from sim.replication.consistency import Local
    from sim.replication.mutations import random_mutation

    chosen = sorted(keys or dd.keys)
    write_level, read_level = write or Local, read or Local

    def update(node: Node, _op: str, rng: random.Random) -> None:
        key = rng.choice(chosen)
        replicator = dd.replicator(node.id)
        if replicator.is_deleted(key):
            return
        name, args = random_mutation(replicator.current(key), node, rng)  # type: ignore[arg-type]
        request = replicator.update(key, dd.keys[key].type, lambda s: getattr(s, name)(*args), write=write_level)
        request.on_done(lambda result: dd.count("writes", result.ok))

    def get(node: Node, _op: str, rng: random.Random) -> None:
        request = dd.replicator(node.id).get(rng.choice(chosen), read=read_level)
        request.on_done(lambda result: dd.count("reads", result.ok))

    def issue(node: Node, op: str, rng: random.Random) -> None:
        (get if op == "read" else update)(node, op, rng)

    mix = {"update": 1.0 - reads, "read": reads} if reads else {"update": 1.0}
    return Workload(issue, rate=rate, mix=mix, nodes=nodes or dd.node_ids, mode=mode)
