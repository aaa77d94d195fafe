"""PNCounter: laws, semantics, errors and decoding."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.codec import decode, encode
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.gcounter import GCounter, Increment
from crdt.pncounter import Decrement, PNCounter
from crdt.testing import CrdtSpec, check_laws

amounts = st.tuples(st.integers(0, 3))
#: The active profile's example count, capped so each law test stays within a few seconds.
LAW_EXAMPLES = min(settings().max_examples, 100)


def test_laws() -> None:
    check_laws(
        CrdtSpec(PNCounter, {"increment": amounts, "decrement": amounts}), max_examples=LAW_EXAMPLES
    )


def test_value_after_increments_and_decrements_at_different_replicas() -> None:
    a = PNCounter().increment("a", 3).decrement("a")
    b = PNCounter().decrement("b", 5)
    c = PNCounter().increment("c").increment("c", 2)
    merged = a.merge(b).merge(c)
    assert merged.value() == 3 - 1 - 5 + 3
    assert merged == c.merge(b).merge(a)
    assert merged.p.value() == 6 and merged.n.value() == 6


def test_concurrent_decrement_is_not_lost_to_an_increment_at_the_same_replica_id() -> None:
    base = PNCounter().increment("a", 2)
    assert base.decrement("a").merge(base.increment("a")).value() == 2


def test_delta_and_op_forms() -> None:
    x = PNCounter().increment("a", 2).decrement("a", 1)
    assert x.increment_delta("a", 3) == PNCounter(p=GCounter({"a": 5}))
    assert x.decrement_delta("a", 3) == PNCounter(n=GCounter({"a": 4}))
    assert x.prepare_decrement("b", 2) == Decrement("b", 2)
    assert x.prepare_increment("b", 2) == Increment("b", 2)
    assert x.effect(Decrement("b", 2)).value() == -1
    assert x.decrement("a", 0) is x and x.decrement_delta("a", 0) is None


def test_merge_does_not_change_inputs() -> None:
    a, b = PNCounter().increment("a"), PNCounter().decrement("b")
    a.merge(b)
    assert (a.value(), b.value()) == (1, -1)


@pytest.mark.parametrize("amount", [-1, 1.5, True, "2", None])
def test_bad_decrement_amount_names_type_op_and_value(amount: object) -> None:
    with pytest.raises(
        InvalidOperationError, match=r"PNCounter\.decrement: amount must be"
    ) as info:
        PNCounter().decrement("a", amount)  # type: ignore[arg-type]
    assert repr(amount) in str(info.value)
    with pytest.raises(InvalidOperationError):
        PNCounter().prepare_decrement("a", amount)  # type: ignore[arg-type]


def test_merge_with_another_type_is_refused() -> None:
    with pytest.raises(
        TypeMismatchError, match=r"PNCounter\.merge: expected a PNCounter, found GCounter"
    ):
        PNCounter().merge(GCounter())  # type: ignore[arg-type]


def test_effect_of_a_foreign_op_is_refused() -> None:
    with pytest.raises(InvalidOperationError, match="PNCounter.effect"):
        PNCounter().effect(object())  # type: ignore[arg-type]


def test_encoding_is_canonical_and_round_trips() -> None:
    x = PNCounter().increment("b", 2).decrement("a", 1)
    assert encode(x) == {"type": "PNCounter", "state": {"n": {"a": 1}, "p": {"b": 2}}}
    assert decode(encode(x)) == x
    assert PNCounter.op_from_data(Decrement("a", 3).to_data()) == Decrement("a", 3)
    assert PNCounter.op_from_data(Increment("a", 3).to_data()) == Increment("a", 3)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"p": {}},
        {"p": {}, "n": {}, "x": {}},
        {"p": {"a": -1}, "n": {}},
        {"p": {}, "n": {"a": "1"}},
    ],
)
def test_malformed_state_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match="PNCounter.from_data"):
        PNCounter.from_data(data)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"decrement": ["a"]},
        {"decrement": ["a", -1]},
        {"multiply": ["a", 2]},
        {"decrement": [1, 1]},
    ],
)
def test_malformed_op_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match="PNCounter.from_data"):
        PNCounter.op_from_data(data)
