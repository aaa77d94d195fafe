"""crdtsim hunt finds every broken variant within a fixed budget, shrinks it, and the minimal
scenario it writes replays the same failure from the command line in any process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.errors import SimError
from sim.hunt import hunt
from sim.hunt.targets import UNBUNDLED, target_scenario
from sim.replication.variants import VARIANTS

TARGETS = Path(__file__).resolve().parents[2] / "scenarios" / "hunt"
BUDGET = 100
SHRINK_BUDGET = 120


def _crdtsim(*args: str, hashseed: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True, env=env,
                          check=False)


def _target(name: str, tmp_path: Path) -> Path:
    """The variant's bundled hunt target, or (unbundled) the generated one in ``tmp_path``."""
    if name not in UNBUNDLED:
        return TARGETS / f"{name}.yaml"
    import yaml

    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(target_scenario(name)))
    return path


def test_every_registered_variant_has_a_bundled_hunt_target() -> None:
    assert sorted(p.stem for p in TARGETS.glob("*.yaml")) == sorted(set(VARIANTS) - set(UNBUNDLED))
    assert set(UNBUNDLED) <= set(VARIANTS)


def _replays(path: Path, hashseeds: tuple[str, ...] = ("0", "1", "2")) -> list[subprocess.CompletedProcess[str]]:
    """``crdtsim run PATH --quiet`` under each ``PYTHONHASHSEED``, the processes side by side."""
    procs = [subprocess.Popen([sys.executable, "-m", "sim.cli", "run", str(path), "--quiet"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONHASHSEED": h})
             for h in hashseeds]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate()
        out.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_hunt_finds_the_variant_and_minimal_yaml_replays_it(name: str, tmp_path: Path) -> None:
    # A small shrinking budget: what is asserted here is that the hunt finds the variant within
    # its budget and that minimal.yaml replays; how small it gets is the benchmark's business.
    result = hunt(_target(name, tmp_path), budget=BUDGET, workers=0, out=tmp_path, shrink_budget=SHRINK_BUDGET)
    assert result.found, result.render()
    # A majority write sent straight to a replica that is no neighbour makes the run die.
    assert result.check in (("error",) if name == "unrouted-requests" else ("convergence", "invariants", "quiescence"))
    assert result.minimal is not None and result.original is not None
    assert result.minimal.size <= result.original.size and result.shrink_runs <= SHRINK_BUDGET
    minimal = (tmp_path / "minimal.yaml").read_text()
    assert "hunt:" not in minimal and "nemesis:" not in minimal and "rate:" not in minimal
    assert "draws: keyed" in minimal  # the links drawn as in every run of the hunt
    assert (tmp_path / "original.yaml").exists() and (tmp_path / "report.json").exists()
    digests = set()
    for replay in _replays(tmp_path / "minimal.yaml"):
        if result.check == "error":  # the run dies: crdtsim run reports the error in one line
            assert replay.returncode == 2 and replay.stderr.strip() == f"crdtsim: {result.message.split(': ', 1)[1]}"
            digests.add(replay.stderr)
            continue
        assert replay.returncode == 1, replay.stdout + replay.stderr
        assert f"[FAIL] {result.check}: {result.message}" in replay.stdout
        digests.add(replay.stdout.strip().splitlines()[-1])
    assert len(digests) == 1
    if result.check != "error":  # the failure before shrinking, replayed in this process
        import crdtsim

        before = crdtsim.run(tmp_path / "original.yaml")
        assert not before.ok and result.check in {c.name for c in before.checks if not c.ok}


@pytest.mark.parametrize("protocol", ["op", "delta", "state"])
def test_correct_protocols_show_no_failure_within_the_budget(protocol: str) -> None:
    scenario = target_scenario("op-unreliable")
    del scenario["data"]["variant"]
    scenario["data"]["keys"] = {"k": {"type": "ORSet", "protocol": protocol}}
    result = hunt(scenario, budget=40, workers=0)
    assert not result.found, result.render()
    assert result.runs >= 40 and result.minimal is None


def test_a_variant_that_fails_without_faults_is_shrunk_directly() -> None:
    result = hunt(TARGETS / "first-writer-wins.yaml", budget=10, workers=0)
    assert result.without_faults and result.runs_to_failure == 1
    assert result.minimal is not None and result.minimal.faults == ()
    assert len(result.minimal.writes) == 2  # one write cannot be lost to an older one; two can


def test_single_fault_bugs_shrink_to_one_fault_and_one_write() -> None:
    result = hunt(TARGETS / "op-unreliable.yaml", budget=BUDGET, workers=0)
    assert result.minimal is not None
    assert (len(result.minimal.faults), len(result.minimal.writes)) == (1, 1), result.render()


def test_the_same_hunt_seed_finds_the_same_schedule_on_a_process_pool() -> None:
    alone = hunt(TARGETS / "delta-acausal.yaml", budget=BUDGET, workers=0, seed=3)
    pooled = hunt(TARGETS / "delta-acausal.yaml", budget=BUDGET, workers=2, seed=3)
    assert alone.found and pooled.found
    assert (alone.runs_to_failure, alone.original, alone.minimal) == (pooled.runs_to_failure, pooled.original,
                                                                      pooled.minimal)
    assert alone.minimal_yaml == pooled.minimal_yaml


@pytest.mark.parametrize("name", sorted(set(VARIANTS) - set(UNBUNDLED)))
def test_bundled_hunt_targets_are_the_generated_ones(name: str) -> None:
    from sim.scenario import Scenario

    assert Scenario.from_yaml(TARGETS / f"{name}.yaml").data == target_scenario(name)


def test_hunt_varies_nodes_topology_and_loss_where_the_scenario_allows(tmp_path: Path) -> None:
    from sim.hunt import HuntSpace
    from sim.hunt.search import Search
    from sim.scenario import Scenario

    scenario = target_scenario("op-unreliable")
    scenario["hunt"].update({"nodes": {"min": 2, "max": 4}, "topology": ["ring", "line"], "loss": {"max": 0.2}})
    proposals = Search(HuntSpace.of(Scenario.from_data(scenario)), 0).batch(16)
    assert {c.nodes for c in proposals} <= {2, 3, 4} and len({c.nodes for c in proposals}) > 1
    assert {c.topology for c in proposals} == {"ring", "line"}
    assert all(0 <= (c.loss or 0) <= 0.2 for c in proposals) and any(c.loss for c in proposals)
    result = hunt(scenario, budget=BUDGET, workers=0, out=tmp_path)
    assert result.found and result.minimal is not None
    assert result.minimal.size <= 2 and result.minimal.nodes in (2, 3, 4)
    replay = _crdtsim("run", str(tmp_path / "minimal.yaml"), "--quiet")
    assert replay.returncode == 1 and f"[FAIL] {result.check}: {result.message}" in replay.stdout


def test_a_time_budget_stops_the_search() -> None:
    scenario = target_scenario("op-unreliable")
    del scenario["data"]["variant"]
    result = hunt(scenario, budget="1s", workers=0)
    assert not result.found and result.stopped_by == "budget of time" and result.runs > 1


def test_a_scenario_without_replicated_data_hunts_over_faults_alone(tmp_path: Path) -> None:
    import yaml

    scenario = yaml.safe_load((TARGETS.parent / "es-counter.yaml").read_text())
    scenario["hunt"] = {"faults": {"max": 2, "kinds": ["partition", "crash"]}}
    result = hunt(scenario, budget=8, workers=0)
    assert not result.found and result.runs >= 8  # replicated event sourcing survives these faults
    scenario["hunt"]["writes"] = {"max": 2}
    with pytest.raises(SimError, match=r"hunt\.writes: expected a 'data' section"):
        hunt(scenario, budget=8, workers=0)


def test_a_record_given_up_while_a_write_carries_it_is_found_and_only_the_variant_fails_its_minimal_run() -> None:
    # op-accept-lost (refuse_lost: false): a writer crashes with volatile state just after its
    # write, the record is given up as lost, and the write still in flight is then accepted.
    import yaml

    import crdtsim

    result = hunt(TARGETS / "op-accept-lost.yaml", budget=BUDGET, workers=0, shrink_budget=SHRINK_BUDGET)
    assert result.found and result.check == "convergence", result.render()
    assert result.minimal is not None and any(f.kind == "crash" for f in result.minimal.faults)
    assert result.minimal_yaml is not None
    minimal = yaml.safe_load(result.minimal_yaml)
    assert not crdtsim.run(minimal).ok
    del minimal["data"]["variant"]  # the same schedule, the record refused on arrival
    assert crdtsim.run(minimal).ok
