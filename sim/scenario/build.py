"""From a validated :class:`Scenario` to a :class:`World` ready to run, and running it.

>>> from sim.scenario import Scenario, run_scenario
>>> s = Scenario.from_data({"seed": 3, "zones": {"dc": 3}, "topology": [{"zone": "dc", "kind": "complete"}],
...                         "data": {"keys": {"hits": "GCounter"}}, "workload": {"rate": "20/s"}})
>>> run = run_scenario(s)
>>> run.result.ok, run.values("hits")[0] == run.values("hits")[1]
(True, True)
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crdt.codec import type_named
from sim.errors import SimError
from sim.faults import Fault, FaultSchedule, fault_from_spec, random_schedule
from sim.history import History
from sim.output import fresh_directory
from sim.replication import DistributedData, KeySpec
from sim.replication.consistency import All, Consistency, Local, Majority, To
from sim.replication.ddata import random_workload
from sim.replication.mutations import random_mutation
from sim.runloop import RunResult
from sim.scenario.load import Scenario
from sim.units import parse_duration, parse_rate
from sim.workload import Workload
from sim.world import World

if TYPE_CHECKING:
    import random

    from sim.eventsourcing import Behavior, ReplicatedEntity
    from sim.node import Node

__all__ = ["ScenarioRun", "build", "run_scenario", "COUNTER"]  # noqa: F822 (COUNTER: made on first use, see __getattr__)


@cache
def _counter_behavior() -> Behavior:
    """The replicated event-sourced counter: commands are amounts, events are increments."""
    from sim.eventsourcing import Behavior  # event sourcing, only for scenarios with entities

    return Behavior(
        initial=0,
        command_handler=lambda state, amount: [{"inc": amount}],
        event_handler=lambda state, event, ctx: state + event["inc"],
    )


def __getattr__(name: str) -> Any:
    # COUNTER (the behaviour of a scenario's entities) is made on first use.
    if name == "COUNTER":
        return _counter_behavior()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class ScenarioRun:
    """A built (and, after :meth:`run`, finished) scenario."""

    scenario: Scenario
    world: World
    data: DistributedData | None = None
    entities: list[ReplicatedEntity] = field(default_factory=list)
    result: RunResult | None = None
    workdir: Path | None = None
    #: True when ``workdir`` is a temporary directory of this run's own (see :meth:`cleanup`)
    temporary: bool = False
    #: the running application model, when the scenario has an ``app`` section
    app: Any = None
    #: the faults the scenario's nemesis drew (the rest of ``world.faults`` were listed in it)
    nemesis: list[Fault] = field(default_factory=list)

    @property
    def history(self) -> History:
        """Every request of the run, invoked and completed (see :mod:`sim.history`)."""
        return self.world.history

    def run(self) -> RunResult:
        """Run the world with the scenario's phase lengths; the result is kept in :attr:`result`."""
        s = self.scenario
        self.result = self.world.run(
            duration=s.get("duration", "5s"), warmup=s.get("warmup", 0.0), quiet_max=s.get("quiet_max", 1000)
        )
        return self.result

    def cleanup(self) -> None:
        """Close the app's stores and the journals (their files are complete, with no WAL left over);
        remove the temporary directory (SQLite files) a run without ``out`` made."""
        if self.app is not None:
            for store in self.app.stores.values():
                store.close_all()
        for entity in self.entities:
            for node_id in entity.replicas:
                journal = entity.replica(node_id).journal
                if journal is not None:
                    journal.close()
        if self.temporary and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def summary(self) -> dict[str, Any]:
        """What the finished run says, JSON-ready: the ``crdtsim run --json`` output and
        ``summary.json`` (see :func:`sim.report.summarize`)."""
        from sim.report import summarize  # the report is the edge that reads every part of a run

        return summarize(self)

    def render(self) -> str:
        """The summary as the table ``crdtsim run`` prints."""
        from sim.report import render

        return render(self.summary())

    def values(self, key: str) -> list[Any]:
        """The value of ``key`` at every replica, in node order."""
        if self.data is None:
            raise SimError("this scenario has no replicated data")
        return [self.data.replicator(n).value(key) for n in self.data.node_ids]


