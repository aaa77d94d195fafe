"""Challenge 3: a computation done by a Node.js program over JSON lines."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from sim.apps import launch
from sim.apps.external import External, ExternalComputationError, ExternalPrograms, from_data, pool_for, to_data
from sim.apps.todo import TODO, add_todo, todo_spec, todo_workload
from sim.world import World

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node (Node.js) is not installed")

JS = {"filter_rule": "filter_todos_for_user_js", "user_count": "calculate_user_count_js"}


def _run(seed: int = 3, **variant: str) -> tuple[World, Any]:
    world = World(seed=seed, trace="full")
    app = launch(world, todo_spec(**variant), {"db": 1, "server": 2, "client": 3})
    world.add_workload(todo_workload(app, "10/s"))
    world.run(duration="1s")
    return world, app


def test_json_round_trip_of_app_values() -> None:
    value = (("done", False), ("tags", ("a", "b")), ("title", "milk"))
    assert to_data(value) == {"done": False, "tags": ["a", "b"], "title": "milk"}
    assert from_data(to_data(value)) == value


@pytest.mark.parametrize("seed", [3, 8])
def test_results_equal_the_python_computations_and_the_runs_are_deterministic(seed: int) -> None:
    py_world, py = _run(seed)
    js_world, js = _run(seed, **JS)
    again, _ = _run(seed, **JS)
    for node in py.zone_nodes("client"):
        assert js.node(node).value("my_todos") == py.node(node).value("my_todos")
    assert js.node("server-2").value("user_count") == py.node("server-2").value("user_count") >= 2
    # the same trace event for event; the JS run only adds its app.external check
    events = [(e.t, e.kind, e.fields) for e in js_world.trace.events]
    assert [e for e in events if e[2].get("name") != "app.external"] == \
        [(e.t, e.kind, e.fields) for e in py_world.trace.events]
    assert js.runs["/server/filter_todos_for_user"] == py.runs["/server/filter_todos_for_user"] > 0
    assert js_world.trace.digest() == again.trace.digest()
    procs = pool_for(js).procs
    assert set(procs) == {"/server/filter_todos_for_user", "/db/calculate_user_count"}
    assert all(p.proc is None for p in procs.values())  # stopped at the end of the run


BAD = {
    "error": "lines.on('line', (l) => console.log(JSON.stringify({id: JSON.parse(l).id, error: 'no todos for you'})));",
    "exit": "process.stderr.write('segfault-ish\\n'); process.exit(3);",
    "malformed": "lines.on('line', () => console.log('this is not json'));",
    "hang": "lines.on('line', () => {});",
    "slow": "lines.on('line', (l) => console.log(JSON.stringify({id: JSON.parse(l).id, effects: [], cost: 2})));",
}
REASON = {"error": "error reply: no todos for you", "exit": "exited with status 3: segfault-ish",
          "malformed": "malformed output 'this is not json'",
          "hang": "hung: no reply within 0.5 wall seconds",
          "slow": "took 2 simulated seconds, over its budget of 0.05"}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_failing_program_stops_the_run_naming_computation_and_program(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / f"{kind}.js"
    script.write_text("const lines = require('readline').createInterface({input: process.stdin});\n" + BAD[kind])
    monkeypatch.setitem(TODO.functions, "filter_todos_for_user_js",
                        External("filter_todos_for_user", ("todos",), script=script,
                                 timeout=0.5 if kind == "hang" else 30.0))  # the net: only a hung program hits it
    world = World(seed=1, trace="full")
    app = launch(world, todo_spec(filter_rule="filter_todos_for_user_js"), {"db": 1, "server": 1, "client": 2})
    app.at(0.2, lambda: add_todo(app, "client-1", "milk"))
    with pytest.raises(ExternalComputationError) as err:
        world.run(duration="1s")
    assert err.value.computation == "/server/filter_todos_for_user"
    assert str(err.value).startswith(f"external computation /server/filter_todos_for_user (program node {script} "
                                     f"filter_todos_for_user) failed: {REASON[kind]}")
    assert all(p.proc is None for p in pool_for(app).procs.values())  # nothing left running


def test_the_budget_is_simulated_so_a_call_over_it_fails_the_same_way_every_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    messages = []
    for _ in range(2):
        monkeypatch.setitem(TODO.functions, "filter_todos_for_user_js",
                            External("filter_todos_for_user", ("todos",), budget=1e-4))
        world = World(seed=1, trace="full")
        launch(world, todo_spec(filter_rule="filter_todos_for_user_js"), {"db": 1, "server": 1, "client": 2})
        with pytest.raises(ExternalComputationError, match="simulated seconds, over its budget of 0.0001") as err:
            world.run(duration="1s")
        messages.append((str(err.value), world.now))
    assert messages[0] == messages[1]


ANSWER_ONCE = ("import json, sys\n"
               "request = json.loads(sys.stdin.readline())\n"
               "print(json.dumps({'id': request['id'], 'effects': []}), flush=True)\n"
               "AFTER\n")


def _served(tmp_path: Path, after: str) -> tuple[ExternalPrograms, Any]:
    """An extension whose one program answered one call, then did ``after``."""
    script = tmp_path / "program.py"
    script.write_text(ANSWER_ONCE.replace("AFTER", after))
    programs = ExternalPrograms()
    proc = programs.get("/server/filter_todos_for_user", [sys.executable, str(script)], timeout=30.0)
    assert proc.call({"id": 1}) == {"id": 1, "effects": []}
    return programs, proc


def test_app_external_fails_on_a_program_that_exited_during_the_run(tmp_path: Path) -> None:
    programs, proc = _served(tmp_path, "sys.exit(3)")
    proc.proc.wait(timeout=30)
    result = programs.check(World())
    assert result.status == "failed"
    assert result.message == "external programs exited during the run: /server/filter_todos_for_user (status 3)"
    programs.close()


def test_app_external_passes_on_a_program_still_serving_and_stops_nothing(tmp_path: Path) -> None:
    programs, proc = _served(tmp_path, "sys.stdin.read()")  # serves until its input closes
    result = programs.check(World())
    assert result.status == "ok" and result.details["calls"] == {"/server/filter_todos_for_user": 1}
    assert proc.proc is not None and proc.proc.poll() is None  # the check only looks
    programs.close()
    assert proc.proc is None


def test_app_external_is_not_checked_when_nothing_ran_externally() -> None:
    world = World(seed=1, trace="full")
    launch(world, todo_spec(), {"db": 1, "server": 1, "client": 1}, extensions=[ExternalPrograms()])
    result = {c.name: c for c in world.run(duration="0.5s").checks}["app.external"]
    assert result.status == "not checked" and result.message == "no computation ran in an external program"


def test_the_programs_stop_at_the_end_of_the_run_even_with_their_check_disabled() -> None:
    world = World(seed=3, trace="full")
    app = launch(world, todo_spec(**JS), {"db": 1, "server": 1, "client": 2}, extensions=[ExternalPrograms()])
    world.add_workload(todo_workload(app, "10/s"))
    # as a scenario's `checks: {app.external: false}` does
    world.checks = [(n, c) for n, c in world.checks if n != "app.external"]
    result = world.run(duration="0.5s")
    assert result.ok and "app.external" not in {c.name for c in result.checks}
    procs = pool_for(app).procs
    assert procs and all(p.calls > 0 and p.proc is None for p in procs.values())
