"""Challenge 2: a primary takes every write, replicas serve reads, staleness is measured."""

from __future__ import annotations

import pytest

from sim.apps import launch
from sim.apps.replicas import replicate
from sim.apps.todo import add_todo, todo_spec
from sim.cli import bundled
from sim.errors import ConfigError
from sim.report import render
from sim.scenario import Scenario, run_scenario
from sim.world import World


def test_replicas_serve_reads_lag_behind_the_primary_and_converge() -> None:
    run = run_scenario(Scenario.from_yaml(bundled()["todo-replicas"]))
    assert run.result is not None and run.result.ok, run.result and run.result.checks
    report = run.summary()
    r = report["app"]["replicas"]
    assert r["primary"] == "db-1" and r["replicas"] == ["db-2", "db-3"]
    # all writes go to the primary, all reads to the replicas
    assert set(r["writes"]) == {"db-1"} and r["writes"]["db-1"] > 0
    assert "replica_writes" not in report["app"]["counters"]
    assert set(r["reads"]) == {"db-2", "db-3"} and all(n > 0 for n in r["reads"].values())
    assert r["replicated"] == 2 * r["writes"]["db-1"]
    # under 30ms links some reads were served before the replica had the primary's latest writes
    assert r["stale_reads"] > 0
    assert r["staleness"]["max_missing_writes"] >= 1 and r["staleness"]["max_seconds"] > 0
    assert r["converged"] == {"db-2": True, "db-3": True}
    primary = run.app.node("db-1").state("all_todos")
    assert all(run.app.node(n).state("all_todos") == primary for n in ("db-2", "db-3"))
    assert all(run.app.node(s).state("todos") == primary for s in ("server-1", "server-2"))
    assert {c["name"]: c["ok"] for c in report["checks"]}["app.replicas"]
    assert "stale (max" in render(report)
    # servers read from (are connected to) replicas
    assert {run.app.node(s).providers["db"] for s in ("server-1", "server-2")} == {"db-2", "db-3"}


def test_no_staleness_without_concurrent_writes_and_a_lagging_replica_is_caught() -> None:
    world = World(seed=3, trace="full")
    app = launch(world, todo_spec(), {"db": 2, "server": 1, "client": 2})
    rep = replicate(app, "db")
    app.at(0.2, lambda: add_todo(app, "client-1", "milk"))
    assert world.run(duration="1s").ok
    assert rep.writes == {"db-1": 1} and rep.staleness and not any(m for m, _ in rep.staleness)
    assert [dict(t)["title"] for t in app.node("client-1").value("my_todos")] == ["milk"]
    # a replica that missed a write fails the check
    app.node("db-2").states["all_todos"] = type(app.node("db-2").state("all_todos"))()
    assert not rep.check(world).ok


def test_replicas_need_two_nodes() -> None:
    world = World(seed=1)
    app = launch(world, todo_spec(), {"db": 1, "server": 1, "client": 1})
    with pytest.raises(ConfigError, match="at least 2 nodes"):
        replicate(app, "db")


def test_a_replica_that_crashed_resyncs_from_the_primary() -> None:
    data = Scenario.from_yaml(bundled()["todo-replicas"]).data
    data["faults"] = [{"at": "0.8s", "crash": "db-2"}, {"at": "1.6s", "restart": "db-2"}]
    run = run_scenario(Scenario.from_data(data))
    assert run.result is not None and run.result.ok, run.result and run.result.checks
    assert run.app.counters["replica_resyncs"] == 1
    assert run.summary()["app"]["replicas"]["converged"] == {"db-2": True, "db-3": True}
    stale = [e for e in run.world.trace.events if e.kind == "app.stale_read" and e.fields["node"] == "db-2"]
    assert stale and max(e.fields["seconds"] for e in stale) > 0.5  # it served reads right after restarting
    primary = run.app.node("db-1").state("all_todos")
    assert all(run.app.node(s).state("todos") == primary for s in ("server-1", "server-2"))


def test_challenge_2_read_replicas_take_the_reads_off_the_primary() -> None:
    with_replicas = run_scenario(Scenario.from_yaml(bundled()["todo-replicas"]))
    data = Scenario.from_yaml(bundled()["todo-replicas"]).data
    del data["app"]["replicas"]
    data["zones"]["db"] = 1
    data["faults"] = [f for f in data["faults"] if "db-2" not in (f.get("crash"), f.get("restart"))]
    alone = run_scenario(Scenario.from_data(data))
    assert with_replicas.result is not None and with_replicas.result.ok
    assert alone.result is not None and alone.result.ok
    busy, relieved = alone.summary()["app"]["load"]["db-1"], with_replicas.summary()["app"]["load"]["db-1"]
    assert busy["reads"] > 0 and relieved["reads"] == 0  # replicas serve every read
    assert busy["writes"] > 0 and relieved["writes"] > 0  # the primary takes every write either way
    staleness = with_replicas.summary()["app"]["replicas"]["staleness"]
    assert 0 <= staleness["p50_seconds"] <= staleness["p95_seconds"] <= staleness["p99_seconds"] \
        <= staleness["max_seconds"]
    assert staleness["max_seconds"] > 0  # some reads were served behind the primary
