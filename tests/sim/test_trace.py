import io
import json

import pytest
from sim_helpers import pair

from sim.errors import SimError


def traced():  # type: ignore[no-untyped-def]
    world, got = pair({"latency": "10ms", "loss": 0.5}, trace="full", seed=3)
    for i in range(20):
        world.schedule(i * 0.01, lambda i=i: world.node("a").send("b", "m", i, 4))
    world.schedule(0.5, lambda: world.trace.record("update", node="a", key="k"))
    world.run(duration="1s")
    return world


def test_jsonl_export() -> None:
    world = traced()
    out = io.StringIO()
    world.trace.to_jsonl(out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = {r["kind"] for r in rows}
    assert {"send", "deliver", "drop", "update", "phase"} <= kinds
    assert [r["seq"] for r in rows] == list(range(len(rows)))
    assert sum(r["kind"] == "send" for r in rows) == 20


def test_chrome_export_is_valid_trace_event_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = traced()
    path = tmp_path / "t.json"
    world.trace.to_chrome(path)
    doc = json.loads(path.read_text())
    events = doc["traceEvents"]
    assert {e["ph"] for e in events} == {"M", "X", "i"}
    delivers = [e for e in events if e["ph"] == "X"]
    assert delivers and all(e["dur"] == pytest.approx(10_000) for e in delivers)


def test_off_mode_records_nothing_and_has_no_digest() -> None:
    world, _ = pair(trace="off")
    world.node("a").send("b", "m")
    r = world.run(duration="1s")
    assert r.trace_digest is None and r.trace_events == 0
    with pytest.raises(SimError, match="trace='full'"):
        world.trace.to_jsonl(io.StringIO())


def test_digest_mode_hashes_without_keeping() -> None:
    full = traced()
    world, _ = pair({"latency": "10ms", "loss": 0.5}, trace="digest", seed=3)
    for i in range(20):
        world.schedule(i * 0.01, lambda i=i: world.node("a").send("b", "m", i, 4))
    world.schedule(0.5, lambda: world.trace.record("update", node="a", key="k"))
    world.run(duration="1s")
    assert world.trace.events == []
    assert world.trace.digest() == full.trace.digest()


def test_unencodable_field_is_an_error() -> None:
    world, _ = pair()
    with pytest.raises(SimError, match="not JSON-encodable"):
        world.trace.record("update", value=object())
