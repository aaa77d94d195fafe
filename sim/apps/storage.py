"""Multi-layer client storage (challenge 1): RAM in front of a durable SQLite store.

A zone given a store keeps its states in the node's volatile memory (RAM, lost on a crash) and
writes every change through to the store; on (re)start the node reloads them from it. The
:class:`SqliteStore` keeps one SQLite file per node (``<dir>/<node>.sqlite``, WAL mode), one row
per state holding its canonical encoding; each save is one autocommitted ``INSERT OR REPLACE``.
A crash closes the node's connection, as the death of the process would; the next load reopens
the file.

>>> import tempfile
>>> from crdt import LWWRegister
>>> with tempfile.TemporaryDirectory() as d:
...     store = SqliteStore(d)
...     store.save("client-1", "title", LWWRegister().mutate("set", "client-1", "milk", 1.0))
...     store.close("client-1")
...     (store.load("client-1")["title"].value(), store.journal_mode("client-1"))
...     store.close_all()
('milk', 'wal')
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crdt import Crdt
from crdt.codec import canonical_json, decode, encode
from sim.errors import ConfigError, SimError

if TYPE_CHECKING:
    from sim.apps.spec import AppSpec
    from sim.world import World

__all__ = ["SqliteStore", "MemoryStore", "Storage", "build_stores", "close_on_crash"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS states (name TEXT PRIMARY KEY, data TEXT NOT NULL)"


class MemoryStore:
    """A durable store kept in Python memory (survives a simulated crash, not the process)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Crdt[Any]]] = {}
        self.saves = 0
        self.loads: list[tuple[str, dict[str, Crdt[Any]]]] = []

    def load(self, node: str) -> dict[str, Crdt[Any]]:
        states = dict(self.data.get(node, {}))
        self.loads.append((node, states))
        return states

    def save(self, node: str, name: str, value: Crdt[Any]) -> None:
        self.data.setdefault(node, {})[name] = value
        self.saves += 1

    def close(self, node: str) -> None:
        pass

    def close_all(self) -> None:
        pass


class SqliteStore:
    """States of each node in its own SQLite file under ``directory``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._conns: dict[str, sqlite3.Connection] = {}
        self.saves = 0
        #: every load, in order: (node, the states it returned); tests compare them with RAM
        self.loads: list[tuple[str, dict[str, Crdt[Any]]]] = []

    def path(self, node: str) -> Path:
        from sim.output import child_path  # the file stays inside ``directory`` whatever the node id

        return child_path(self.directory, f"{node}.sqlite")

    def _conn(self, node: str) -> sqlite3.Connection:
        conn = self._conns.get(node)
        if conn is None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path(node), isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(_SCHEMA)
            except (OSError, sqlite3.Error) as err:
                raise SimError(f"cannot open the SQLite store {self.path(node)}: {err}") from err
            self._conns[node] = conn
        return conn

    def journal_mode(self, node: str) -> str:
        return str(self._conn(node).execute("PRAGMA journal_mode").fetchone()[0])

    def load(self, node: str) -> dict[str, Crdt[Any]]:
        rows = self._conn(node).execute("SELECT name, data FROM states ORDER BY name").fetchall()
        states = {name: decode(_json_loads(data)) for name, data in rows}
        self.loads.append((node, dict(states)))
        return states

    def save(self, node: str, name: str, value: Crdt[Any]) -> None:
        text = canonical_json(encode(value))
        try:
            self._conn(node).execute("INSERT OR REPLACE INTO states VALUES (?, ?)", (name, text))
        except sqlite3.Error as err:
            raise SimError(f"SQLite store {self.path(node)}: {name} not saved: {err}") from err
        self.saves += 1

    def close(self, node: str) -> None:
        conn = self._conns.pop(node, None)
        if conn is not None:
            conn.close()

    def close_all(self) -> None:
        for node in sorted(self._conns):
            self.close(node)


def _json_loads(text: str) -> Any:
    return json.loads(text)


def close_on_crash(world: World, store: Any, nodes: list[str]) -> None:
    """Close each node's store connection when the node crashes (the process dies)."""
    for node_id in nodes:
        world.node(node_id).on_crash(lambda n=node_id: store.close(n))  # type: ignore[misc]


class Storage:
    """The storage extension: ``Storage({zone: store})`` puts each zone's states in RAM in front of
    its store (the zone's nodes reload from it when they start)."""

    name = "storage"

    def __init__(self, stores: dict[str, Any]) -> None:
        self.stores = dict(stores)

    def attach(self, runtime: Any) -> None:
        for zone in sorted(self.stores):
            if zone not in runtime.spec.zones:
                raise ConfigError("storage zone", f"must be one of {sorted(runtime.spec.zones)}", zone)
        runtime.stores.update(self.stores)
        for zone, store in sorted(self.stores.items()):
            close_on_crash(runtime.world, store, runtime.zone_nodes(zone))


def build_stores(storage: dict[str, str], spec: AppSpec, world: World, workdir: Path | None) -> dict[str, Any]:
    """``{zone: "sqlite" | "memory"}`` -> a store per zone; SQLite files go under ``workdir/app``."""
    stores: dict[str, Any] = {}
    for zone, kind in dict(storage).items():
        if zone not in spec.zones:
            raise ConfigError("storage zone", f"must be one of {sorted(spec.zones)}", zone)
        if kind == "sqlite":
            if workdir is None:
                raise ConfigError("storage", "an output directory for SQLite (give out or run from a scenario)",
                                  "none")
            from sim.output import fresh_directory

            store: Any = SqliteStore(fresh_directory(Path(workdir), "app"))
        elif kind == "memory":
            store = MemoryStore()
        else:
            raise ConfigError(f"storage {zone}", "one of 'sqlite', 'memory'", kind)
        stores[zone] = store
    return stores
