import hashlib
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim_helpers import pair

from sim.errors import SimError
from sim.trace import Trace, canonical_json, deliver_record, send_record


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


_names = st.text(max_size=8)
_ints = st.integers(min_value=0, max_value=2**40)
_raw_times = st.floats(min_value=0, max_value=1e6, allow_nan=False)


def _line(**fields: object) -> bytes:
    return canonical_json(fields).encode() + b"\n"


@given(src=_names, dst=_names, kind=_names, ids=_ints, size=_ints, copy=st.integers(0, 1),
       sent_at=_raw_times, cause=_names, now=st.one_of(st.just(0), _raw_times))
def test_network_events_keep_what_record_keeps_and_hash_their_records(
        src: str, dst: str, kind: str, ids: int, size: int, copy: int, sent_at: float, cause: str,
        now: float) -> None:
    fast, slow = Trace(lambda: now, "full"), Trace(lambda: now, "full")
    send, deliver = fast.link_events(src, dst)
    send(now, kind, ids, size)
    slow.record("send", src=src, dst=dst, msg_kind=kind, id=ids, size=size)
    deliver(now, kind, ids, copy, sent_at)
    slow.record("deliver", src=src, dst=dst, msg_kind=kind, id=ids, copy=copy, sent_at=round(sent_at, 9))
    fast.drop(src, dst, kind, ids, copy, cause)
    slow.record("drop", src=src, dst=dst, msg_kind=kind, id=ids, copy=copy, cause=cause)
    assert fast.events == slow.events
    t = round(now, 9)
    expected = (send_record(now, src, dst, kind, ids, size)
                + deliver_record(now, ids, copy)
                + _line(seq=2, t=t, kind="drop", src=src, dst=dst, msg_kind=kind, id=ids, copy=copy,
                        cause=cause))
    assert fast.digest() == hashlib.sha256(expected).hexdigest()


def test_records_are_unambiguous_and_every_field_counts() -> None:
    base = send_record(0.5, "a", "b", "m", 1, 4)
    assert base[:1] == b"\x01" and deliver_record(0.5, 1, 0)[:1] == b"\x02"
    # Moving a character from one name to the next changes the record (names carry lengths).
    assert send_record(0.5, "ab", "", "m", 1, 4) != send_record(0.5, "a", "b", "m", 1, 4)
    variants = [send_record(0.5000001, "a", "b", "m", 1, 4), send_record(0.5, "c", "b", "m", 1, 4),
                send_record(0.5, "a", "c", "m", 1, 4), send_record(0.5, "a", "b", "n", 1, 4),
                send_record(0.5, "a", "b", "m", 2, 4), send_record(0.5, "a", "b", "m", 1, 5)]
    assert all(v != base for v in variants)
    delivered = deliver_record(0.5, 1, 0)
    assert all(v != delivered for v in [deliver_record(0.25, 1, 0), deliver_record(0.5, 2, 0),
                                        deliver_record(0.5, 1, 1)])


def test_digest_is_the_same_across_hash_batches() -> None:
    # More events than one batch: the batched hash equals hashing record by record.
    trace = Trace(lambda: 0.5, "digest")
    send, _ = trace.link_events("a", "b")
    expected = hashlib.sha256()
    for i in range(1300):
        send(0.5, "m", i, 4)
        expected.update(send_record(0.5, "a", "b", "m", i, 4))
    assert trace.digest() == expected.hexdigest()
    trace.record("phase", name="end")
    expected.update(b'{"kind":"phase","name":"end","seq":1300,"t":0.5}\n')
    assert trace.digest() == expected.hexdigest()


def test_trace_lines_are_the_canonical_ascii_form_with_sets_sorted() -> None:
    from crdt.codec import canonical_json as codec_json

    fields = {"node": "n\u00e9-1", "t": 0.25, "keys": ("b", "a"), "lone": "\ud800"}
    assert canonical_json(fields) == codec_json(fields, ascii=True) == (
        '{"keys":["b","a"],"lone":"\\ud800","node":"n\\u00e9-1","t":0.25}')
    assert canonical_json({"s": frozenset({"b", "a", "c"})}) == '{"s":["a","b","c"]}'


def _network_digest(mode: str) -> tuple[str | None, int]:
    from sim.distributions import Exponential
    from sim.network import LinkModel
    from sim.world import World

    world = World(seed=3, trace=mode)
    world.add_nodes("z", 3)
    world.connect_zones("z", "z")
    model = LinkModel(latency=Exponential(0.01, 0.001), loss=0.1, duplicate=0.1)
    world.set_default_link(model)
    world.network.set_link_model("z-1", "z-3", model)  # a link of its own beside the zone sender
    for dst in ("z-2", "z-3"):
        world.node(dst).on_message("m", lambda msg: None)
    for i in range(600):
        world.network.send("z-1", "z-2" if i % 2 else "z-3", "m", None, 8)
    world.env.run()
    return world.trace.digest(), world.trace.count


def test_deliveries_appended_to_the_digest_sink_hash_as_the_recorders_do() -> None:
    # "digest" mode appends delivery records to the trace's list directly; "full" mode goes
    # through the recorders. Over several hash batches both give one digest.
    digest, count = _network_digest("digest")
    assert count > 2 * 512
    assert (digest, count) == _network_digest("full")
    assert Trace(lambda: 0.0, "full").sink() is None and Trace(lambda: 0.0, "off").sink() is None
