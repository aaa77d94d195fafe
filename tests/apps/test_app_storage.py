"""Challenge 1: RAM in front of a SQLite store per client; a crashed client reloads and catches up."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest

from sim.apps.storage import SqliteStore
from sim.apps.todo import todos_of
from sim.cli import bundled
from sim.scenario import Scenario, build, run_scenario
from sim.scenario.errors import ScenarioError


def _titles(todos: Any) -> list[str]:
    return [dict(t)["title"] for t in todos]


def test_a_restarted_client_reloads_its_pre_crash_state_then_converges_with_the_db() -> None:
    run = build(Scenario.from_yaml(bundled()["todo-storage"]))
    client = run.app.node("client-2")
    node = run.world.node("client-2")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    crash, restart = node.crash, node.restart

    def crash_and_capture() -> None:
        before.update(client.states)  # RAM just before it is lost
        crash()

    def restart_and_capture() -> None:
        restart()  # start hooks reload from SQLite; no message has arrived yet
        after.update(client.states)

    node.crash, node.restart = crash_and_capture, restart_and_capture  # type: ignore[method-assign]
    try:
        result = run.run()
        assert result.ok, result.checks
        assert before and after == before
        store = run.app.stores["client"]
        assert isinstance(store, SqliteStore)
        assert [n for n, _ in store.loads].count("client-2") == 2  # at start, and after the restart
        # the server's answer to the last edit before the crash was lost with the node: the
        # reloaded my_todos lacks it, the catch-up brings it (and the edit made after restart)
        assert "call mum" not in _titles(before["my_todos"].value())
        assert dict(before["edits"].value()["u2/3"])["title"] == "call mum"  # persisted before the crash
        db = run.app.node("db-1").state("all_todos")
        assert client.value("my_todos") == todos_of(db, "u2")
        assert _titles(client.value("my_todos")) == ["milk", "taxes", "call mum", "after restart"]
        assert dict(client.value("ui")["summary"])["open"] == 4
    finally:
        run.cleanup()


def test_sqlite_files_in_the_output_dir_use_wal_and_temporary_dirs_are_removed(tmp_path: Path) -> None:
    run = run_scenario(Scenario.from_yaml(bundled()["todo-storage"]), out=tmp_path)
    files = sorted(p.name for p in (tmp_path / "app").glob("*.sqlite"))
    assert files == ["client-1.sqlite", "client-2.sqlite", "client-3.sqlite"]
    with sqlite3.connect(tmp_path / "app" / "client-2.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {r[0] for r in db.execute("SELECT name FROM states")}
    assert {"edits", "my_todos", "ui"} <= names
    assert run.app.stores["client"]._conns == {}  # closed at the end of the run

    temp = build(Scenario.from_yaml(bundled()["todo-storage"]))
    workdir = temp.workdir
    assert temp.temporary and workdir is not None and workdir.exists()
    temp.run()
    temp.cleanup()
    assert not workdir.exists()


def test_an_invalid_scenario_with_sqlite_storage_leaves_no_temporary_directory(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = Scenario.from_yaml(bundled()["todo-storage"]).data
    data["app"]["replicas"] = {"zone": "db"}  # invalid with one db node, found after the directory is made
    with pytest.raises(ScenarioError, match="at least 2 nodes"):
        build(Scenario.from_data(data))
    assert list(tmp_path.iterdir()) == []
