"""Hunting from Python (``crdtsim.hunt``), a scenario's own faults in every schedule, and the
correct protocols surviving every hunt target."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import crdtsim
from sim.hunt import HuntSpace
from sim.hunt.search import Search
from sim.hunt.targets import target_scenario
from sim.replication.variants import VARIANTS
from sim.scenario import Scenario

TARGETS = Path(__file__).resolve().parents[2] / "scenarios" / "hunt"
OWN_FAULT = {"at": 0.5, "partition": [["dc-1"]], "duration": 1.0}


def test_crdtsim_hunt_from_a_test_finds_shrinks_and_replays(tmp_path: Path) -> None:
    result = crdtsim.hunt(TARGETS / "op-unreliable.yaml", budget=60, workers=0, out=tmp_path)
    assert result.found and result.check == "convergence" and result.runs <= 60
    assert result.minimal is not None and result.minimal.size == 2
    replayed = crdtsim.run(tmp_path / "minimal.yaml")
    assert not replayed.ok and [c.message for c in replayed.checks if c.name == "convergence"] == [result.message]
    assert crdtsim.run(result.minimal_yaml).trace_digest == replayed.trace_digest  # YAML text works too


def test_crdtsim_load_takes_a_bundled_name_and_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    assert crdtsim.load("quickstart").name == Scenario.from_yaml(TARGETS.parent / "quickstart.yaml").name
    bad = tmp_path / "bad.yaml"
    bad.write_text("zones: {dc: 3}\nseed: many\n")
    with pytest.raises(crdtsim.ScenarioError) as error:
        crdtsim.load(bad)
    assert str(error.value).startswith(f"{bad}:2: seed: expected") and "\n" not in str(error.value)
    with pytest.raises(crdtsim.SimError, match="budget: expected at least 1 run"):
        crdtsim.hunt(TARGETS / "op-unreliable.yaml", budget=0)


def _with_own_fault(max_faults: int) -> dict[str, object]:
    scenario = target_scenario("op-unreliable")
    scenario["faults"] = [dict(OWN_FAULT)]
    scenario["hunt"]["faults"]["max"] = max_faults
    return scenario


def test_a_scenarios_own_faults_are_in_every_schedule_it_searches() -> None:
    space = HuntSpace.of(Scenario.from_data(_with_own_fault(3)))
    for candidate in Search(space, 0).batch(16):
        faults = space.scenario(candidate)["faults"]
        assert faults.count(OWN_FAULT) == 1 and len(faults) >= 1 + len(candidate.faults)
        assert [f["at"] for f in faults] == sorted(f["at"] for f in faults)


def test_a_scenarios_own_fault_is_what_the_writes_are_hunted_around_and_it_stays_in_minimal_yaml() -> None:
    # No fault of the hunt's own: on clean links the unreliable broadcast fails only through
    # the scenario's partition, which every schedule keeps and shrinking leaves alone.
    without = target_scenario("op-unreliable")
    without["hunt"]["faults"]["max"] = 0
    assert not crdtsim.hunt(without, budget=24, workers=0).found
    result = crdtsim.hunt(_with_own_fault(0), budget=24, workers=0)
    assert result.found and result.fixed_faults == 1, result.render()
    assert result.minimal is not None and result.minimal.faults == () and len(result.minimal.writes) == 1
    assert result.minimal_yaml is not None
    minimal = crdtsim.load(result.minimal_yaml)
    assert minimal.get("faults") == [OWN_FAULT]
    assert not crdtsim.run(minimal).ok


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_the_correct_protocol_survives_every_hunt_target(name: str) -> None:
    scenario = target_scenario(name)  # the bundled ones are these (tests/hunt/test_hunt_variants.py)
    del scenario["data"]["variant"]
    if name == "cut-off-replicas":  # the correct build refuses replicas that cannot reach each other
        with pytest.raises(crdtsim.SimError, match=r"data\.nodes: expected to form a connected graph"):
            crdtsim.hunt(scenario, budget=16, workers=0)
        return
    result = crdtsim.hunt(scenario, budget=16, workers=0)
    assert not result.found, result.render()
    assert result.runs >= 16


def test_every_run_of_a_hunt_draws_its_links_keyed_and_minimal_yaml_keeps_it() -> None:
    # Keyed draws: removing a write leaves the loss and latency of every other message as they
    # were, which is what a shrinking step relies on (tests/sim/test_keyed_draws.py).
    space = HuntSpace.of(Scenario.from_data(target_scenario("op-unreliable")))
    assert {space.scenario(c)["links"]["draws"] for c in Search(space, 0).batch(8)} == {"keyed"}
    own = target_scenario("op-unreliable")
    own["links"]["draws"] = "sequential"  # a scenario that says how it draws keeps it
    space = HuntSpace.of(Scenario.from_data(own))
    assert {space.scenario(c)["links"]["draws"] for c in Search(space, 0).batch(8)} == {"sequential"}
    result = crdtsim.hunt(TARGETS / "op-unreliable.yaml", budget=60, workers=0)
    assert result.found and result.minimal_yaml is not None
    minimal = crdtsim.load(result.minimal_yaml)
    assert minimal.get("links")["draws"] == "keyed"
    assert not crdtsim.run(minimal).ok
    assert result.original_yaml is not None and "draws: keyed" in result.original_yaml
    original = crdtsim.load(result.original_yaml)
    sequential = copy.deepcopy(original.data)
    del sequential["links"]["draws"]  # the same schedule drawn the default way is another run
    assert crdtsim.run(sequential).trace_digest != crdtsim.run(original).trace_digest
