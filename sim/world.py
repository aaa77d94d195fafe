"""The World: one seed, one SimPy clock, nodes in zones, a topology, a network, and a run.

>>> w = World(seed=42, tick="100ms")
>>> w.add_nodes("server", 3)
['server-1', 'server-2', 'server-3']
>>> w.connect("server", "ring")
>>> w.node("server-1").neighbours()
['server-2', 'server-3']
>>> w.run(duration="1s").ok
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import simpy

from sim.checks import Check
from sim.errors import ConfigError, SimError
from sim.faults import Fault, FaultSchedule, apply_fault
from sim.history import History
from sim.metrics import Metrics
from sim.network import LinkModel, Network
from sim.node import Node
from sim.rng import RngRegistry
from sim.topology import Topology
from sim.trace import Trace
from sim.units import parse_duration
from sim.workload import Workload

if TYPE_CHECKING:
    from sim.runloop import RunResult

__all__ = ["GC_AUTO_NODES", "GC_MODES", "World"]

GC_MODES: tuple[str, ...] = ("auto", "on", "off")
#: with gc="auto", worlds of at least this many nodes run with the cyclic GC disabled
GC_AUTO_NODES = 1000


class World:
    """A simulated distributed system. Build it, then call :meth:`run` once."""

    def __init__(self, seed: int = 0, tick: Any = "100ms", trace: str = "digest",
                 default_link: LinkModel | Mapping[str, Any] | None = None,
                 gc: str = "auto") -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError("seed", "must be an integer", seed)
        if gc not in GC_MODES:
            raise ConfigError("gc", f"must be one of {list(GC_MODES)}", gc)
        #: Python's cyclic garbage collector during :meth:`run`: "on" leaves it alone, "off"
        #: disables it for the run (and restores it after), "auto" is "off" for worlds of at
        #: least ``GC_AUTO_NODES`` nodes. See docs/engine.md.
        self.gc = gc
        self.seed = seed
        self.tick = parse_duration(tick, "tick")
        if self.tick <= 0:
            raise ConfigError("tick", "must be a positive duration", tick)
        self.env = simpy.Environment()
        self.rng = RngRegistry(seed)
        self.topology = Topology()
        self.metrics = Metrics()
        self.trace = Trace(lambda: self.env.now, trace)
        self.history = History(lambda: self.env.now)
        self._nodes: dict[str, Node] = {}
        self.network = Network(
            self.env, self._nodes, self.topology, self.metrics, self.trace, self.rng,
            LinkModel.from_data(default_link) if default_link is not None else None,
        )
        self.faults = FaultSchedule()
        #: every fault event applied (fault, heal, crash, restart) in order: see :meth:`record_fault`
        self.fault_log: list[dict[str, Any]] = []
        self.workloads: list[Workload] = []
        self.checks: list[tuple[str, Check]] = []
        self._pending: list[Callable[[], bool]] = []
        self._validators: list[Callable[[], None]] = []
        self._at_end: list[Callable[[], None]] = []
        # (node id, registration number, every, node, task): sorted so ticks run in node order
        self._tasks: list[tuple[str, int, int, Node, Callable[[], None]]] = []
        self._tasks_sorted = True
        #: tasks registered paused, by node id and task (see Node.every)
        self._paused: dict[tuple[str, Callable[[], None]], tuple[str, int, int, Node, Callable[[], None]]] = {}
        self._registered = 0
        #: (every task runs each tick, their (node, task) pairs), derived from _tasks when asked
        self._every_tick: tuple[bool, list[tuple[Node, Callable[[], None]]]] | None = None
        self.tick_count = 0
        self.started = False

    # -- clock -----------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated time in seconds."""
        return self.env.now

    def schedule(self, delay: float, fn: Callable[[], object]) -> None:
        """Call ``fn()`` after ``delay`` simulated seconds (one event, no process); what it returns is ignored."""
        event = self.env.timeout(delay)

        def fire(_event: object) -> None:
            fn()

        event.callbacks.append(fire)

    # -- nodes and topology ----------------------------------------------------------------

    def add_node(self, node_id: str, zone: str) -> Node:
        """Add the node ``node_id`` to ``zone`` (ids and zone names are distinct); started at once
        if the world already runs."""
        if not isinstance(node_id, str) or not node_id:
            raise ConfigError("node id", "must be a non-empty string", node_id)
        if self.topology.has_zone(node_id) or node_id == zone and self.topology.has_node(zone):
            raise ConfigError("node id", "must differ from every zone name", node_id)
        if self.topology.has_node(zone):
            raise ConfigError("zone", "must differ from every node id", zone)
        self.topology.add_node(node_id, zone)
        node = self._nodes[node_id] = Node(self, node_id, zone)
        if self.started:
            node.start()
        return node

    def add_nodes(self, zone: str, count: int, prefix: str | None = None) -> list[str]:
        """Add ``count`` nodes named ``"<prefix>-1"`` ... (prefix defaults to the zone)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError("count", "must be a non-negative integer", count)
        base = prefix or zone
        start = len([n for n in self._nodes.values() if n.zone == zone])
        ids = [f"{base}-{i}" for i in range(start + 1, start + count + 1)]
        for node_id in ids:
            self.add_node(node_id, zone)
        return ids

    def node(self, node_id: str) -> Node:
        """The node ``node_id``; :class:`SimError` for an unknown id."""
        try:
            return self._nodes[node_id]
        except KeyError:
            raise SimError(f"unknown node {node_id!r}") from None

    @property
    def node_ids(self) -> list[str]:
        """Every node id, sorted."""
        return sorted(self._nodes)

    @property
    def nodes(self) -> list[Node]:
        """Every node, sorted by id."""
        return [self._nodes[n] for n in sorted(self._nodes)]

    def connect(self, zone_or_nodes: str | Sequence[str], kind: str, channel: str | None = None,
                **params: Any) -> None:
        """Link a zone's nodes (or a list of nodes) with a named generator (seeded from the
        world's ``"topology:<zone>"`` stream)."""
        if isinstance(zone_or_nodes, str):
            nodes, label = self.topology.nodes_in(zone_or_nodes), zone_or_nodes
        else:
            nodes, label = list(zone_or_nodes), ",".join(zone_or_nodes)
        self.topology.connect(nodes, kind, channel, self.rng(f"topology:{label}"), **params)

    def add_edges(self, edges: Iterable[tuple[str, str]], channel: str | None = None) -> None:
        """Connect each pair of nodes both ways, over ``channel`` when given."""
        self.topology.add_edges(edges, channel)

    def connect_zones(self, zone_a: str, zone_b: str, channel: str | None = None) -> None:
        """Every node of one zone can talk to every node of the other (not materialized)."""
        self.topology.connect_zones(zone_a, zone_b, channel)

    def define_channel(self, name: str, model: LinkModel | Mapping[str, Any]) -> None:
        """Name a channel type and its link model."""
        self.network.define_channel(name, _model(model, f"channel {name}"))

    def set_default_link(self, model: LinkModel | Mapping[str, Any]) -> None:
        """The link model of every link no zone, channel or link setting overrides."""
        self.network.set_default(_model(model, "default link"))

    def set_link_draws(self, mode: str) -> None:
        """``"sequential"`` (the default) or ``"keyed"``: where every link's loss, latency and
        duplicate draws come from (see :meth:`sim.network.Network.set_draws`)."""
        self.network.set_draws(mode, self.seed)

    def set_zone_link(self, zone_a: str, zone_b: str,
                      model: LinkModel | Mapping[str, Any]) -> None:
        """The link model between the nodes of two zones (both ways)."""
        for z in (zone_a, zone_b):
            if not self.topology.has_zone(z):
                raise ConfigError("zone link", "must name known zones", z)
        self.network.set_zone_model(zone_a, zone_b, _model(model, f"zones {zone_a}<->{zone_b}"))

    def set_link(self, src: str, dst: str, model: LinkModel | Mapping[str, Any],
                 symmetric: bool = True) -> None:
        """Override the model of ``src -> dst`` (and ``dst -> src`` when symmetric)."""
        for n in (src, dst):
            if not self.topology.has_node(n):
                raise ConfigError("link", "must name known nodes", n)
        resolved = _model(model, f"link {src}->{dst}")
        self.network.set_link_model(src, dst, resolved)
        if symmetric:
            self.network.set_link_model(dst, src, resolved)

    # -- registries ------------------------------------------------------------------------

    def _add_task(self, node: Node, every: int, task: Callable[[], None], paused: bool = False) -> None:
        entry = (node.id, self._registered, every, node, task)
        self._registered += 1
        if paused:
            self._paused[(node.id, task)] = entry
        else:
            self._tasks.append(entry)
            self._tasks_sorted = False

    def _resume_task(self, node: Node, task: Callable[[], None]) -> None:
        """Let a task registered paused run from the next tick on, in its registration place."""
        entry = self._paused.pop((node.id, task), None)
        if entry is not None:
            self._tasks.append(entry)
            self._tasks_sorted = False

    def tasks(self) -> list[tuple[str, int, int, Node, Callable[[], None]]]:
        """Periodic tasks in run order: by node id, then registration order."""
        if not self._tasks_sorted:
            self._tasks.sort(key=lambda t: (t[0], t[1]))
            self._tasks_sorted = True
            self._every_tick = None
        return self._tasks

    def every_tick(self) -> list[tuple[Node, Callable[[], None]]] | None:
        """``(node, task)`` of :meth:`tasks` in run order when every task runs at every tick
        (the common case: the tick loop then tests only ``node.up``), else None."""
        tasks = self.tasks()
        if self._every_tick is None:
            self._every_tick = (all(t[2] == 1 for t in tasks), [(t[3], t[4]) for t in tasks])
        every_one, pairs = self._every_tick
        return pairs if every_one else None

    def add_pending(self, fn: Callable[[], bool]) -> None:
        """Register a quiescence hook: returns True while its component still has work."""
        self._pending.append(fn)

    def pending(self) -> bool:
        """Whether any quiescence hook (:meth:`add_pending`) says its component still has work."""
        return any(fn() for fn in self._pending)

    def add_validator(self, fn: Callable[[], None]) -> None:
        """Register a wiring check run by :meth:`validate`; ``fn()`` raises ConfigError."""
        self._validators.append(fn)

    def at_end(self, fn: Callable[[], None]) -> None:
        """Register ``fn()`` to run once a run is over, after its checks (to release resources:
        a check only looks, and a disabled check must not keep anything alive)."""
        self._at_end.append(fn)

    def end(self) -> None:
        """Run the :meth:`at_end` hooks, in registration order (called by :mod:`sim.runloop`)."""
        for fn in self._at_end:
            fn()

    def add_check(self, name: str, fn: Check) -> None:
        """Register a check run after the quiet phase; ``fn(world) -> CheckResult``."""
        if any(n == name for n, _ in self.checks):
            raise ConfigError("check", "must have a unique name", name)
        self.checks.append((name, fn))

    def add_workload(self, workload: Workload) -> None:
        """Validate ``workload`` against this world and run it in the workload phase."""
        workload.validate(self)
        self.workloads.append(workload)

    def set_faults(self, faults: FaultSchedule | Sequence[Fault]) -> None:
        """Set the fault schedule (times relative to the workload phase start)."""
        schedule = faults if isinstance(faults, FaultSchedule) else FaultSchedule(faults)
        schedule.validate(self)
        self.faults = schedule

    # -- faults applied now ----------------------------------------------------------------

    def record_fault(self, kind: str, **fields: Any) -> None:
        """Trace a fault event and keep it in :attr:`fault_log` (kept whatever the trace mode)."""
        self.trace.record(kind, **fields)
        self.fault_log.append({"t": round(self.env.now, 9), "kind": kind, **fields})

    def crash(self, node_id: str) -> None:
        """Crash ``node_id`` now and log the fault (see :meth:`Node.crash`)."""
        self.node(node_id).crash()
        self.record_fault("crash", node=node_id)

    def restart(self, node_id: str) -> None:
        """Restart ``node_id`` now and log the fault (see :meth:`Node.restart`)."""
        self.record_fault("restart", node=node_id)
        self.node(node_id).restart()

    def heal(self) -> None:
        """Remove every partition and loss burst (crashed nodes stay down)."""
        self.network.heal()
        self.record_fault("heal", label="all")

    def apply(self, fault: Fault, label: str = "manual") -> None:
        """Apply a fault record now."""
        apply_fault(self, fault, label)

    # -- running ---------------------------------------------------------------------------

    def validate(self, duration: float | None = None, require_connected: bool = True) -> None:
        """Check the wiring before a run; raises :class:`ConfigError`."""
        self.topology.validate(require_connected)
        for name in self.topology.channel_types():
            if not self.network.has_channel(name):
                raise ConfigError("channel type", "must be defined with define_channel", name)
        self.faults.validate(self, duration)
        for w in self.workloads:
            w.validate(self)
        for validator in self._validators:
            validator()

    def run(self, duration: Any = "10s", warmup: Any = 0.0, quiet_max: int = 1000,
            require_connected: bool = True) -> RunResult:
        """Run warm-up, workload, heal, quiet phase and checks; see :mod:`sim.runloop`."""
        from sim.runloop import run

        return run(self, duration=duration, warmup=warmup, quiet_max=quiet_max,
                   require_connected=require_connected)

    def gc_disabled_during_run(self) -> bool:
        """Whether :meth:`run` disables Python's cyclic GC (see ``gc`` in the constructor)."""
        return self.gc == "off" or (self.gc == "auto" and len(self._nodes) >= GC_AUTO_NODES)


def _model(model: LinkModel | Mapping[str, Any], where: str) -> LinkModel:
    try:
        return LinkModel.from_data(model)
    except ConfigError as err:
        raise err.prefixed(where) from None
