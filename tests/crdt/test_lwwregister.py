"""LWWRegister: laws, ordering, errors and decoding."""

import copy

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.codec import decode, encode, to_bytes
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.gset import GSet
from crdt.lwwregister import TOMBSTONE, LWWRegister, LWWWrite
from crdt.testing import CrdtSpec, check_laws, elements

#: The active profile's example count, capped so each law test stays within a few seconds.
LAW_EXAMPLES = min(settings().max_examples, 100)
#: Few timestamps, so equal timestamps (ties) and reused timestamps happen often.
timestamps = st.integers(0, 5)


def test_laws() -> None:
    spec = CrdtSpec(LWWRegister, {"set": st.tuples(elements, timestamps)})
    check_laws(spec, max_examples=LAW_EXAMPLES)


def test_laws_with_mixed_int_and_float_timestamps() -> None:
    spec = CrdtSpec(LWWRegister, {"set": st.tuples(elements, st.sampled_from([1, 1.0, 2, 2.5]))})
    check_laws(spec, max_examples=LAW_EXAMPLES // 2)


def test_empty_register_has_no_value_and_no_timestamp() -> None:
    empty = LWWRegister()
    assert empty.value() is None and empty.timestamp is None and empty.replica is None
    assert LWWRegister().set("a", None, 0) != empty  # a written None is still a write
    assert empty.merge(LWWRegister().set("a", "tea", 0)).value() == "tea"


def test_higher_timestamp_wins_whatever_the_replica() -> None:
    old = LWWRegister().set("z", "tea", 1)
    new = LWWRegister().set("a", "milk", 2)
    assert old.merge(new).value() == new.merge(old).value() == "milk"


def test_timestamp_ties_are_broken_by_replica_id_the_same_way_at_every_replica() -> None:
    at_a = LWWRegister().set("a", "tea", 3)
    at_b = LWWRegister().set("b", "milk", 3)
    at_c = LWWRegister().set("c", "jam", 3)
    orders = [
        at_a.merge(at_b).merge(at_c),
        at_c.merge(at_b).merge(at_a),
        at_b.merge(at_a.merge(at_c)),
    ]
    assert all(r == orders[0] for r in orders)
    assert orders[0].value() == "jam" and orders[0].replica == "c"
    # the loser's own op arriving later changes nothing either
    assert at_b.effect(LWWWrite("a", "tea", 3)).value() == "milk"


def test_a_reused_timestamp_is_still_resolved_the_same_way_in_both_merge_orders() -> None:
    x = LWWRegister().set("a", "tea", 3)
    y = LWWRegister().set("a", "milk", 3)  # same replica, same timestamp, other value
    assert x.merge(y) == y.merge(x)
    assert x.merge(y).value() == "tea"  # '"milk"' < '"tea"' in canonical text
    one, true = LWWRegister().set("a", 1, 3), LWWRegister().set("a", True, 3)
    assert one != true and one.merge(true) == true.merge(one)
    int_ts, float_ts = LWWRegister().set("a", "tea", 1), LWWRegister().set("a", "tea", 1.0)
    assert to_bytes(int_ts.merge(float_ts)) == to_bytes(float_ts.merge(int_ts))


def test_an_older_write_is_a_no_op() -> None:
    x = LWWRegister().set("b", "tea", 5)
    assert x.set("a", "milk", 4) is x
    assert x.set_delta("a", "milk", 4) is None
    assert x.prepare_set("a", "milk", 4) is None
    assert x.set("a", "milk", 5) is x  # same timestamp, lower replica id
    assert x.set_delta("b", "tea", 5) is None  # the very same write


def test_delta_is_the_new_register_and_op_is_the_write_record() -> None:
    x = LWWRegister().set("a", "tea", 1)
    assert x.set_delta("b", "milk", 2) == LWWRegister("milk", 2, "b")
    assert x.prepare_set("b", "milk", 2) == LWWWrite("b", "milk", 2)
    assert x.effect(LWWWrite("b", "milk", 2)) == x.set("b", "milk", 2)


def test_merge_does_not_change_inputs() -> None:
    a, b = LWWRegister().set("a", "tea", 1), LWWRegister().set("b", "milk", 2)
    a.merge(b)
    assert (a.value(), a.timestamp, b.value(), b.timestamp) == ("tea", 1, "milk", 2)


@pytest.mark.parametrize("timestamp", ["noon", None, True, float("nan"), float("inf"), [1]])
def test_a_timestamp_that_is_not_a_finite_number_is_refused_naming_it(timestamp: object) -> None:
    for attempt in (LWWRegister().set, LWWRegister().set_delta, LWWRegister().prepare_set):
        with pytest.raises(
            InvalidOperationError, match=r"LWWRegister\.set: timestamp must be"
        ) as info:
            attempt("a", "tea", timestamp)
        assert repr(timestamp) in str(info.value)


@pytest.mark.parametrize("value", [["a", "list"], {"a": 1}, TOMBSTONE, object()])
def test_a_value_that_is_not_an_element_is_refused(value: object) -> None:
    with pytest.raises(InvalidOperationError, match=r"LWWRegister\.set: elements must be"):
        LWWRegister().set("a", value, 1)


def test_merge_with_another_type_is_refused() -> None:
    with pytest.raises(TypeMismatchError, match=r"LWWRegister\.merge: expected a LWWRegister"):
        LWWRegister().merge(GSet())  # type: ignore[arg-type]


def test_effect_of_a_foreign_op_is_refused() -> None:
    with pytest.raises(InvalidOperationError, match=r"LWWRegister\.effect"):
        LWWRegister().effect(object())  # type: ignore[arg-type]


def test_encoding_is_canonical_and_round_trips() -> None:
    x = LWWRegister().set("a", ("x", 1), 2.5)
    assert to_bytes(x) == (
        b'{"state":{"replica":"a","timestamp":2.5,"value":["x",1]},"type":"LWWRegister"}'
    )
    assert decode(encode(x)) == x and decode(encode(LWWRegister())) == LWWRegister()
    assert LWWRegister.op_from_data(LWWWrite("a", None, 3).to_data()) == LWWWrite("a", None, 3)


def test_tombstone_is_a_single_instance() -> None:
    assert copy.deepcopy(TOMBSTONE) is TOMBSTONE and repr(TOMBSTONE) == "TOMBSTONE"


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"replica": "a", "timestamp": 1},
        {"replica": "a", "timestamp": "1", "value": 1},
        {"replica": 1, "timestamp": 1, "value": 1},
        {"replica": "a", "timestamp": 1, "value": {}},
        {"replica": "a", "timestamp": 1, "deleted": True},  # only a map holds tombstones
        {"replica": "a", "timestamp": 1, "value": 1, "extra": 0},
    ],
)
def test_malformed_state_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match=r"LWWRegister\.from_data"):
        LWWRegister.from_data(data)


@pytest.mark.parametrize(
    "data", [None, {"set": ["a", 1]}, {"set": [1, 1, 1]}, {"set": ["a", "t", 1]}, {"put": []}]
)
def test_malformed_op_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match=r"LWWRegister\.from_data"):
        LWWRegister.op_from_data(data)
