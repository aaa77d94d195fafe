"""Every bundled scenario, at its own seed, shows what it exists to show.

Each has an expectation in ``expectations/`` (the clauses are described in
``scenario_expectations.py``): its verdict, which check passes or fails and what it says, when
it converged, which faults really happened, figures within stated bands and the facts of the
app or event-sourcing model it demonstrates. A harmless change (a byte more in an encoding, a
different drop count) passes here; the exact figures are the change detector's business
(``test_change_detector.py``).

A new scenario needs an expectation: a few lines in ``expectations/<name>.yaml``.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bundled_runs import bundled_paths, params, run_bundled
from scenario_expectations import FACTS, expectation_names, judge, load, trace_counts

from sim.scenario import Scenario, ScenarioRun
from sim.trace import TraceEvent


@pytest.mark.parametrize("name", params())
def test_bundled_scenario_shows_what_it_exists_to_show(name: str, tmp_path: Path) -> None:
    expectation = load(name)
    run, summary = run_bundled(name, out=tmp_path)  # SQLite files stay in tmp_path for the facts to read
    facts = {fact: FACTS[fact](run) for fact in expectation.get("facts", []) if fact in FACTS}
    problems = judge(expectation, summary, trace_counts(run), facts)
    assert problems == [], f"{name} no longer shows what it is for:\n" + "\n".join(problems)


def test_every_bundled_scenario_has_an_expectation_and_a_description() -> None:
    names = list(bundled_paths())
    assert "quickstart" in names and "hunt/op-unreliable" in names  # the top level and the hunt targets
    assert [n for n in names if n not in expectation_names()] == [], "add expectations/<name>.yaml"
    assert [n for n in expectation_names() if n not in names] == [], "an expectation for no bundled scenario"
    for name, path in bundled_paths().items():
        assert Scenario.from_yaml(path).get("description"), name


# -- the judge fails on each clause a run does not meet -------------------------------------------


def _summary(**changes: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "ok": True, "converged": True, "convergence_time": 2.5, "keys": {"k": {"converged": True}},
        "time": {"quiet": [3.0, 3.2]}, "dropped": {"loss": 12}, "bytes": {"by_protocol": {"delta": 10, "state": 100}},
        "faults": [{"kind": "fault", "action": "partition"}, {"kind": "heal"}],
        "checks": [{"name": "convergence", "ok": True, "status": "ok", "message": "1/1 keys converged"}],
    }
    summary.update(changes)
    return summary


PASSING: dict[str, Any] = {
    "shows": "a partition heals", "exit": 0, "checks": {"convergence": {"status": "ok", "says": "1/1 keys"}},
    "converged_by": "3s", "faults": {"partition": 1, "heal": 1}, "within": {"dropped.loss": [10, None]},
    "ratios": {"bytes.by_protocol.delta / bytes.by_protocol.state": [0, 0.2]}, "trace": {"app.job": 2},
    "facts": ["journals_are_sqlite_files_holding_every_event"],
}


def test_the_judge_passes_a_run_that_meets_every_clause() -> None:
    facts = {"journals_are_sqlite_files_holding_every_event": None}
    assert judge(PASSING, _summary(), {"app.job": 2}, facts) == []


FAILING = [
    ({"shows": " "}, {}, "shows: expected a sentence"),
    ({"exit": 1}, {}, "exit: expected 1, found 0"),
    ({"checks": {"convergence": "failed"}}, {}, "checks.convergence: expected failed, found ok"),
    ({"checks": {"convergence": "ok", "invariants": "ok"}}, {}, "checks: expected ['convergence', 'invariants']"),
    ({"checks": {"convergence": {"status": "ok", "says": "2/2"}}}, {}, "expected the message to say '2/2'"),
    ({"checks": {"convergence": "fine"}}, {}, "expected a status in"),
    ({"converged_by": "2s"}, {}, "converged_by: expected by 2.0s, found 2.5"),
    ({}, {"converged": False}, "never converged"),
    ({"converged_by": "3.1s"}, {"keys": {}}, "converged_by: expected by 3.1s, found 3.2"),
    ({"faults": {"partition": 2, "heal": 1}}, {}, "faults.partition: expected 2, found 1"),
    ({"faults": {"partition": 1}}, {}, "faults.heal: expected none, found 1"),
    ({"within": {"dropped.loss": [20, None]}}, {}, "within.dropped.loss: expected within [20, None], found 12"),
    ({"within": {"dropped.partition": 0}}, {}, "found no such figure"),
    ({"ratios": {"bytes.by_protocol.delta / bytes.by_protocol.state": [0, 0.05]}}, {}, "found 0.1000"),
    ({"trace": {"app.job": 3}}, {}, "trace.app.job: expected 3, found 2"),
    ({"facts": ["no_such_fact"]}, {}, "facts.no_such_fact: no such fact"),
]


@pytest.mark.parametrize("change, summary_change, says", FAILING)
def test_the_judge_fails_a_run_that_misses_a_clause(change: dict[str, Any], summary_change: dict[str, Any],
                                                     says: str) -> None:
    expectation = {**PASSING, **change}
    facts = {"journals_are_sqlite_files_holding_every_event": None}
    problems = judge(expectation, _summary(**summary_change), {"app.job": 2}, facts)
    assert len(problems) == 1 and says in problems[0], problems


def test_the_judge_reports_a_fact_that_does_not_hold_and_a_trace_it_cannot_see() -> None:
    facts = {"journals_are_sqlite_files_holding_every_event": "expected 36 events in every journal file"}
    assert judge(PASSING, _summary(), None, facts) == [
        "trace: expected a run that keeps the full trace, found a digest-only trace",
        "facts.journals_are_sqlite_files_holding_every_event: expected 36 events in every journal file"]


# -- each fact fails when what it claims is broken ------------------------------------------------


def _forge_row_loss(run: ScenarioRun) -> None:
    (entity,) = run.entities
    with sqlite3.connect(entity.replica("dc-2").journal_or_fail().path) as db:
        db.execute("DELETE FROM events WHERE rowid = (SELECT max(rowid) FROM events)")


def _fail_a_majority_request(run: ScenarioRun) -> None:
    op = next(o for o in run.history.operations if o.node == "dc-4" and o.type == "ok")
    op.type = "fail"


def _run_for_client_2_while_away(run: ScenarioRun) -> None:
    events = run.world.trace.events  # client-2 is away from 0.5 s to 2.5 s
    at = next(i for i, e in enumerate(events) if e.t > 1.0)
    events.insert(at, TraceEvent(0, 1.0, "app.compute", {"comp": "/server/filter_todos_for_user", "node": "server-1",
                                                         "subscriber": "client-2", "conn": None}))


def _no_reload(run: ScenarioRun) -> None:
    next(r for r in run.app.restarts if r["node"] == "client-2")["loaded_states"] = 0


def _other_todos_for_client_1(run: ScenarioRun) -> None:
    node = run.app.node("client-1")
    node.states["my_todos"] = node.state("my_todos").set("client-1", (), 1e9)


def _count_one_more(counter: str) -> Callable[[ScenarioRun], None]:
    def change(run: ScenarioRun) -> None:
        run.app.counters[counter] = run.app.counters.get(counter, 0) + 1

    return change


def _remove_from_one_cart(run: ScenarioRun) -> None:
    replicator = run.data.replicator("shop-2")  # a replica that lost a re-added element, unrecorded
    replicator.states["cart"] = replicator.states["cart"].remove("shop-2", "eggs")


BREAKS = {
    "re_added_elements_survive_their_removes": ("cart", _remove_from_one_cart),
    "journals_are_sqlite_files_holding_every_event": ("es-counter", _forge_row_loss),
    "only_the_minority_fails_and_only_while_cut_off": ("majority", _fail_a_majority_request),
    "every_attack_is_counted_and_u3_is_locked_out": ("todo-access", _count_one_more("attacks_forge")),
    "nothing_is_computed_for_client_2_while_away": ("todo-on-demand", _run_for_client_2_while_away),
    "client_2_reloads_from_sqlite_and_catches_up": ("todo-storage", _no_reload),
    "values_are_those_of_the_python_computations": ("todo-external", _other_todos_for_client_1),
    "every_rejected_effect_is_traced_with_its_path_and_types": ("todo-incompatible",
                                                                _count_one_more("effects_rejected")),
}


def test_every_fact_has_a_run_where_it_is_broken() -> None:
    assert sorted(BREAKS) == sorted(FACTS)


@pytest.mark.parametrize("fact", sorted(BREAKS))
def test_a_fact_fails_when_what_it_claims_is_broken(fact: str, tmp_path: Path) -> None:
    name, breaks = BREAKS[fact]
    if name == "todo-external" and shutil.which("node") is None:
        pytest.skip("node (Node.js) is not installed")
    run, _ = run_bundled(name, out=tmp_path)
    assert FACTS[fact](run) is None
    breaks(run)
    assert FACTS[fact](run) is not None