def _nodes(scenario: Scenario, world: World) -> None:
    for zone, spec in scenario.get("zones").items():
        with scenario.at("zones", zone):
            if isinstance(spec, int):
                world.add_nodes(zone, spec)
            else:
                for node_id in spec:
                    world.add_node(node_id, zone)


def _topology(scenario: Scenario, world: World) -> None:
    connections = scenario.get("topology")
    if connections is None:  # by default every zone is a complete graph
        connections = [{"zone": zone, "kind": "complete"} for zone in scenario.get("zones")]
    for index, c in enumerate(connections):
        with scenario.at("topology", index):
            channel = c.get("channel")
            if "zone" in c or "nodes" in c:
                target = c.get("zone", c.get("nodes"))
                if isinstance(target, str) and not world.topology.has_zone(target):
                    raise scenario.error(("topology", index, "zone"), f"a zone among {list(scenario.get('zones'))}",
                                         target)
                world.connect(target, c["kind"], channel, **c.get("params", {}))
            elif "edges" in c:
                world.add_edges([(a, b) for a, b in c["edges"]], channel)
            else:
                world.connect_zones(c["between"][0], c["between"][1], channel)


def _links(scenario: Scenario, world: World) -> None:
    links = scenario.get("links", {})
    if "draws" in links:
        with scenario.at("links", "draws"):
            world.set_link_draws(links["draws"])
    if "default" in links:
        with scenario.at("links", "default"):
            world.set_default_link(links["default"])
    for name, model in links.get("channels", {}).items():
        with scenario.at("links", "channels", name):
            world.define_channel(name, model)
    for index, entry in enumerate(links.get("zones", [])):
        with scenario.at("links", "zones", index):
            world.set_zone_link(entry["between"][0], entry["between"][1], entry["model"])
    for index, entry in enumerate(links.get("nodes", [])):
        with scenario.at("links", "nodes", index):
            world.set_link(entry["between"][0], entry["between"][1], entry["model"])


def consistency(spec: Any) -> Consistency:
    """``local`` / ``majority`` / ``all`` / ``{to: N}`` / ``{majority: {...}}`` -> a level."""
    if spec in (None, "local"):
        return Local
    if spec == "majority":
        return Majority()
    if spec == "all":
        return All()
    if "to" in spec:
        return To(spec["to"], parse_duration(spec.get("timeout", 1.0), "timeout"))
    if "majority" in spec:
        m = spec["majority"]
        return Majority(parse_duration(m.get("timeout", 1.0), "timeout"), m.get("min_cap", 0))
    return All(parse_duration(spec["all"].get("timeout", 1.0), "timeout"))


def _data(scenario: Scenario, world: World) -> DistributedData | None:
    spec = scenario.get("data")
    if spec is None:
        return None
    default = spec.get("protocol", "delta")
    with scenario.at("data", "variant"):
        broken = None
        if "variant" in spec:
            from sim.replication.variants import variant  # (only a broken-variant scenario needs them)

            broken = variant(spec["variant"])
    keys = {}
    for key, key_spec in spec["keys"].items():
        type_name = key_spec if isinstance(key_spec, str) else key_spec["type"]
        protocol = default if isinstance(key_spec, str) else key_spec.get("protocol", default)
        type_ = type_named(type_name)
        keys[key] = KeySpec(broken.key_type(type_) if broken else type_, protocol)
    for index, node in enumerate(spec.get("nodes", [])):
        if not world.topology.has_node(node):
            raise scenario.error(("data", "nodes", index), "a known node", node)
    with scenario.at("data"):
        dd = DistributedData(
            world,
            spec.get("nodes", world.node_ids),
            keys,
            default_protocol=default,
            protocol_options=broken.protocol_options(spec.get("options")) if broken else spec.get("options"),
            durable=spec.get("durable", True),
            notify_every=spec.get("notify_every", 1),
            checks=True,
            history=world.trace.mode == "full",
            **(broken.group if broken else {}),
        )
        if "nodes" in spec:
            dd.validate()  # the topology is built: report a cut-off replica at data.nodes
        return dd


