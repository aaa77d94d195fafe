"""Challenge 4: a long-running export with progress over a duplicating, reordering, lossy link."""

from __future__ import annotations

import pytest

from sim.apps.progress import STEPS, Progress, progress_violations
from sim.cli import bundled
from sim.scenario import Scenario, run_scenario
from sim.world import World


def _scenario(export: str = "export_todos", duration: str = "6s") -> Scenario:
    data = Scenario.from_yaml(bundled()["todo-progress"]).data
    data["app"]["zones"]["server"]["export_todos"]["computation"] = export
    data["duration"] = duration
    return Scenario.from_data(data)


def test_progress_in_order_and_the_final_result_exactly_once() -> None:
    run = run_scenario(Scenario.from_yaml(bundled()["todo-progress"]))
    assert run.result is not None and run.result.ok, run.result and run.result.checks
    events = run.world.trace.events
    shown: dict[str, list[tuple[int, int, bool]]] = {}
    for e in events:
        if e.kind == "app.progress":
            shown.setdefault(e.fields["job"], []).append((e.fields["number"], e.fields["percent"], e.fields["final"]))
    assert sorted(shown) == ["client-1/1", "client-1/2", "client-2/1", "client-3/1"]
    for job, seen in shown.items():
        assert [n for n, _, _ in seen] == sorted({n for n, _, _ in seen}), job  # strictly increasing
        assert [p for _, p, _ in seen] == sorted(p for _, p, _ in seen), job
        assert [f for _, _, f in seen].count(True) == 1 and seen[-1] == (STEPS, 100, True), job
    assert run.app.counters["progress_stale"] > 0  # duplicates and reordering did happen, and were dropped
    assert sorted(run.app.node("client-1").value("exports")) == ["client-1/1", "client-1/2"]
    result = dict(run.app.node("client-2").value("exports")["client-2/1"])
    assert all(dict(t)["user"] == "u2" for t in result["todos"]) and result["count"] == len(result["todos"])
    assert dict(run.app.node("client-3").value("export_progress")) == {"job": "client-3/1", "percent": 100}
    assert not progress_violations(events)


@pytest.mark.slow
def test_the_checker_catches_the_variant_without_sequence_numbers() -> None:
    for seed in range(8):
        run = run_scenario(_scenario(), seed=seed)
        assert run.result is not None and run.result.ok, (seed, run.result and run.result.checks)
    caught, kinds = 0, set()
    for seed in range(8):
        run = run_scenario(_scenario("export_todos_unsequenced"), seed=seed)
        bad = progress_violations(run.world.trace.events)
        assert run.result is not None and run.result.ok == (not bad)
        caught += bool(bad)
        kinds |= {" ".join(b["problem"].split(" ")[:2]) for b in bad}
    assert caught >= 6  # a run where no progress message was reordered or duplicated cannot be caught
    assert {"progress went", "final result"} <= kinds  # backwards progress and a final shown twice



def test_without_an_export_the_progress_check_says_not_checked() -> None:
    check = Progress().check(World(trace="full"))
    assert (check.status, check.message) == ("not checked", "no export started")
