"""The app checks (sim/apps/checks.py and the runtime's app.effects): each fails on the fault it
exists to catch, and one with nothing to look at says "not checked", never ok.

The other failures are shown where their cause lives: a lost write and a stale derived state
(app.convergence, app.durability) and a leak (app.leaks) in test_app_runtime.py, unchanged
values re-sent (app.on_demand) there too, app.progress in test_app_progress.py, app.replicas in
test_app_replicas.py, app.external in test_app_external.py.
"""

from __future__ import annotations

from typing import Any

from crdt import GSet, LWWRegister
from sim.apps import launch
from sim.apps.checks import work_for_disconnected
from sim.apps.runtime import AppRuntime
from sim.apps.todo import add_todo, todo_spec
from sim.checks import CheckResult
from sim.trace import TraceEvent
from sim.world import World


def _run(todo: bool = True) -> tuple[World, AppRuntime, dict[str, CheckResult]]:
    world = World(seed=1, trace="full")
    app = launch(world, todo_spec(), {"db": 1, "server": 1, "client": 2})
    if todo:
        app.at(0.2, lambda: add_todo(app, "client-1", "milk"))
    result = world.run(duration="1s")
    return world, app, {c.name: c for c in result.checks}


def _check(world: World, name: str) -> CheckResult:
    return dict(world.checks)[name](world)


def test_a_run_that_created_nothing_says_not_checked_where_there_was_nothing_to_check() -> None:
    _, _, checks = _run(todo=False)
    status = {name: c.status for name, c in checks.items()}
    assert status == {"app.effects": "ok", "app.convergence": "ok", "app.durability": "not checked",
                      "app.leaks": "not checked", "app.on_demand": "ok"}
    assert checks["app.durability"].message == "the workload created no data"
    assert checks["app.leaks"].message == "the workload created no data"


def test_with_data_the_same_checks_look_and_pass() -> None:
    _, _, checks = _run()
    assert {name: c.status for name, c in checks.items()} == dict.fromkeys(checks, "ok")
    assert checks["app.durability"].message == "all 1 created data reached the top zone"
    assert checks["app.effects"].details["states"] > 0


def test_app_effects_fails_on_a_state_holding_a_value_its_type_does_not_allow() -> None:
    world, app, checks = _run()
    assert checks["app.effects"].ok
    # written past the type check: task_input is declared an LWWRegister of string
    app.node("client-1").states["task_input"] = LWWRegister().set("client-1", 42, 5.0)
    result = _check(world, "app.effects")
    assert not result.ok and result.status == "failed"
    assert result.details["misfits"] == [{"node": "client-1", "path": "/client/task_input",
                                          "found": "a value 42 where string is declared"}]


def test_app_effects_fails_on_a_state_of_the_wrong_crdt_type() -> None:
    world, app, _ = _run()
    app.node("client-2").states["task_input"] = GSet()
    result = _check(world, "app.effects")
    assert not result.ok and "/client/task_input@client-2" in result.message


def test_app_effects_fails_in_a_lenient_run_too() -> None:
    world = World(seed=1, trace="full")
    app = launch(world, todo_spec(), {"db": 1, "server": 1, "client": 1}, strict=False)
    world.run(duration="0.5s")
    assert _check(world, "app.effects").ok
    app.node("server-1").states["user_count"] = LWWRegister().set("server-1", "many", 5.0)
    assert not _check(world, "app.effects").ok


def test_app_on_demand_fails_on_a_run_for_a_disconnected_subscriber() -> None:
    def ev(kind: str, **fields: Any) -> TraceEvent:
        return TraceEvent(0, 1.0, kind, fields)

    events = [ev("app.subscribe", node="server-1", subscriber="client-1", conn="c1"),
              ev("app.unsubscribe", node="server-1", subscriber="client-1", conn="c1"),
              ev("app.compute", node="server-1", subscriber="client-1", conn="c1", comp="/server/f")]
    assert work_for_disconnected(events) == [{"t": 1.0, "node": "server-1", "subscriber": "client-1",
                                              "comp": "/server/f"}]
    assert work_for_disconnected(events[:1] + events[2:]) == []
