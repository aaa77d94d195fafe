"""The pieces of ``crdtsim bench hunt`` that establish its baselines."""

from __future__ import annotations

import pytest

from sim.benchmarks.hunt import established, random_runs, searched, smallest
from sim.hunt import HuntSpace
from sim.hunt.runner import Runner
from sim.hunt.targets import target_scenario
from sim.scenario import Scenario


def test_random_runs_count_from_each_start_to_the_next_failing_seed() -> None:
    assert random_runs([3, 50, 51], 100, starts=4) == [3, 25, 1, None]


def test_a_hunts_minimal_schedule_is_the_smallest_only_where_the_grid_tried_every_smaller_size() -> None:
    assert established(None, 2, [4, 2, 3]) == 2  # sizes 1 and 2 tried, none failing: 2 is least
    assert established(None, 0, [2]) == "<=2"  # size 1 not tried: 2 is only an upper bound
    assert established(3, 2, [5]) == 3  # the grid's own, where the hunts found larger
    assert established(None, 3, []) is None


@pytest.mark.slow
def test_the_grid_says_how_far_it_searched() -> None:
    space = HuntSpace.of(Scenario.from_data(target_scenario("first-writer-wins")))
    with Runner(workers=0) as runner:
        assert searched(space, "invariants", runner, most=2, seeds=[1]) == (2, 1)
        assert searched(space, "convergence", runner, most=1) == (None, 1)
        assert searched(space, "invariants", runner, most=2, limit=100) == (None, 0)


@pytest.mark.slow
def test_the_smallest_lost_write_needs_two_writes() -> None:
    space = HuntSpace.of(Scenario.from_data(target_scenario("first-writer-wins")))
    with Runner(workers=0) as runner:
        assert smallest(space, "invariants", runner, most=2, seeds=[1]) == 2
        assert smallest(space, "convergence", runner, most=1) is None  # the replicas agree, on the wrong value
        assert smallest(space, "invariants", runner, most=2, limit=100) is None  # too many schedules to try