def _update_once(dd: DistributedData, key: str, node_id: str) -> None:
    replicator, node = dd.replicator(node_id), dd.world.node(node_id)
    name, args = random_mutation(replicator.current(key), node, dd.world.rng(f"once:{node_id}"))  # type: ignore[arg-type]
    replicator.update(key, dd.keys[key].type, lambda s: getattr(s, name)(*args))


def _write(dd: DistributedData, key: str, node_id: str, call: tuple[str, tuple[Any, ...]] | None, at: float,
           level: Consistency) -> None:
    """One explicit write: the given mutation, or a plausible one from a stream of its own."""
    replicator, node = dd.replicator(node_id), dd.world.node(node_id)
    if not node.up:
        dd.world.metrics.ops_skipped += 1
        return
    if call is None:
        call = random_mutation(replicator.current(key), node, dd.world.rng(f"write:{node_id}:{key}:{at!r}"))  # type: ignore[arg-type]
    name, args = call
    request = replicator.update(key, dd.keys[key].type, lambda s: getattr(s, name)(*args), write=level)
    request.on_done(lambda result: dd.count("writes", result.ok))


def _explicit_writes(scenario: Scenario, world: World, dd: DistributedData, level: Consistency) -> None:
    """Schedule the workload's ``writes`` list, each at its time, node and key."""
    warmup = parse_duration(scenario.get("warmup", 0.0), "warmup")
    duration = parse_duration(scenario.get("duration", "5s"), "duration")
    for index, w in enumerate(scenario.get("workload")["writes"]):
        if w["key"] not in dd.keys:
            raise scenario.error(("workload", "writes", index, "key"), f"a key among {sorted(dd.keys)}", w["key"])
        if w["node"] not in dd.node_ids:
            raise scenario.error(("workload", "writes", index, "node"), "a node hosting the data", w["node"])
        operations = dd.keys[w["key"]].type.operations
        if "op" in w and w["op"] not in operations:
            raise scenario.error(("workload", "writes", index, "op"), f"a mutation among {list(operations)}", w["op"])
        with scenario.at("workload", "writes", index, "at"):
            at = parse_duration(w["at"], "at")
        if at > duration:
            raise scenario.error(("workload", "writes", index, "at"), f"a time within the workload phase ({duration}s)",
                                 w["at"])
        call = (w["op"], tuple(w.get("args", ()))) if "op" in w else None
        # Times count from the start of the workload phase, as fault times do.
        world.schedule(warmup + at, partial(_write, dd, w["key"], w["node"], call, at, level))


def _workload(scenario: Scenario, world: World, dd: DistributedData | None) -> None:
    spec = scenario.get("workload")
    if spec is None:
        return
    if dd is None:
        raise scenario.error(("workload",), "a 'data' section for the workload to update", "none")
    keys = spec.get("keys", sorted(dd.keys))
    for index, key in enumerate(keys):
        if key not in dd.keys:
            raise scenario.error(("workload", "keys", index), f"a key among {sorted(dd.keys)}", key)
    nodes = spec.get("nodes", dd.node_ids)
    hosting = frozenset(dd.node_ids)  # membership only (a list would make this quadratic)
    for index, node in enumerate(nodes):
        if node not in hosting:
            raise scenario.error(("workload", "nodes", index), "a node hosting the data", node)
    with scenario.at("workload"):
        if "writes" in spec:
            _explicit_writes(scenario, world, dd, consistency(spec.get("write")))
            return
        if spec.get("once", False):
            for node_id in nodes:
                for key in keys:
                    world.schedule(0.0, partial(_update_once, dd, key, node_id))
            return
        world.add_workload(random_workload(
            dd, spec.get("rate", "10/s"), keys, nodes, consistency(spec.get("write")), spec.get("mode", "poisson"),
            reads=spec.get("reads", 0.0), read=consistency(spec.get("read")),
        ))


