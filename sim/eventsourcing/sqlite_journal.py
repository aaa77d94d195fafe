"""A journal in a SQLite file per node (WAL mode), so events survive a node crash.

The file lives in a directory the caller gives (a run's output directory or a
``tempfile.TemporaryDirectory``), never in the source tree. A crash closes the connection, as
the death of the process would; the restart reopens the file and the entity replays it. Each
:meth:`SqliteJournal.append` is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction, and payloads
are encoded before it begins, so a bad payload or a database error writes nothing.

``synchronous=NORMAL`` in WAL mode makes a committed transaction survive the crash of the
process (which is what the simulator models), not a power cut.

>>> import tempfile, pathlib
>>> from crdt.clocks import VersionVector
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "n1.sqlite"
...     j = SqliteJournal(path)
...     _ = j.append([EventEnvelope("c", "n1", 1, VersionVector({"n1": 1}), 0.1, [1, 2])])
...     j.close()
...     again = SqliteJournal(path)
...     (again.read("c")[0].payload, again.journal_mode)
...     again.close()
([1, 2], 'wal')
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crdt.clocks import VersionVector
from crdt.codec import canonical_json
from sim.eventsourcing.errors import JournalError
from sim.eventsourcing.journal import (
    EventEnvelope,
    Journal,
    JournalProvider,
    Snapshot,
    decode_payload,
    encode_payload,
)

if TYPE_CHECKING:
    from sim.node import Node

__all__ = ["SqliteJournal", "sqlite_journals"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    persistence_id TEXT NOT NULL,
    local_seq INTEGER NOT NULL,
    origin TEXT NOT NULL,
    origin_seq INTEGER NOT NULL,
    version TEXT NOT NULL,
    timestamp REAL NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (persistence_id, local_seq),
    UNIQUE (persistence_id, origin, origin_seq)
);
CREATE TABLE IF NOT EXISTS snapshots (
    persistence_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    version TEXT NOT NULL,
    seen TEXT NOT NULL,
    last_key TEXT NOT NULL
);
"""


def _text(data: Any) -> str:
    """Canonical JSON for a column (the readers take any JSON: files written before the
    columns were canonical, with spaces after separators, read back the same)."""
    return canonical_json(data, ascii=True)


def _vv_text(vv: VersionVector) -> str:
    return _text(vv.to_data())


class SqliteJournal(Journal):
    """A journal stored in the SQLite file ``path`` (created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db: sqlite3.Connection | None = sqlite3.connect(self.path, isolation_level=None)
            self.journal_mode = str(self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise JournalError(f"cannot open SQLite journal {self.path}: {err}") from err

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise JournalError(f"SQLite journal {self.path} is closed (its node crashed); reopen it")
        return self._db

    def append(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        encoded = self.encode_all(events)
        conn = self._conn
        stored: list[EventEnvelope] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for event, text in zip(events, encoded, strict=True):
                pid = event.persistence_id
                if conn.execute(
                    "SELECT 1 FROM events WHERE persistence_id=? AND origin=? AND origin_seq=?",
                    (pid, event.origin, event.origin_seq),
                ).fetchone():
                    continue
                (top,) = conn.execute(
                    "SELECT COALESCE(MAX(local_seq), 0) FROM events WHERE persistence_id=?", (pid,)
                ).fetchone()
                conn.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (pid, top + 1, event.origin, event.origin_seq, _vv_text(event.version), event.timestamp, text),
                )
                stored.append(replace(event, payload=decode_payload(text), local_seq=top + 1))
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise JournalError(f"SQLite journal {self.path}: write failed, nothing stored: {err}") from err
        return stored

    def read(self, persistence_id: str) -> list[EventEnvelope]:
        rows = self._conn.execute(
            "SELECT local_seq, origin, origin_seq, version, timestamp, payload FROM events "
            "WHERE persistence_id=? ORDER BY local_seq",
            (persistence_id,),
        ).fetchall()
        return [
            EventEnvelope(persistence_id, origin, seq, VersionVector(json.loads(vv)), ts, decode_payload(text), local)
            for local, origin, seq, vv, ts, text in rows
        ]

    def persistence_ids(self) -> list[str]:
        rows = self._conn.execute("SELECT DISTINCT persistence_id FROM events ORDER BY persistence_id")
        return [r[0] for r in rows]

    def save_snapshot(self, snapshot: Snapshot) -> None:
        state = encode_payload(snapshot.state, f"snapshot of {snapshot.persistence_id}")
        try:
            self._conn.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?)",
                (snapshot.persistence_id, state, _vv_text(snapshot.version),
                 _text(snapshot.seen), _text(list(snapshot.last_key))),
            )
        except sqlite3.Error as err:
            raise JournalError(f"SQLite journal {self.path}: snapshot not saved: {err}") from err

    def load_snapshot(self, persistence_id: str) -> Snapshot | None:
        row = self._conn.execute(
            "SELECT state, version, seen, last_key FROM snapshots WHERE persistence_id=?", (persistence_id,)
        ).fetchone()
        if row is None:
            return None
        state, vv, seen, key = row
        ts, origin, seq = json.loads(key)
        return Snapshot(persistence_id, decode_payload(state), VersionVector(json.loads(vv)), json.loads(seen),
                        (float(ts), str(origin), int(seq)))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def sqlite_journals(directory: str | Path) -> JournalProvider:
    """A provider that opens ``<directory>/<node id>.sqlite`` at every start of a node.

    The entity closes the journal when its node crashes; the next start reopens the file.
    """
    root = Path(directory)

    def provide(node: Node) -> Journal:
        from sim.output import child_path  # the file stays inside ``directory`` whatever the node id

        return SqliteJournal(child_path(root, f"{node.id}.sqlite"))

    return provide
