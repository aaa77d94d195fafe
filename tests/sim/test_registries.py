"""The registries of CRDT types, protocols and topology kinds, as the simulator reads them.

A type, protocol or topology kind registered here (in a test, not in the package) is usable
from a scenario without touching the schema, the builder, the workloads or ``DistributedData``;
and no module outside ``crdt.registry`` enumerates the type names or dispatches on them.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from crdt import GCounter
from crdt.registry import KINDS, register, registered_types, unregister
from sim.errors import ConfigError
from sim.replication.delta_gossip import DeltaGossip
from sim.replication.mutations import random_mutation
from sim.replication.protocol import Protocol, protocols, register_protocol, unregister_protocol
from sim.scenario import Scenario, ScenarioError, run_scenario, scenario_schema
from sim.topology import KINDS as TOPOLOGY_KINDS
from sim.topology import register_kind
from sim.world import World

ROOT = Path(__file__).resolve().parents[2]


def _scenario(keys: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"seed": 2, "zones": {"dc": 3}, "duration": "1s", "workload": {"rate": "30/s"},
            "data": {"keys": keys, **data}}


# -- CRDT types ----------------------------------------------------------------------------------


@pytest.fixture
def tally() -> Iterator[type[GCounter]]:
    @register
    class Tally(GCounter):
        """A counter of another name: it comes only from the registry."""

        type_name = "Tally"

    yield Tally
    unregister(Tally)


def test_a_registered_type_is_usable_by_schema_builder_and_workload(tally: type[GCounter]) -> None:
    assert "Tally" in scenario_schema()["$defs"]["crdt_type"]["enum"]
    run = run_scenario(Scenario.from_data(_scenario({"t": "Tally"})))
    assert run.result is not None and run.result.ok
    states = [run.data.replicator(n).current("t") for n in run.data.node_ids]  # type: ignore[union-attr]
    assert all(type(s) is tally for s in states) and len({s.value() for s in states}) == 1
    assert states[0].value() > 0  # the workload drove it (by its kind)
    invariants = next(c for c in run.result.checks if c.name == "invariants")
    assert invariants.details["checked"] == ["t"]  # and the counter invariant judged it


def test_an_unregistered_type_is_refused_by_the_schema(tally: type[GCounter]) -> None:
    unregister(tally)
    assert "Tally" not in scenario_schema()["$defs"]["crdt_type"]["enum"]
    with pytest.raises(ScenarioError, match=r"data\.keys\.t: expected .*found 'Tally'"):
        Scenario.from_data(_scenario({"t": "Tally"}))


def test_a_broken_variant_decodes_but_is_not_offered_to_scenarios() -> None:
    import sim.replication.variants  # noqa: F401  (registers SummingCounter, unlisted)

    assert "SummingCounter" in registered_types()
    assert "SummingCounter" not in scenario_schema()["$defs"]["crdt_type"]["enum"]


def test_every_kind_has_a_workload() -> None:
    world = World(seed=1)
    node = world.add_node("n1", "z")
    for kind in KINDS:
        cls = next(c for c in registered_types().values() if c.kind == kind)
        name, args = random_mutation(cls(), node, random.Random(1))
        assert name in cls.operations, (kind, name)


def test_a_type_of_no_kind_the_workload_knows_is_a_clear_error() -> None:
    class Odd(GCounter):
        type_name = "Odd"
        kind = "heap"

    world = World(seed=1)
    with pytest.raises(KeyError, match="no random workload for Odd of kind 'heap'"):
        random_mutation(Odd(), world.add_node("n1", "z"), random.Random(1))


# -- no module outside the registry lists or dispatches on type names ----------------------------


def _library_names() -> set[str]:
    return {n for n, c in registered_types().items() if c.__module__.startswith("crdt.")}


def _listings(tree: ast.AST, names: set[str]) -> Iterator[tuple[int, str]]:
    """Where a module enumerates type names (a collection or table of two or more) or compares
    with one (a dispatch by name)."""
    def named(node: ast.AST) -> set[str]:
        return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and n.value in names}

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            node.value = ast.Constant(None)  # exports name the types; that is no listing
    for node in ast.walk(tree):
        if isinstance(node, ast.List | ast.Tuple | ast.Set) and len(named(node)) >= 2:
            yield node.lineno, "a collection of type names"
        elif isinstance(node, ast.Dict) and len({k.value for k in node.keys
                                                 if isinstance(k, ast.Constant) and k.value in names}) >= 2:
            yield node.lineno, "a table keyed by type names"
        elif isinstance(node, ast.Compare) and named(node):
            yield node.lineno, "a comparison with a type name"


def test_no_module_outside_the_registry_lists_the_type_names() -> None:
    names = _library_names()
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for package in ("crdt", "sim")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "crdt" / "registry.py"
        for line, what in _listings(ast.parse(path.read_text(encoding="utf-8")), names)
    ]
    assert found == []


@pytest.mark.parametrize(("source", "what"), [
    ('_TYPES = ["GCounter", "ORSet"]', "a collection of type names"),
    ('HANDLERS = {"GCounter": 1, "PNCounter": 2}', "a table keyed by type names"),
    ('ok = state.type_name == "LWWMap"', "a comparison with a type name"),
    ('ok = s.crdt in ("LWWRegister",)', "a comparison with a type name"),
])
def test_the_listing_check_finds_each_kind_of_listing(source: str, what: str) -> None:
    assert [w for _, w in _listings(ast.parse(source), _library_names())] == [what]


def test_the_listing_check_allows_uses_of_one_type() -> None:
    source = 'x = SourceState("LWWMap", "object")\n__all__ = ["GCounter", "ORSet"]\ntypes = {"GCounter": Broken}\n'
    assert list(_listings(ast.parse(source), _library_names())) == []


# -- protocols -----------------------------------------------------------------------------------


@pytest.fixture
def eager() -> Iterator[type[Protocol]]:
    @register_protocol
    class EagerDelta(DeltaGossip):
        """Delta gossip under another name: it comes only from the registry."""

        name = "eager-delta"

    yield EagerDelta
    unregister_protocol(EagerDelta)


def test_a_registered_protocol_is_usable_by_schema_builder_and_ddata(eager: type[Protocol]) -> None:
    defs = scenario_schema()["$defs"]
    assert defs["protocol"]["enum"] == ["state", "delta", "op", "eager-delta"]
    assert set(defs["protocol_options"]["properties"]["eager-delta"]["properties"]) == set(DeltaGossip.option_names)
    run = run_scenario(Scenario.from_data(_scenario({"k": "ORSet"}, protocol="eager-delta",
                                                    options={"eager-delta": {"every": 2}})))
    assert run.result is not None and run.result.ok
    replicator = run.data.replicator("dc-1")  # type: ignore[union-attr]
    assert type(replicator.protocols["eager-delta"]) is eager and list(replicator.protocols) == ["eager-delta"]


def test_an_unregistered_protocol_is_refused(eager: type[Protocol]) -> None:
    unregister_protocol(eager)
    assert list(protocols()) == ["state", "delta", "op"]
    with pytest.raises(ScenarioError, match=r"data\.protocol: expected one of 'state', 'delta', 'op'"):
        Scenario.from_data(_scenario({"k": "ORSet"}, protocol="eager-delta"))


def test_a_protocol_whose_options_have_no_schema_is_refused() -> None:
    class Vague(DeltaGossip):
        name = "vague"
        option_schema = {"every": {"type": "integer"}}

    with pytest.raises(ConfigError, match="option_schema must describe exactly"):
        register_protocol(Vague)
    assert "vague" not in protocols()


def test_a_state_gossip_protocol_keeps_the_quiet_phase_going_and_others_do_not() -> None:
    assert [n for n, c in protocols().items() if not c.knows_when_done] == ["state"]


# -- topology kinds ------------------------------------------------------------------------------


@pytest.fixture
def wheel() -> Iterator[str]:
    @register_kind("wheel")
    def _wheel(n: int, params: dict[str, Any], seed: int) -> nx.Graph:
        return nx.wheel_graph(n)

    yield "wheel"
    del TOPOLOGY_KINDS["wheel"]


def test_a_registered_topology_kind_is_usable_by_schema_and_builder(wheel: str) -> None:
    assert scenario_schema()["$defs"]["topology_kind"]["enum"][-1] == "wheel"
    spec = {**_scenario({"k": "GCounter"}), "zones": {"dc": 5}, "topology": [{"zone": "dc", "kind": "wheel"}]}
    run = run_scenario(Scenario.from_data(spec))
    assert run.result is not None and run.result.ok
    assert run.world.topology.neighbours("dc-1") == ["dc-2", "dc-3", "dc-4", "dc-5"]  # the hub
    assert run.world.topology.neighbours("dc-3") == ["dc-1", "dc-2", "dc-4"]


def test_an_unknown_topology_kind_is_refused_by_the_schema() -> None:
    spec = {**_scenario({"k": "GCounter"}), "topology": [{"zone": "dc", "kind": "wheel"}]}
    with pytest.raises(ScenarioError, match=r"topology\[0\]\.kind: expected one of 'complete'"):
        Scenario.from_data(spec)


def test_a_topology_kind_refuses_parameters_it_does_not_declare(wheel: str) -> None:
    world = World(seed=1)
    with pytest.raises(ConfigError, match=r"topology wheel accepts only parameters \[\]"):
        world.connect(world.add_nodes("dc", 4), "wheel", d=2)


def test_every_topology_kind_builds_a_graph_of_its_group() -> None:
    for kind, entry in TOPOLOGY_KINDS.items():
        params = {"d": 2, "k": 2, "p": 0.5, "m": 1}
        graph = entry.generate(6, {p: params[p] for p in entry.params if p in params}, 7)
        assert sorted(graph.nodes) == list(range(6)), kind
