"""The app model: spec validation, the runtime, effects type checks, sessions, leaks."""

from __future__ import annotations

import pytest

from sim.apps import AppSpec, Computation, DependencyCycleError, DerivedState, EffectTypeError, Registry, launch
from sim.apps.checks import find_leaks
from sim.apps.session import forge
from sim.apps.todo import add_todo, todo_spec, todo_workload
from sim.errors import ConfigError
from sim.world import World


def _todo(seed: int = 1, clients: int = 3, **options: object) -> tuple[World, object]:
    world = World(seed=seed, trace="full")
    app = launch(world, options.pop("spec", todo_spec()), {"db": 1, "server": 2, "client": clients},
                 **options)  # type: ignore[arg-type]
    return world, app


def test_todos_reach_only_their_users_client() -> None:
    world, app = _todo()
    app.at(0.2, lambda: add_todo(app, "client-1", "milk"))
    app.at(0.3, lambda: add_todo(app, "client-2", "bread"))
    result = world.run(duration="1s")
    assert result.ok, result.checks
    titles = {n: [dict(t)["title"] for t in app.node(n).value("my_todos")] for n in ("client-1", "client-2",
                                                                                      "client-3")}
    assert titles == {"client-1": ["milk"], "client-2": ["bread"], "client-3": []}
    assert app.node("server-1").value("user_count") == 2
    assert app.node("client-1").value("ui")["summary"] == (("done", 0), ("open", 1))
    assert [c.name for c in result.checks] == ["app.effects", "app.leaks", "app.on_demand"]


def test_same_seed_same_digest() -> None:
    digests = []
    for _ in range(2):
        world, app = _todo(seed=5)
        world.add_workload(todo_workload(app, "10/s"))
        digests.append(world.run(duration="1s").trace_digest)
    assert digests[0] == digests[1]


def test_dependency_cycle_is_named_at_build_time() -> None:
    reg = Registry("r", {"f": lambda n, e: None, "g": lambda n, e: None})
    with pytest.raises(DependencyCycleError, match=r"cycle: .*/z/a.* -> .*/z/a"):
        AppSpec({"z": {"a": DerivedState("LWWRegister", "number", "/z/f", ("/z/b",)),
                       "b": DerivedState("LWWRegister", "number", "/z/g", ("/z/a",)),
                       "f": Computation("f"), "g": Computation("g")}}, registry=reg)


def test_unknown_crdt_value_type_and_nonlocal_dependency_are_config_errors() -> None:
    reg = Registry("r", {"f": lambda n, e: None})
    with pytest.raises(ConfigError, match="crdt must be one of"):
        AppSpec.from_dict({"zones": {"z": {"a": {"crdt": "Nope", "value": "number"}}}}, reg)
    with pytest.raises(ConfigError, match="value must be one of"):
        AppSpec.from_dict({"zones": {"z": {"a": {"crdt": "GSet", "value": "date"}}}}, reg)
    with pytest.raises(ConfigError, match="computations read local state only"):
        AppSpec.from_dict({"zones": {"z": {"a": {"crdt": "GSet", "value": "number"}, "f": {"computation": "f"}},
                                     "y": {"b": {"crdt": "GSet", "value": "number", "computer": "/z/f",
                                                 "depends_on": ["/y/b"]}}},
                           "channels": [{"from": "z", "to": "y"}]}, reg)
    with pytest.raises(ConfigError, match="must be registered"):
        AppSpec.from_dict({"zones": {"z": {"f": {"computation": "missing"}}}}, reg)


def test_incompatible_effect_raises_naming_computation_path_and_types() -> None:
    world, app = _todo(spec=todo_spec(user_count="calculate_user_count_as_set"))
    app.at(0.2, lambda: add_todo(app, "client-1", "milk"))
    with pytest.raises(EffectTypeError) as err:
        world.run(duration="1s")
    text = str(err.value)
    assert "/db/calculate_user_count_as_set" not in text  # the path of the computation, not its function
    assert "computation /db/calculate_user_count sent a GSetAdd op" in text
    assert "/server/user_count, which holds a LWWRegister of number" in text


def test_wrong_value_type_is_rejected() -> None:
    world, app = _todo()
    world.run(duration="0.1s")
    with pytest.raises(EffectTypeError, match="string"):
        app.inject_local_mutation("client-1", "/client/task_input", "set", 42, 1.0)


def test_forged_and_stolen_sessions_are_rejected_and_leak_nothing() -> None:
    world, app = _todo()
    app.at(0.2, lambda: add_todo(app, "client-1", "secret"))

    def attack() -> None:
        node = app.node("client-3")
        # client-3 claims to be u1 with a made-up signature
        node.connect("server", forge({"user": "u1", "node": "client-3", "issuer": "server-1", "exp": 99.0}))
        # and replays client-1's genuine session
        node.connect("server", app.node("client-1").session)

    app.at(0.5, attack)
    result = world.run(duration="1s")
    assert result.ok, result.checks
    assert app.counters["sessions_rejected_forged"] == 1
    assert app.counters["sessions_rejected_stolen"] == 1
    assert app.node("client-3").value("my_todos") == ()


def test_expired_sessions_are_dropped_and_clients_log_in_again() -> None:
    world, app = _todo(session_ttl=0.3)
    app.at(0.5, lambda: add_todo(app, "client-1", "milk"))
    result = world.run(duration="1s")
    assert result.ok, result.checks
    assert app.counters["sessions_rejected_expired"] >= 1


def test_broken_access_rule_is_caught_by_the_leak_checker() -> None:
    world, app = _todo(spec=todo_spec(filter_rule="filter_todos_broken"))
    app.at(0.2, lambda: add_todo(app, "client-1", "secret"))
    result = world.run(duration="1s")
    leaks = find_leaks(world.trace.events, ["client"])
    assert leaks and {leak["node"] for leak in leaks} == {"client-2", "client-3"}
    assert not result.ok and "leaks" in next(c for c in result.checks if c.name == "app.leaks").message


def test_expired_client_gets_a_fresh_session_and_keeps_receiving() -> None:
    world, app = _todo(session_ttl=0.3)
    app.at(0.8, lambda: add_todo(app, "client-1", "late"))
    assert world.run(duration="1s").ok
    assert [dict(t)["title"] for t in app.node("client-1").value("my_todos")] == ["late"]
