"""LWWMap: laws, delete semantics, errors and decoding."""

from collections.abc import Callable

import hypothesis
import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.codec import decode, encode, to_bytes
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.lwwmap import LWWMap, LWWMapDelete, LWWMapSet
from crdt.lwwregister import TOMBSTONE, LWWRegister
from crdt.testing import CrdtSpec, check_laws, elements

#: The active profile's example count, capped so each law test stays within a few seconds.
LAW_EXAMPLES = min(settings().max_examples, 100)
#: Few keys and timestamps, so the same key is written and deleted at tied timestamps.
keys = st.sampled_from(["x", "y", 0])
timestamps = st.integers(0, 5)


def test_laws() -> None:
    spec = CrdtSpec(
        LWWMap,
        {"set": st.tuples(keys, elements, timestamps), "delete": st.tuples(keys, timestamps)},
    )
    check_laws(spec, max_examples=LAW_EXAMPLES)


def test_value_holds_the_latest_live_value_of_each_key() -> None:
    a = LWWMap().set("a", "milk", 1, 1).set("a", "tea", 1, 1)
    b = LWWMap().set("b", "milk", 2, 2).set("b", ("jam", 0), "x", 1)
    merged = a.merge(b)
    assert merged.value() == {"milk": 2, "tea": 1, ("jam", 0): "x"}
    assert merged == b.merge(a)
    assert list(merged.value()) == ["milk", "tea", ("jam", 0)]  # canonical key order
    assert merged.get("milk") == 2 and "tea" in merged and "nope" not in merged


def test_a_delete_beats_an_older_set_in_both_merge_orders() -> None:
    setter = LWWMap().set("a", "milk", 1, 2)
    deleter = LWWMap().delete("b", "milk", 3)
    for merged in (setter.merge(deleter), deleter.merge(setter)):
        assert (
            merged.value() == {} and "milk" not in merged and merged.get("milk", "gone") == "gone"
        )
        assert merged.entries["milk"] == LWWRegister._of(TOMBSTONE, 3, "b")


def test_a_delete_loses_to_a_newer_set_in_both_merge_orders() -> None:
    setter = LWWMap().set("a", "milk", 1, 4)
    deleter = LWWMap().delete("b", "milk", 3)
    assert setter.merge(deleter).value() == deleter.merge(setter).value() == {"milk": 1}
    assert setter.delete("b", "milk", 3) is setter  # local stale delete: a no-op
    assert setter.delete_delta("b", "milk", 3) is None


def test_a_stale_set_after_a_delete_does_not_resurrect_the_key() -> None:
    x = LWWMap().set("a", "milk", 1, 1).delete("a", "milk", 2)
    stale = LWWMap().set("c", "milk", 9, 1)  # written before the delete, arriving after it
    assert x.merge(stale).value() == {}
    assert x.set("c", "milk", 9, 1) is x
    assert x.set_delta("c", "milk", 9, 1) is None and x.prepare_set("c", "milk", 9, 1) is None
    assert x.effect(LWWMapSet("milk", "c", 9, 1)).value() == {}
    assert x.set("c", "milk", 9, 3).value() == {"milk": 9}  # a newer set does bring it back


def test_set_and_delete_at_one_instant_by_one_replica_ends_deleted() -> None:
    s, d = LWWMap().set("a", "milk", 1, 5), LWWMap().delete("a", "milk", 5)
    assert s.merge(d).value() == d.merge(s).value() == {}


def test_deleting_an_unseen_key_still_writes_a_tombstone() -> None:
    deleted = LWWMap().delete("a", "milk", 3)
    assert deleted.value() == {} and deleted.entries["milk"].deleted
    assert deleted.merge(LWWMap().set("b", "milk", 1, 2)).value() == {}


def test_delta_and_op_forms_carry_one_entry() -> None:
    x = LWWMap().set("a", "milk", 1, 1).set("a", "tea", 1, 1)
    assert x.set_delta("b", "milk", 2, 2) == LWWMap({"milk": LWWRegister(2, 2, "b")})
    assert x.prepare_set("b", "milk", 2, 2) == LWWMapSet("milk", "b", 2, 2)
    assert x.prepare_delete("b", "tea", 2) == LWWMapDelete("tea", "b", 2)
    assert x.effect(LWWMapDelete("tea", "b", 2)) == x.delete("b", "tea", 2)


def test_merge_does_not_change_inputs() -> None:
    a, b = LWWMap().set("a", "milk", 1, 1), LWWMap().delete("b", "milk", 2)
    a.merge(b)
    b.merge(a)
    assert a.value() == {"milk": 1} and b.entries["milk"].deleted


@pytest.mark.parametrize("timestamp", ["noon", None, False, float("nan")])
def test_a_timestamp_that_is_not_a_finite_number_is_refused(timestamp: object) -> None:
    with pytest.raises(InvalidOperationError, match=r"LWWMap\.set: timestamp must be") as info:
        LWWMap().set("a", "milk", 1, timestamp)
    assert repr(timestamp) in str(info.value)
    with pytest.raises(InvalidOperationError, match=r"LWWMap\.delete: timestamp must be"):
        LWWMap().prepare_delete("a", "milk", timestamp)


