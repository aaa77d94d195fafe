"""The pieces of ``crdtsim bench hunt`` that establish its baselines."""

from __future__ import annotations

import pytest

from sim.benchmarks.hunt import random_runs, smallest
from sim.hunt import HuntSpace
from sim.hunt.runner import Runner
from sim.hunt.targets import target_scenario
from sim.scenario import Scenario


def test_random_runs_count_from_each_start_to_the_next_failing_seed() -> None:
    assert random_runs([3, 50, 51], 100, starts=4) == [3, 25, 1, None]


@pytest.mark.slow
def test_the_smallest_lost_write_needs_two_writes() -> None:
    space = HuntSpace.of(Scenario.from_data(target_scenario("first-writer-wins")))
    with Runner(workers=0) as runner:
        assert smallest(space, "invariants", runner, most=2, seeds=[1]) == 2
        assert smallest(space, "convergence", runner, most=1) is None  # the replicas agree, on the wrong value
        assert smallest(space, "invariants", runner, most=2, limit=100) is None  # too many schedules to try
