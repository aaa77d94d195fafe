"""The shrinker and the search, on their own: a fake oracle stands in for the simulator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from sim.hunt import Candidate, FaultGene, HuntSpace, Write, signature
from sim.hunt.search import RESEED, Search
from sim.hunt.shrink import RESEEDS, shrink
from sim.hunt.targets import target_scenario
from sim.scenario import Scenario

SPACE = HuntSpace.of(Scenario.from_data(target_scenario("op-unreliable")))
CULPRIT_FAULT = FaultGene("partition", 1.234, 0.8, ("dc-2",))
CULPRIT_WRITE = Write(1.3, "dc-2", "k")
FAILED = {"status": "failed", "signature": ["convergence", "…/… keys converged; diverged: k"], "checks": []}
PASSED = {"status": "ok", "signature": None, "checks": []}


def _big() -> Candidate:
    noise_faults = tuple(FaultGene("crash", 0.1 + i * 0.5, 0.2, ("dc-3",)) for i in range(4))
    noise_writes = tuple(Write(0.05 + i * 0.3, "dc-1", "k") for i in range(6))
    return Candidate(seed=7, faults=(*noise_faults[:2], CULPRIT_FAULT, *noise_faults[2:]),
                     writes=(*noise_writes[:3], CULPRIT_WRITE, *noise_writes[3:]))


def _oracle(calls: list[int]) -> Any:
    """Fails while a partition of dc-2 overlaps a write at dc-2."""
    def evaluate(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        calls.append(len(candidates))
        out = []
        for c in candidates:
            cut = [f for f in c.faults if f.kind == "partition" and f.nodes == ("dc-2",)]
            hit = any(f.at <= w.at <= f.at + f.duration for f in cut for w in c.writes if w.node == "dc-2")
            out.append(FAILED if hit else PASSED)
        return out
    return evaluate


def test_shrinking_keeps_exactly_the_fault_and_the_write_that_matter() -> None:
    calls: list[int] = []
    shrunk = shrink(SPACE, _big(), FAILED, _oracle(calls))
    c = shrunk.candidate
    assert [f.kind for f in c.faults] == ["partition"] and len(c.writes) == 1
    assert c.faults[0].nodes[0] == c.writes[0].node
    assert c.nodes == 2  # the crashed dc-3 and the writer dc-1 were not needed
    assert not shrunk.exhausted and shrunk.runs == sum(calls)


def test_shrinking_is_deterministic_and_bounded() -> None:
    first = shrink(SPACE, _big(), FAILED, _oracle([]))
    again = shrink(SPACE, _big(), FAILED, _oracle([]))
    assert first == again
    calls: list[int] = []
    bounded = shrink(SPACE, _big(), FAILED, _oracle(calls), budget=5)
    assert bounded.exhausted and sum(calls) == bounded.runs <= 5


def test_shrinking_never_accepts_a_different_failure() -> None:
    def other_reason(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        return [{**FAILED, "signature": ["invariants", "…"]} for _ in candidates]

    shrunk = shrink(SPACE, _big(), FAILED, other_reason)
    assert shrunk.candidate == _big() and shrunk.steps == 0


def test_signature_keeps_the_check_and_the_reason_not_the_particulars() -> None:
    a = signature([["quiescence", False, "not quiet"],
                   ["invariants", False, "0/1 ok; k: lost: [['a', 1.5], ['b', 2]]"]])
    b = signature([["invariants", False, "0/2 ok; k: lost: [['c', 0.25]]"]])
    assert a == b == ("invariants", "…/… ok; k: lost: […]")
    assert signature([["quiescence", False, "not quiet after 5 ticks"]]) == ("quiescence", "not quiet after … ticks")
    assert signature([["convergence", True, "fine"]]) is None


def test_the_search_proposes_valid_schedules_the_same_way_from_the_same_seed() -> None:
    one, two = Search(SPACE, 5), Search(SPACE, 5)
    batch = one.batch(8)
    assert batch == two.batch(8)
    assert batch != Search(SPACE, 6).batch(8)
    assert all(SPACE.valid(c) and 1 <= len(c.writes) <= 8 and len(c.faults) <= 3 for c in batch)
    assert any(c.faults for c in batch)


def test_the_search_mutates_the_closest_schedules() -> None:
    search = Search(SPACE, 1)
    close, far = search.batch(2)
    search.learn(far, {"quiet": 1.0, "concurrent": 9.0})
    search.learn(close, {"quiet": 50.0, "concurrent": 0.0})
    # the best by each signal: a schedule that came close one way is kept for that way
    assert search.elites["quiet"][0][2] == close and search.elites["concurrent"][0][2] == far
    assert "concurrent" not in {name for name, best in search.elites.items() if any(e[2] == close for e in best)}
    children = search.batch(40)
    # Most children descend from a parent: they keep most of its writes.
    related = [c for c in children if len(set(c.writes) & set(close.writes + far.writes)) >= 1]
    assert len(related) >= 20


def test_fresh_draws_take_bursty_racing_and_spread_schedules_in_turn() -> None:
    from sim.hunt.runner import concurrency

    search = Search(SPACE, 2)
    bursts, race, spread = (search.fresh() for _ in range(3))
    assert spread.faults and race.faults == () and bursts.faults
    assert len(race.writes) == len(bursts.writes) == SPACE.writes[1]  # as many writes as allowed
    # one node stays out of the race; the bursts with faults take every node in turn
    assert len({w.node for w in race.writes}) == len(SPACE.node_ids) - 1
    assert len({w.node for w in bursts.writes}) == len(SPACE.node_ids)

    def pairs(c: Candidate) -> int:
        return concurrency([(w.at, w.node) for w in c.writes], SPACE.tick)

    assert pairs(race) > pairs(spread) and pairs(bursts) > pairs(spread)


def test_a_shrunk_schedule_drops_an_element_under_another_seed_when_its_own_needs_it() -> None:
    # The fake bug needs one write at dc-2, but under the failing schedule's own seed it also
    # "needs" a second write (as a lost message's luck would): another seed frees it.
    needed = Write(1.0, "dc-1", "k")

    def evaluate(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        return [FAILED if CULPRIT_WRITE in c.writes and (needed in c.writes or c.seed != 7) else PASSED
                for c in candidates]

    shrunk = shrink(SPACE, Candidate(seed=7, writes=(needed, CULPRIT_WRITE)), FAILED, evaluate)
    assert shrunk.candidate.writes == (CULPRIT_WRITE,) and shrunk.candidate.seed != 7


def test_a_fragile_failure_gets_many_more_seeds_than_a_robust_one() -> None:
    needed = Write(1.0, "dc-1", "k")
    start = Candidate(seed=7, writes=(needed, CULPRIT_WRITE))

    def oracle(with_both: Callable[[int], bool], alone: Callable[[int], bool], calls: list[int]) -> Any:
        def evaluate(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
            calls.append(len(candidates))
            return [FAILED if CULPRIT_WRITE in c.writes
                    and (alone(c.seed) or (needed in c.writes and with_both(c.seed))) else PASSED for c in candidates]
        return evaluate

    # Fragile: the schedule fails under a quarter of the seeds, the culprit alone under one in 10
    # (the right messages lost by luck): only a long search over seeds drops the second write.
    fragile = shrink(SPACE, start, FAILED, oracle(lambda seed: seed == 7 or seed % 4 == 0,
                                                  lambda seed: seed % 10 == 0, []))
    assert fragile.candidate.writes == (CULPRIT_WRITE,) and fragile.candidate.seed % 10 == 0
    # Robust: every seed fails the schedule, none the culprit alone; a few seeds are all it spends.
    calls: list[int] = []
    robust = shrink(SPACE, start, FAILED, oracle(lambda seed: True, lambda seed: False, calls))
    assert len(robust.candidate.writes) == 2
    assert sum(calls) < RESEEDS["fragile"]  # every run, the simplifications included


def test_over_keyed_draws_half_the_mutants_that_keep_their_parents_seed_get_a_new_one() -> None:
    # A keyed mutant keeps the luck of every message its moves left alone; over sequential
    # draws any change re-rolls the later ones. New seeds keep the search re-rolling luck.
    def new_seeds(draws: str) -> float:
        scenario = target_scenario("op-unreliable")
        scenario["links"]["draws"] = draws
        space = HuntSpace.of(Scenario.from_data(scenario))
        search = Search(space, 0)
        parent = search.fresh()
        return sum(search.mutate(parent).seed != parent.seed for _ in range(400)) / 400

    assert HuntSpace.of(Scenario.from_data(target_scenario("op-unreliable"))).keyed
    keyed, sequential = new_seeds("keyed"), new_seeds("sequential")
    # (a move that cannot apply, as a fault more than the bound allows, draws a new seed instead)
    assert keyed == pytest.approx(sequential + (1 - sequential) * RESEED, abs=0.07), (sequential, keyed)