@pytest.mark.parametrize("bad", [["a", "list"], {"a": 1}, TOMBSTONE])
def test_keys_and_values_must_be_elements(bad: object) -> None:
    with pytest.raises(InvalidOperationError, match=r"LWWMap\.set: elements must be"):
        LWWMap().set("a", bad, 1, 1)
    with pytest.raises(InvalidOperationError, match=r"LWWMap\.set: elements must be"):
        LWWMap().set("a", "milk", bad, 1)
    with pytest.raises(InvalidOperationError, match=r"LWWMap\.delete: elements must be"):
        LWWMap().delete("a", bad, 1)


def test_merge_with_another_type_is_refused() -> None:
    with pytest.raises(TypeMismatchError, match=r"LWWMap\.merge: expected a LWWMap, found LWWReg"):
        LWWMap().merge(LWWRegister())  # type: ignore[arg-type]


def test_effect_of_a_foreign_op_is_refused() -> None:
    with pytest.raises(InvalidOperationError, match=r"LWWMap\.effect"):
        LWWMap().effect(object())  # type: ignore[arg-type]


def test_encoding_is_canonical_and_round_trips() -> None:
    x = LWWMap().set("a", 2, "two", 1).delete("b", "milk", 3)
    assert to_bytes(x) == (
        b'{"state":[["milk",{"deleted":true,"replica":"b","timestamp":3}],'
        b'[2,{"replica":"a","timestamp":1,"value":"two"}]],"type":"LWWMap"}'
    )
    assert decode(encode(x)) == x
    for op in (LWWMapSet(("k", 1), "a", None, 2.5), LWWMapDelete(0, "b", 1)):
        assert LWWMap.op_from_data(op.to_data()) == op


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"milk": {"replica": "a", "timestamp": 1, "value": 1}},
        [["milk"]],
        [["milk", None]],
        [[{}, {"replica": "a", "timestamp": 1, "value": 1}]],
        [["milk", {"replica": "a", "timestamp": 1, "deleted": False}]],
        [["milk", {"replica": "a", "timestamp": 1}], ["milk", {"replica": "a", "timestamp": 1}]],
        [["k", {"replica": "a", "timestamp": 1, "value": 1}]] * 2,
    ],
)
def test_malformed_state_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match=r"LWWMap\.from_data"):
        LWWMap.from_data(data)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"set": ["k", "a", 1]},
        {"delete": ["k", "a", 1, 2]},
        {"delete": ["k", 1, 1]},
        {"delete": [{}, "a", 1]},
        {"set": ["k", "a", "t", 1]},
        {"put": ["k", "a", 1, 1]},
    ],
)
def test_malformed_op_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match=r"LWWMap\.from_data"):
        LWWMap.op_from_data(data)


@pytest.mark.parametrize("writes", [1, 5, 200])  # 200: past the remembered chain
def test_kept_size_and_fingerprint_after_many_unasked_writes_and_merges(writes: int) -> None:
    from crdt.codec import canonical_json, encode, fingerprint, size

    m = LWWMap().set("a", "k0", 0, 1).set("a", "k1", 1, 1)
    size(m), fingerprint(m)  # kept from here on
    other = LWWMap().set("b", "k1", "late", 9).set("b", "k9", 2, 1)
    for i in range(writes):
        m = m.set("a", f"k{i % 7}", i, i + 2)
        if i % 3 == 0:
            m = m.merge(other) if i % 2 else other.merge(m)
    fresh = LWWMap.from_data(m.to_data())
    assert size(m) == len(canonical_json(encode(m)).encode())
    assert fingerprint(m) == fingerprint(fresh)
    assert fingerprint(m) != fingerprint(m.set("a", "k0", "changed", 10**6))


def test_a_register_shared_under_equal_keys_of_two_types_is_measured_under_each() -> None:
    # 1 and True are one key in Python but encode differently: a register's kept pair figures
    # must not carry from one map's key to the other's.
    from crdt.codec import canonical_json, encode, fingerprint, size

    register = LWWRegister._of("v", 1, "a")
    as_int, as_bool = LWWMap._single(1, register), LWWMap._single(True, register)
    for m in (as_int, as_bool, as_int):
        assert size(m) == len(canonical_json(encode(m)).encode())
    assert fingerprint(as_int) != fingerprint(as_bool)
    wider = as_int.merge(LWWMap().set("b", 10**6, "w", 2))  # an int key that is not interned
    assert size(wider) == len(canonical_json(encode(wider)).encode())
    assert fingerprint(wider) == fingerprint(LWWMap.from_data(wider.to_data()))


