"""The app model: spec validation, the runtime, effects type checks, sessions, the checks."""

from __future__ import annotations

from typing import Any

import pytest

from crdt import LWWMap
from sim.apps import AppSpec, Computation, DependencyCycleError, DerivedState, EffectTypeError, Registry, launch
from sim.apps.checks import divergences, find_leaks, lost_data
from sim.apps.runtime import AppRuntime
from sim.apps.session import Session, forge
from sim.apps.todo import add_todo, own_writes, todo_spec, todo_workload
from sim.errors import ConfigError
from sim.faults import fault_from_spec
from sim.world import World


def _todo(seed: int = 1, clients: int = 3, link: dict[str, Any] | None = None,
          **options: Any) -> tuple[World, AppRuntime]:
    world = World(seed=seed, trace="full")
    app = launch(world, options.pop("spec", todo_spec()), {"db": 1, "server": 2, "client": clients}, link,
                 **options)
    return world, app


def _titles(app: AppRuntime, node: str) -> list[str]:
    return [dict(t)["title"] for t in app.node(node).value("my_todos")]


def test_todos_reach_only_their_users_client() -> None:
    world, app = _todo()
    app.at(0.2, lambda: add_todo(app, "client-1", "milk"))
    app.at(0.3, lambda: add_todo(app, "client-2", "bread"))
    result = world.run(duration="1s")
    assert result.ok, result.checks
    titles = {n: _titles(app, n) for n in ("client-1", "client-2", "client-3")}
    assert titles == {"client-1": ["milk"], "client-2": ["bread"], "client-3": []}
    assert app.node("server-1").value("user_count") == 2
    assert app.node("client-1").value("ui")["summary"] == (("done", 0), ("open", 1))
    assert [c.name for c in result.checks] == ["app.effects", "app.convergence", "app.durability", "app.leaks",
                                               "app.on_demand"]


def test_same_seed_same_digest() -> None:
    digests = []
    for _ in range(2):
        world, app = _todo(seed=5)
        world.add_workload(todo_workload(app, "10/s"))
        digests.append(world.run(duration="1s").trace_digest)
    assert digests[0] == digests[1]


LOSSY = {"latency": {"exponential": {"mean": "15ms", "min": "2ms"}}, "loss": 0.3, "duplicate": 0.2}


@pytest.mark.parametrize("seed", range(5))
def test_effects_survive_loss_and_duplication(seed: int) -> None:
    world, app = _todo(seed=seed, link=LOSSY)
    world.add_workload(todo_workload(app, "10/s"))
    result = world.run(duration="1.5s")
    assert result.ok, result.checks
    assert app.counters["effects_resent"] > 0 and app.counters["duplicates_dropped"] > 0
    db = app.node("db-1").value("all_todos")
    for client, user in app.users.items():
        assert app.node(client).value("my_todos") == tuple(v for k, v in sorted(db.items())
                                                           if dict(v)["user"] == user)


def test_the_send_once_variant_loses_writes_and_the_checks_say_so() -> None:
    world, app = _todo(seed=2, link=LOSSY, send_once=True)
    world.add_workload(todo_workload(app, "10/s"))
    result = world.run(duration="1.5s")
    failed = {c.name for c in result.checks if not c.ok}
    assert {"app.convergence", "app.durability"} <= failed
    assert lost_data(app) and divergences(app)


def test_a_restarted_server_rotates_its_key_and_its_clients_log_in_again() -> None:
    world, app = _todo(clients=2)
    before: dict[str, Session | None] = {}

    def crash() -> None:
        before["s"] = app.node("client-1").session
        world.crash("server-1")

    app.at(0.3, crash)
    app.at(0.5, lambda: world.restart("server-1"))
    app.at(0.8, lambda: add_todo(app, "client-1", "after"))
    result = world.run(duration="1.5s")
    assert result.ok, result.checks
    assert app.check_session(before["s"], "client-1") == "rotated"
    assert app.node("client-1").session != before["s"] and _titles(app, "client-1") == ["after"]


@pytest.mark.parametrize("send_once", [False, True])
def test_the_quiet_phase_waits_for_unacknowledged_effects(send_once: bool) -> None:
    world, app = _todo(clients=1, send_once=send_once)
    world.set_faults([fault_from_spec({"at": "0.9s", "partition": [["client-1"]], "duration": "0.1s"})])
    app.at(0.95, lambda: add_todo(app, "client-1", "late"))  # cut off: lost unless re-sent after the heal
    result = world.run(duration="1s")
    if send_once:
        assert not result.ok and lost_data(app) == ["u1/1"]
        return
    assert result.ok, result.checks
    assert result.phases["quiet"][1] > 1.0 and _titles(app, "client-1") == ["late"]


def test_the_convergence_check_fails_on_a_stale_derived_state() -> None:
    world, app = _todo()
    app.at(0.2, lambda: add_todo(app, "client-1", "milk"))
    assert world.run(duration="1s").ok
    node = app.node("client-1")
    node.states["my_todos"] = type(node.state("my_todos"))()  # forget what the server sent
    # and the ui it renders from it: both differ from what their computations give
    assert [d["path"] for d in divergences(app)] == ["/client/my_todos", "/client/ui"]


