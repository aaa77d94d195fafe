"""Both journals: atomic appends, dedup by (origin, seq), JSON payloads, snapshots, reopening."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crdt.clocks import VersionVector
from crdt.codec import canonical_json
from sim.eventsourcing import (
    EventEnvelope,
    InMemoryJournal,
    Journal,
    JournalError,
    Snapshot,
    SqliteJournal,
    UnencodablePayloadError,
)
from sim.eventsourcing.journal import encode_payload


def ev(seq: int, payload: object = None, origin: str = "a", pid: str = "p") -> EventEnvelope:
    return EventEnvelope(pid, origin, seq, VersionVector({origin: seq}), float(seq), payload if payload else {"n": seq})


@pytest.fixture(params=["memory", "sqlite"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    j: Journal = InMemoryJournal() if request.param == "memory" else SqliteJournal(tmp_path / "n.sqlite")
    yield j
    j.close()


def test_append_assigns_local_seq_and_reads_back_in_journal_order(journal: Journal) -> None:
    stored = journal.append([ev(1), ev(1, origin="b"), ev(2)])
    assert [e.local_seq for e in stored] == [1, 2, 3]
    assert [e.id for e in journal.read("p")] == [("a", 1), ("b", 1), ("a", 2)]
    assert journal.read("p")[2].same_event(ev(2))
    assert journal.read("p")[2].version == VersionVector({"a": 2})
    assert journal.persistence_ids() == ["p"] and journal.read("other") == []


def test_duplicates_are_skipped_in_and_across_writes(journal: Journal) -> None:
    journal.append([ev(1)])
    assert journal.append([ev(1), ev(2), ev(2)]) == [journal.read("p")[1]]
    assert len(journal.read("p")) == 2


def test_unencodable_payload_writes_nothing_of_the_batch(journal: Journal) -> None:
    journal.append([ev(1)])
    with pytest.raises(UnencodablePayloadError, match=r"p a#3: payload is not JSON-encodable: a object at \$.x"):
        journal.append([ev(2), ev(3, {"x": object()})])
    for bad in ({"k": float("nan")}, {1: "int key"}, {"s": {1}}):
        with pytest.raises(UnencodablePayloadError):
            journal.append([ev(2, bad)])
    assert [e.origin_seq for e in journal.read("p")] == [1]


def test_payloads_come_back_as_json_data(journal: Journal) -> None:
    (stored,) = journal.append([ev(1, {"t": (1, 2), "u": "é"})])
    assert stored.payload == {"t": [1, 2], "u": "é"} == journal.read("p")[0].payload


def test_snapshots_round_trip(journal: Journal) -> None:
    assert journal.load_snapshot("p") is None
    snap = Snapshot("p", {"total": 3}, VersionVector({"a": 2}), {"a": 2}, (2.0, "a", 2))
    journal.save_snapshot(snap)
    assert journal.load_snapshot("p") == snap
    with pytest.raises(UnencodablePayloadError):
        journal.save_snapshot(Snapshot("p", {1, 2}, VersionVector(), {}, (0.0, "a", 0)))


def test_sqlite_file_survives_close_and_uses_wal(tmp_path: Path) -> None:
    j = SqliteJournal(tmp_path / "sub" / "n.sqlite")
    assert j.journal_mode == "wal"
    j.append([ev(1), ev(2)])
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.read("p")
    again = SqliteJournal(tmp_path / "sub" / "n.sqlite")
    assert [e.local_seq for e in again.read("p")] == [1, 2]
    assert again.append([ev(3)])[0].local_seq == 3
    again.close()


def test_sqlite_unopenable_path_is_a_journal_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(JournalError, match="cannot open"):
        SqliteJournal(tmp_path / "file" / "n.sqlite")


def test_every_column_is_the_one_canonical_encoding(tmp_path: Path) -> None:
    j = SqliteJournal(tmp_path / "n.sqlite")
    j.append([ev(1, {"b": "caf\u00e9 \ud800", "a": [1.5, None]})])
    j.save_snapshot(Snapshot("p", {"total": "\u00e9"}, VersionVector({"b": 1, "a": 2}), {"b": 1, "a": 2},
                             (2.5, "a", 2)))
    j.close()
    with sqlite3.connect(tmp_path / "n.sqlite") as db:
        version, payload = db.execute("SELECT version, payload FROM events").fetchone()
        columns = db.execute("SELECT state, version, seen, last_key FROM snapshots").fetchone()
    db.close()
    assert payload == canonical_json({"b": "caf\u00e9 \ud800", "a": [1.5, None]}, ascii=True)
    assert payload == '{"a":[1.5,null],"b":"caf\\u00e9 \\ud800"}'
    assert version == '{"a":1}'
    assert columns == ('{"total":"\\u00e9"}', '{"a":2,"b":1}', '{"a":2,"b":1}', '[2.5,"a",2]')


def test_a_snapshot_written_with_spaces_after_separators_still_loads(tmp_path: Path) -> None:
    # the seen and last_key columns were written by json.dumps's default separators before
    j = SqliteJournal(tmp_path / "n.sqlite")
    j.close()
    with sqlite3.connect(tmp_path / "n.sqlite") as db:
        db.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?)",
                   ("p", '{"total": 3}', '{"a":2}', '{"a": 2, "b": 1}', '[2.0, "a", 2]'))
    db.close()
    again = SqliteJournal(tmp_path / "n.sqlite")
    assert again.load_snapshot("p") == Snapshot("p", {"total": 3}, VersionVector({"a": 2}), {"a": 2, "b": 1},
                                                (2.0, "a", 2))
    again.close()


def test_payload_encoding_and_sizes_are_the_canonical_ascii_form() -> None:
    payload = {"z": ["\u00e9", (1, 2)], "a": {"n": -0.5}}
    assert encode_payload(payload) == canonical_json(payload, ascii=True) == '{"a":{"n":-0.5},"z":["\\u00e9",[1,2]]}'
    envelope = ev(1, payload)
    assert envelope.size() == len(encode_payload(payload)) + len("a") + 24 + 12