ops = st.one_of(
    st.builds(LWWMapSet, keys, st.sampled_from(["a", "b"]), elements, timestamps),
    st.builds(LWWMapDelete, keys, st.sampled_from(["a", "b"]), timestamps),
)


@settings(max_examples=LAW_EXAMPLES)
@hypothesis.given(st.lists(st.tuples(keys, elements, timestamps), max_size=6), st.lists(ops, max_size=8))
def test_effect_all_is_effect_one_by_one(writes: list[tuple[object, object, int]], batch: list[object]) -> None:
    from crdt.codec import canonical_json, encode, fingerprint, size

    start = LWWMap()
    for key, value, stamp in writes:
        start = start.set("c", key, value, stamp)
    one_by_one = start
    for op in batch:
        one_by_one = one_by_one.effect(op)
    together = start.effect_all(batch)
    assert together == one_by_one and to_bytes(together) == to_bytes(one_by_one)
    assert size(together) == len(canonical_json(encode(together)).encode())
    assert fingerprint(together) == fingerprint(LWWMap.from_data(together.to_data()))
    assert (together is start) == (not batch or one_by_one == start)


def test_effect_all_refuses_a_foreign_op_anywhere_in_the_batch() -> None:
    with pytest.raises(InvalidOperationError):
        LWWMap().effect_all([LWWMapSet("k", "a", 1, 1), object()])  # type: ignore[list-item]


@pytest.mark.parametrize("build", [
    lambda: LWWMapSet("k", 7, 1, 1),            # a replica id that is not a string
    lambda: LWWMapSet("k", "a", 1, float("nan")),  # a timestamp that does not order
    lambda: LWWMapSet(object(), "a", 1, 1),     # a key that is not an element
    lambda: LWWMapSet("k", "a", object(), 1),   # a value that is not an element
    lambda: LWWMapDelete("k", "a", "soon"),
])
def test_an_op_is_checked_when_built_so_that_every_effect_can_trust_it(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidOperationError):
        build()


def test_op_from_data_reports_a_bad_replica_as_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        LWWMap.op_from_data({"set": ["k", "\ud800", 1, 1]})  # a lone surrogate


def test_a_long_write_loop_keeps_statistics_without_rehashing_the_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bound on remembered derivations the chain is shortened, not forgotten, so a
    size or fingerprint after 200 writes into 1,000 keys costs the 200 writes; and the maps
    in between are not kept alive."""

    import crdt.lwwmap as lwwmap
    from crdt.codec import fingerprint, size

    m = LWWMap()
    for key in range(1000):
        m = m.set("a", key, 0, 1)
    size(m)  # statistics kept from here
    full: list[int] = []
    real = lwwmap._stats_of
    monkeypatch.setattr(lwwmap, "_stats_of", lambda entries: full.append(len(entries)) or real(entries))
    for step in range(200):
        m = m.set("b", step * 5, step, 2)
    hops, ancestor = 0, m
    while getattr(ancestor, "_basis", None) is not None:
        ancestor, hops = ancestor._basis[0], hops + 1
    assert hops <= lwwmap._MAX_CHAIN  # the maps it remembers, bounded
    figures = size(m), fingerprint(m)
    assert full == []
    fresh = LWWMap.from_data(m.to_data())
    assert figures == (len(to_bytes(fresh)), fingerprint(fresh))


@settings(max_examples=LAW_EXAMPLES)
@hypothesis.given(
    st.lists(st.tuples(st.integers(0, 399), st.integers(0, 3), st.sampled_from(["a", "b"])), max_size=60),
    st.lists(st.tuples(st.integers(0, 399), st.integers(0, 3), st.sampled_from(["a", "b"])),
             min_size=120, max_size=300),
    st.booleans(),
)
def test_maps_of_any_two_sizes_merge_to_the_winning_register_of_each_key(
        small: list[tuple[int, int, str]], large: list[tuple[int, int, str]], shared: bool) -> None:
    """A merge looks keys up bucket by bucket: on the same layout (and shared structure)
    or across layouts (a small map into a large one, up to 400 keys). The oracle takes, key by
    key, the register that wins of the two sides' single-key maps."""
    from crdt.codec import canonical_json, encode, fingerprint, size

    def build(start: LWWMap, writes: list[tuple[int, int, str]]) -> LWWMap:
        for key, stamp, replica in writes:
            start = start.set(replica, key, f"{replica}{stamp}", stamp)
        return start

    base = build(LWWMap(), large[: len(large) // 2]) if shared else LWWMap()
    a, b = build(base, small), build(base, large)
    expected = {}
    for key in set(a.entries) | set(b.entries):
        mine, theirs = a.entries.get(key), b.entries.get(key)
        expected[key] = mine if theirs is None or (mine is not None and mine.wins_over(theirs)) else theirs
    for merged in (a.merge(b), b.merge(a)):
        assert dict(merged.entries.items()) == expected
        assert size(merged) == len(canonical_json(encode(merged)).encode())
        assert fingerprint(merged) == fingerprint(LWWMap.from_data(merged.to_data()))