def test_dependency_cycle_is_named_at_build_time() -> None:
    reg = Registry("r", {"f": lambda n, e: None, "g": lambda n, e: None})
    with pytest.raises(DependencyCycleError, match=r"cycle: .*/z/a.* -> .*/z/a"):
        AppSpec({"z": {"a": DerivedState("LWWRegister", "number", "/z/f", ("/z/b",)),
                       "b": DerivedState("LWWRegister", "number", "/z/g", ("/z/a",)),
                       "f": Computation("f"), "g": Computation("g")}}, registry=reg)


def test_unknown_crdt_value_type_and_nonlocal_dependency_are_config_errors() -> None:
    reg = Registry("r", {"f": lambda n, e: None})
    with pytest.raises(ConfigError, match="crdt must be one of"):
        AppSpec.from_data({"zones": {"z": {"a": {"crdt": "Nope", "value": "number"}}}}, reg)
    with pytest.raises(ConfigError, match="value must be one of"):
        AppSpec.from_data({"zones": {"z": {"a": {"crdt": "GSet", "value": "date"}}}}, reg)
    with pytest.raises(ConfigError, match="computations read local state only"):
        AppSpec.from_data({"zones": {"z": {"a": {"crdt": "GSet", "value": "number"}, "f": {"computation": "f"}},
                                     "y": {"b": {"crdt": "GSet", "value": "number", "computer": "/z/f",
                                                 "depends_on": ["/y/b"]}}},
                           "channels": [{"from": "z", "to": "y"}]}, reg)
    with pytest.raises(ConfigError, match="must be registered"):
        AppSpec.from_data({"zones": {"z": {"f": {"computation": "missing"}}}}, reg)


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
        node.attack_connect("server", resume=forge({"user": "u1", "node": "client-3", "issuer": "server-1",
                                                    "exp": 99.0}))
        node.attack_connect("server", resume=app.node("client-1").session)
        node.attack_connect("server", login={"user": "u1", "password": "guess"})

    app.at(0.5, attack)
    result = world.run(duration="1s")
    assert result.ok, result.checks
    assert app.counters["sessions_rejected_forged"] == 1
    assert app.counters["sessions_rejected_stolen"] == 1
    assert app.counters["sessions_rejected_bad_credentials"] == 1
    assert app.node("client-3").value("my_todos") == () and not find_leaks(app)
    assert sorted(e.fields["reason"] for e in world.trace.events if e.kind == "app.reject") == \
        ["bad_credentials", "forged", "stolen"]


def test_a_server_that_believes_the_claimed_user_leaks_and_the_oracle_sees_it() -> None:
    world, app = _todo(login="trust_claim")
    app.at(0.2, lambda: add_todo(app, "client-1", "secret"))
    app.at(0.5, lambda: app.node("client-3").attack_connect("server", login={"user": "u1", "password": "x"}))
    result = world.run(duration="1s")
    leaks = find_leaks(app)
    assert leaks and {leak["node"] for leak in leaks} == {"client-3"} and leaks[0]["foreign"] == ["u1/1"]
    assert not next(c for c in result.checks if c.name == "app.leaks").ok


@pytest.mark.parametrize("shape", ["issuer_list", "claims_none", "nan_exp", "bytes_signature", "not_a_session"])
def test_a_malformed_session_is_rejected_and_counted_never_a_crash(shape: str) -> None:
    from sim.apps.session import malformed

    world, app = _todo(clients=2)
    app.at(0.3, lambda: app.node("client-2").attack_connect("server", resume=malformed(shape)))
    result = world.run(duration="1s")
    assert result.ok, result.checks
    assert app.counters["sessions_rejected_malformed"] == 1


def test_sessions_are_renewed_before_they_expire_and_clients_keep_receiving() -> None:
    world, app = _todo(session_ttl=0.3)
    app.at(0.8, lambda: add_todo(app, "client-1", "late"))
    assert world.run(duration="1s").ok
    assert app.counters["sessions_renewed"] >= 3
    assert _titles(app, "client-1") == ["late"]


def test_a_removed_user_can_neither_log_in_nor_keep_a_session() -> None:
    world, app = _todo(clients=2)
    app.at(0.2, lambda: add_todo(app, "client-2", "mine"))
    app.at(0.4, lambda: app.remove_user("u2"))
    app.at(0.6, lambda: add_todo(app, "client-1", "after"))  # reruns the filter: u2's session is checked
    result = world.run(duration="1s")
    assert result.ok, result.checks
    assert app.locked_out == {"client-2": "removed"} and app.counters["sessions_rejected_removed"] >= 1