def _faults(scenario: Scenario, world: World) -> list[Fault]:
    """Set the world's fault schedule; returns the faults the nemesis drew."""
    faults: list[Fault] = []
    drawn: list[Fault] = []
    for index, spec in enumerate(scenario.get("faults", [])):
        with scenario.at("faults", index):
            faults.append(fault_from_spec(spec))
    nemesis = scenario.get("nemesis")
    if nemesis is not None:
        with scenario.at("nemesis"):
            options = {**nemesis, "rate": parse_rate(nemesis.get("rate", "0.5/s"), "rate")}
            if options["rate"] > 0:  # a nemesis at rate 0 makes no faults
                drawn = list(random_schedule(world, scenario.get("duration", "5s"), **options))
                faults.extend(drawn)
    if faults:
        with scenario.at("faults"):
            world.set_faults(FaultSchedule(faults))
    return drawn


def _increment(entity: ReplicatedEntity, node: Node, op: str, rng: random.Random) -> None:
    entity.command(node.id, 1)


def _entities(scenario: Scenario, world: World, workdir: Path | None) -> list[ReplicatedEntity]:
    entities: list[ReplicatedEntity] = []
    if not scenario.get("entities"):
        return entities
    from sim.eventsourcing import ReplicatedEntity, in_memory_journals, sqlite_journals

    for index, spec in enumerate(scenario.get("entities", [])):
        with scenario.at("entities", index):
            replicas = spec.get("replicas", world.node_ids)
            for i, node in enumerate(replicas):
                if not world.topology.has_node(node):
                    raise scenario.error(("entities", index, "replicas", i), "a known node", node)
            if spec.get("journal", "memory") == "sqlite":
                if workdir is None:
                    raise scenario.error(("entities", index, "journal"), "an output directory for SQLite", "none")
                journals = sqlite_journals(fresh_directory(workdir, spec["id"]))
            else:
                journals = in_memory_journals()
            entity = ReplicatedEntity(world, replicas, spec["id"], _counter_behavior(), journals=journals)
            world.add_workload(Workload(
                partial(_increment, entity),
                rate=spec.get("rate", "10/s"), nodes=replicas, stream=f"commands:{spec['id']}",
            ))
            entities.append(entity)
    return entities


def build(scenario: Scenario, seed: int | None = None, out: str | Path | None = None,
          trace: str | None = None) -> ScenarioRun:
    """Build the world of ``scenario`` (validating everything before the run)."""
    if seed is not None:
        scenario = scenario.with_seed(seed)
    with scenario.at("tick"):
        world = World(seed=scenario.seed, tick=scenario.get("tick", "100ms"),
                      trace=trace or scenario.get("trace", "full" if scenario.get("app") else "digest"))
    workdir, temporary = (Path(out) if out is not None else None), False
    app_sqlite = "sqlite" in dict((scenario.get("app") or {}).get("storage", {})).values()
    if workdir is None and (app_sqlite or any(e.get("journal") == "sqlite" for e in scenario.get("entities", []))):
        workdir, temporary = Path(tempfile.mkdtemp(prefix="crdtsim-")), True
    try:
        _nodes(scenario, world)
        _topology(scenario, world)
        _links(scenario, world)
        dd = _data(scenario, world)
        entities = _entities(scenario, world, workdir)
        _workload(scenario, world, dd)
        app = None
        if scenario.get("app") is not None:
            from sim.scenario.app import build_app

            app = build_app(scenario, world, workdir)
        drawn = _faults(scenario, world)
        checks = scenario.get("checks", {})
        world.checks = [(n, c) for n, c in world.checks if checks.get(n, True)]
        with scenario.at("topology"):
            world.validate(parse_duration(scenario.get("duration", "5s"), "duration"))
    except BaseException:
        if temporary and workdir is not None:  # an invalid scenario leaves no temporary directory behind
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    return ScenarioRun(scenario, world, dd, entities, workdir=workdir, temporary=temporary, app=app, nemesis=drawn)


def run_scenario(scenario: Scenario, seed: int | None = None, out: str | Path | None = None,
                 trace: str | None = None) -> ScenarioRun:
    """Build and run ``scenario``; the finished :class:`ScenarioRun` holds the result."""
    run = build(scenario, seed, out, trace)
    try:
        run.run()
    finally:
        run.cleanup()
    return run
