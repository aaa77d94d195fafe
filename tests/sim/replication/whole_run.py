"""Whole replication runs drawn from the configuration space, judged by whole_run_oracle.

:func:`configs` draws everything a scenario can vary: the topology (complete, ring, line, star,
a random tree, random regular, small world) over 2-9 nodes, the replica subset, the protocol
and its options, the key types (every library type, ORMaps of sets and of maps of sets
included), read and write levels, durability, loss, duplication, reordering, symmetric and
one-way partitions, crashes with restarts, and the workload itself — every update is drawn
here, so a failure shrinks to a small run. :func:`check_run` builds and runs it and asserts
what the oracle demands; it raises AssertionError on any failure, a crash included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from hypothesis import strategies as st
from whole_run_oracle import COUNTERS, SETS, Issued, Oracle, observed_pairs

from crdt.codec import type_named
from sim.errors import ConfigError
from sim.faults import Crash, OneWay, Partition, Restart
from sim.replication import All, DistributedData, KeySpec, Majority, To
from sim.replication.consistency import Consistency, Local
from sim.world import World

TYPES = ("GCounter", "PNCounter", "CausalCounter", "GSet", "TwoPSet", "ORSet", "LWWRegister", "MVRegister",
         "LWWMap", "EWFlag", "DWFlag", "ORMap")
TOPOLOGIES = ("complete", "ring", "line", "star", "tree", "random_regular", "watts_strogatz")
PROTOCOLS = ("state", "delta", "op")
DURATION = 2.0
#: a broken type is judged as the library type it pretends to be
FAMILY = {"SummingCounter": "GCounter", "FirstWriterWins": "LWWRegister", "UncheckedGSet": "GSet"}
#: text elements sometimes carry a lone surrogate, which must be refused
TEXTS = ("a", "é", "\ud800")


@dataclass(frozen=True)
class Op:
    at: float
    node: int
    key: int
    choice: int  # what to do, read modulo the number of choices the type offers
    amount: int
    text: int


@dataclass(frozen=True)
class Config:
    seed: int
    nodes: int
    topology: str
    params: dict[str, Any]
    tree: tuple[int, ...]  # parent of node i+1 (index into the nodes), for the tree topology
    replicas: tuple[int, ...]
    protocol: str
    options: dict[str, Any]
    types: tuple[str, ...]
    write: tuple[str, int]
    read: tuple[str, int]
    durable: bool
    link: dict[str, Any]
    faults: tuple[tuple[Any, ...], ...]
    ops: tuple[Op, ...]
    reads: tuple[tuple[float, int, int], ...] = field(default=())


def _level(kind: str, n: int) -> Consistency:
    if kind == "local":
        return Local
    if kind == "to":
        return To(n, 0.5)
    return Majority(0.5) if kind == "majority" else All(0.5)


@st.composite
def configs(draw: st.DrawFn, protocols: tuple[str, ...] = PROTOCOLS, topologies: tuple[str, ...] = TOPOLOGIES,
            types: tuple[str, ...] = TYPES, durable: tuple[bool, ...] = (True, False),
            options: dict[str, Any] | None = None, faults: bool = True, levels: bool = True,
            busy: bool = False) -> Config:
    """A configuration; ``busy`` draws only large, lossy, crashing runs with many updates
    (where the rarer bugs live)."""
    n = draw(st.integers(5 if busy else 2, 9))
    topology = draw(st.sampled_from(topologies))
    params: dict[str, Any] = {}
    if topology == "random_regular":
        if n < 4:
            topology = "ring"
        else:
            d = draw(st.sampled_from([d for d in (2, 3, 4) if d < n and (n * d) % 2 == 0]))
            params = {"d": d}
    if topology == "watts_strogatz":
        if n < 4:
            topology = "line"
        else:
            params = {"k": draw(st.integers(2, min(4, n - 1))), "p": draw(st.sampled_from([0.1, 0.3]))}
    tree = tuple(draw(st.integers(0, i)) for i in range(n - 1))
    if draw(st.integers(0, 4)) == 0 and n > 2:  # sometimes a subset, which may be cut off
        replicas = tuple(sorted(draw(st.sets(st.integers(0, n - 1), min_size=2, max_size=n))))
    else:
        replicas = tuple(range(n))
    protocol = draw(st.sampled_from(protocols))
    opts: dict[str, Any] = {}
    if protocol == "state":
        opts = {"mode": draw(st.sampled_from(["push", "pull", "push-pull"])), "fanout": draw(st.integers(1, 3))}
    elif protocol == "delta":
        opts = {"bp": draw(st.booleans()), "rr": draw(st.booleans())}
    opts.update(options or {})
    key_types = tuple(draw(st.lists(st.sampled_from(types), min_size=1, max_size=3)))
    level = st.tuples(st.sampled_from(["local", "to", "majority", "all"] if levels else ["local"]),
                      st.integers(1, len(replicas)))
    link = {
        "latency": {"exponential": {"mean": draw(st.sampled_from(["5ms", "30ms", "80ms"]))}},  # reorders
        "loss": draw(st.sampled_from([0.1, 0.3] if busy else [0.0, 0.0, 0.1, 0.3])) if faults else 0.0,
        "duplicate": draw(st.sampled_from([0.0, 0.1])) if faults else 0.0,
        "fifo": draw(st.booleans()),
    }
    drawn_faults = []
    for index in range(draw(st.integers(1 if busy else 0, 3)) if faults else 0):
        kind = "crash" if busy and index == 0 else draw(st.sampled_from(["partition", "one-way", "crash"]))
        at = draw(st.integers(1, 15)) / 10
        length = draw(st.integers(1, 6)) / 10
        node = draw(st.integers(0, n - 1))
        drawn_faults.append((kind, at, length, node, draw(st.integers(0, n - 1))))
    ops = tuple(draw(st.lists(
        st.builds(Op, st.integers(0, 19).map(lambda t: t / 10 + 0.01), st.integers(0, n - 1),
                  st.integers(0, 2), st.integers(0, 5), st.integers(1, 3), st.integers(0, len(TEXTS) - 1)),
        min_size=40 if busy else 1, max_size=80 if busy else 25)))
    reads = tuple(draw(st.lists(st.tuples(st.integers(0, 19).map(lambda t: t / 10 + 0.05), st.integers(0, n - 1),
                                          st.integers(0, 2)), max_size=4)))
    return Config(draw(st.integers(0, 2**16)), n, topology, params, tree, replicas, protocol, opts, key_types,
                  draw(level), draw(level), draw(st.sampled_from(durable)), link, tuple(drawn_faults), ops, reads)


# -- building -----------------------------------------------------------------------------------


def _graph(cfg: Config, world: World, names: list[str]) -> None:
    if cfg.topology == "tree":
        world.add_edges([(names[parent], names[i + 1]) for i, parent in enumerate(cfg.tree)])
    else:
        world.connect(names, cfg.topology, **cfg.params)


def _faults(cfg: Config, names: list[str]) -> list[Any]:
    faults: list[Any] = []
    down_until: dict[str, float] = {}
    for kind, at, length, i, j in cfg.faults:
        a, b = i % len(names), j % len(names)
        if kind == "partition":
            faults.append(Partition(at=at, groups=((names[a],),), duration=length))
        elif kind == "one-way" and a != b:
            faults.append(OneWay(at=at, srcs=(names[a],), dsts=(names[b],), duration=length))
        elif kind == "crash" and down_until.get(names[a], -1.0) < at:
            faults.append(Crash(at=at, node=names[a]))
            back = round(min(at + length, DURATION - 0.1), 3)
            faults.append(Restart(at=back, node=names[a]))
            down_until[names[a]] = back
    return faults


def _connected(cfg: Config, world: World, replicas: list[str]) -> bool:
    """Whether the replicas are connected through each other (networkx, not the simulator)."""
    graph = nx.Graph(world.topology.graph.subgraph(replicas))
    graph.add_nodes_from(replicas)
    return nx.is_connected(graph) and nx.is_connected(world.topology.graph)


@dataclass
class Run:
    world: World
    dd: DistributedData
    oracle: Oracle
    keys: list[str]


def build(cfg: Config, group: dict[str, Any] | None = None) -> Run | None:
    """The world of ``cfg``, or None when it must be (and was) rejected before running."""
    world = World(seed=cfg.seed, tick="100ms", default_link=cfg.link)
    names = world.add_nodes("dc", cfg.nodes)
    _graph(cfg, world, names)
    replicas = [names[i] for i in cfg.replicas]
    keys = [f"k{i}-{t}" for i, t in enumerate(cfg.types)]
    protocol_options = {cfg.protocol: dict(cfg.options)} if cfg.options else None
    specs = {k: KeySpec(type_named(t), cfg.protocol) for k, t in zip(keys, cfg.types, strict=True)}
    dd = DistributedData(world, replicas, specs,
                         default_protocol=cfg.protocol, protocol_options=protocol_options, durable=cfg.durable,
                         **(group or {}))
    faults = _faults(cfg, replicas)
    world.set_faults(faults)
    connected = _connected(cfg, world, replicas)
    try:
        world.validate(DURATION)
    except ConfigError:
        assert not connected, "a connected configuration was rejected"
        return None
    assert connected, "replicas cut off from each other were accepted"
    oracle = Oracle({k: FAMILY.get(t, t) for k, t in zip(keys, cfg.types, strict=True)})
    for f in faults:
        if isinstance(f, Crash):
            oracle.crashes.setdefault(f.node, []).append(f.at)
    run = Run(world, dd, oracle, keys)
    write, read = _level(*cfg.write), _level(*cfg.read)
    for op in cfg.ops:
        world.schedule(op.at, lambda op=op: _issue(run, cfg, replicas[op.node % len(replicas)], op, write))
    for at, node, key in cfg.reads:
        world.schedule(at, lambda node=node, key=key: _read(run, replicas[node % len(replicas)], keys[key % len(keys)],
                                                            read))
    return run


def _read(run: Run, node: str, key: str, level: Consistency) -> None:
    if run.world.node(node).up:
        run.dd.replicator(node).get(key, read=level)


# -- the workload: every update chosen here, recorded by the oracle ------------------------------


def _issue(run: Run, cfg: Config, node: str, op: Op, level: Consistency) -> None:
    if not run.world.node(node).up:
        return
    key = run.keys[op.key % len(run.keys)]
    type_name = run.oracle.types[key]
    replicator = run.dd.replicator(node)
    shown = replicator.value(key)
    oracle, now = run.oracle, run.world.now
    issued: Issued | None = None
    calls: list[tuple[str, tuple[Any, ...]]]
    text: str | None = None
    if type_name in COUNTERS:
        down = type_name != "GCounter" and op.choice % 2 == 1
        calls = [("decrement" if down else "increment", (op.amount,))]
        issued = Issued(key, node, now, "count", -op.amount if down else op.amount, shown)
    elif type_name in SETS or type_name == "ORMap":
        pairs = sorted(observed_pairs(type_name, shown), key=repr)
        path = _path(type_name, op)
        removable = type_name != "GSet" and op.choice >= 3 and pairs
        if removable:
            target_path, element = pairs[op.amount % len(pairs)]
            target: Any = None
            if type_name == "ORMap":
                scope = target_path[: 1 + op.choice % len(target_path)]
                calls = [_map_call(scope, None, element)]
            elif type_name == "ORSet" and op.choice == 5:
                scope, calls = (), [("clear", ())]
            else:
                scope, target, calls = (), element, [("remove", (element,))]
            issued = Issued(key, node, now, "remove", (scope, target), frozenset(pairs))
        else:
            text = TEXTS[op.text]
            token = f"{text}{oracle.fresh()}"
            calls = [_map_call(path, token, None)] if type_name == "ORMap" else [("add", (token,))]
            issued = Issued(key, node, now, "add", (path, token), frozenset(pairs))
    elif type_name == "MVRegister":
        value = f"v{oracle.fresh()}"
        calls = [("set", (value,))]
        issued = Issued(key, node, now, "write", value, frozenset(shown or ()))
    elif type_name == "LWWRegister":
        stamp = oracle.fresh()
        calls = [("set", (f"v{stamp}", stamp))]
        issued = Issued(key, node, now, "write", (None, f"v{stamp}", stamp), shown)
    elif type_name == "LWWMap":
        stamp, entry = oracle.fresh(), f"m{op.amount}"
        delete = op.choice >= 4
        calls = [("delete", (entry, stamp)) if delete else ("set", (entry, f"v{stamp}", stamp))]
        issued = Issued(key, node, now, "write", (entry, None if delete else f"v{stamp}", stamp), shown)
    else:  # flags
        kind = "disable" if op.choice % 2 else "enable"
        calls = [(kind, ())]
        issued = Issued(key, node, now, kind, None, shown)

    def update() -> None:
        replicator.update(key, run.dd.keys[key].type, lambda s: [getattr(s, n)(*a) for n, a in calls], write=level)

    before = len(run.dd.updates)
    if oracle.attempt(update, text):
        assert len(run.dd.updates) == before + 1
        issued.record = run.dd.updates[-1]
        oracle.issued.append(issued)


def _path(type_name: str, op: Op) -> tuple[Any, ...]:
    """Where an add goes: a set directly under a map key ``s*``, or under ``m*`` -> ``b*``
    (a key's name fixes its nested type, so no update is refused for holding another)."""
    if type_name != "ORMap":
        return ()
    return (f"s{op.choice % 2}",) if op.amount < 3 else (f"m{op.choice % 2}", f"b{op.amount % 2}")


def _map_call(path: tuple[Any, ...], token: Any, removed: Any) -> tuple[str, tuple[Any, ...]]:
    """The ORMap call that adds ``token`` at ``path`` (a set under one or two map levels), or,
    with ``token`` None, removes ``path`` (a key, or a key of the nested map)."""
    if token is None:
        if len(path) == 1:
            return ("remove", (path[0],))
        return ("update", (path[0], "ORMap", "remove", path[1]))
    if len(path) == 1:
        return ("update", (path[0], "ORSet", "add", token))
    return ("update", (path[0], "ORMap", "update", path[1], "ORSet", "add", token))


# -- judging ------------------------------------------------------------------------------------


def check_run(cfg: Config, group: dict[str, Any] | None = None) -> None:
    """Build and run ``cfg``; AssertionError unless every live replica holds the exact value."""
    try:
        run = build(cfg, group)
        if run is None:
            return
        result = run.world.run(duration=DURATION, quiet_max=400)
    except AssertionError:
        raise
    except Exception as error:  # a crash of the run is a failure like any other
        raise AssertionError(f"the run died: {type(error).__name__}: {error}") from error
    quiet = next((c for c in result.checks if c.name == "quiescence"), None)
    assert quiet is None or quiet.ok, "the run never went quiet"
    lost = {id(u) for u in run.dd.lost_updates()}
    kept = run.oracle.survivors(lost, cfg.durable)
    for key in run.keys:
        expected = run.oracle.expected(key, kept)
        for node, replicator in sorted(run.dd.replicators.items()):
            if replicator.node.up:
                actual = replicator.value(key)
                assert run.oracle.matches(key, expected, actual), (key, node, expected, actual)