def test_the_write_guard_compares_whole_ids() -> None:
    session = forge({"user": "a", "node": "client-1", "issuer": "server-1", "exp": 9.0})

    def todo(key: str, user: str = "a") -> LWWMap:
        return LWWMap().set("c", key, (("id", key), ("user", user)), 1.0)

    assert own_writes("/db/all_todos", todo("a/1"), session)
    assert not own_writes("/db/all_todos", todo("a/b/1"), session)
    assert not own_writes("/db/all_todos", todo("ab/1"), session)
    assert not own_writes("/db/all_todos", todo("b/1", "a"), session)
    assert not own_writes("/db/all_todos", LWWMap().delete("c", "b/1", 1.0), session)
    assert own_writes("/db/all_todos", LWWMap().delete("c", "a/1", 1.0), session)


def test_broken_access_rule_is_caught_by_the_leak_oracle() -> None:
    world, app = _todo(spec=todo_spec(filter_rule="filter_todos_broken"))
    app.at(0.2, lambda: add_todo(app, "client-1", "secret"))
    result = world.run(duration="1s")
    leaks = find_leaks(app)
    assert leaks and {leak["node"] for leak in leaks} == {"client-2", "client-3"}
    assert not result.ok and "leaks" in next(c for c in result.checks if c.name == "app.leaks").message


def test_the_eager_variant_is_caught_by_the_on_demand_check() -> None:
    world, app = _todo(eager=True)
    app.at(0.2, lambda: add_todo(app, "client-1", "milk"))
    app.at(0.3, lambda: add_todo(app, "client-2", "bread"))
    result = world.run(duration="1s")
    check = next(c for c in result.checks if c.name == "app.on_demand")
    assert not check.ok and check.details["resent_count"] > 0
    lazy_world, lazy = _todo()
    lazy.at(0.2, lambda: add_todo(lazy, "client-1", "milk"))
    lazy.at(0.3, lambda: add_todo(lazy, "client-2", "bread"))
    assert lazy_world.run(duration="1s").ok
    assert lazy.counters["effects_sent"] < app.counters["effects_sent"]
    assert lazy.counters["effects_unchanged"] > 0


def test_keys_are_held_by_the_keyring_alone() -> None:
    world, app = _todo(clients=1)
    world.run(duration="0.5s")
    keyring = app._keys
    public = [n for n in dir(keyring) if not n.startswith("_")]
    assert sorted(public) == ["issue", "knows", "rotate", "verify"]
    found = [n for n in dir(app) + dir(app.node("server-1")) if "secret" in n.lower() or "key" in n.lower()]
    assert not [n for n in found if not n.startswith("_")]
    # two runs of one seed: the same digest, but different keys (nothing re-derives them)
    sessions, digests = [], []
    for _ in range(2):
        w, a = _todo(clients=1)
        digests.append(w.run(duration="0.5s").trace_digest)
        sessions.append(a.node("client-1").session)
    assert digests[0] == digests[1] and sessions[0] is not None and sessions[1] is not None
    assert sessions[0].claims == sessions[1].claims and sessions[0].signature != sessions[1].signature


def test_the_runtime_knows_no_particular_app() -> None:
    import ast
    from pathlib import Path

    import sim.apps

    generic = ("runtime", "node", "effects", "delivery", "session", "checks", "spec", "storage")
    for name in generic:
        tree = ast.parse((Path(sim.apps.__file__).parent / f"{name}.py").read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [m for m in imported if m.endswith(("todo", "progress", "replicas", "external"))], name


def test_an_extension_is_declared_at_construction_and_only_once() -> None:
    from sim.apps.replicas import Replication

    world = World(seed=1)
    world.add_nodes("db", 2)
    world.connect("db", "complete")
    spec = todo_spec()
    app = launch(world, spec, {"server": 1, "client": 1}, extensions=[Replication("db")])
    assert app.write_targets == {"db": "db-1"} and app.node("server-1").providers["db"] == "db-2"
    with pytest.raises(ConfigError, match="one of each kind"):
        app.extend(Replication("db"))


def test_garbage_from_a_client_is_rejected_never_a_crash() -> None:
    from crdt import GSet
    from sim.apps.runtime import HEADER_BYTES, Effect
    from sim.apps.session import Session as S

    world, app = _todo(clients=2)

    def garbage() -> None:
        node = app.node("client-2")
        conn = node.conns[node.up["server"]]
        node.send_effect(conn, "attack", Effect("/db/all_todos", GSet().add("c", "x")), node.session)
        for payload in (None, "x", {"conn": conn.id, "seq": "1", "body": []},
                        {"conn": conn.id, "seq": 99, "body": {"kind": "effect", "path": 3, "msg": None}},
                        {"conn": conn.id, "seq": 98, "body": {"kind": "nope"}}):
            node.node.send("server-1", "app.data", payload, HEADER_BYTES)
        for payload in (None, {"conn": 5}, {"conn": "c", "login": [], "resume": S((("user", b"x"),), "0" * 64)}):
            node.node.send("server-1", "app.connect", payload, HEADER_BYTES)

    app.at(0.3, garbage)
    result = world.run(duration="1s")
    assert result.ok, result.checks
    assert app.counters["sessions_rejected_malformed"] >= 4
