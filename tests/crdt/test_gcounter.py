"""GCounter: laws over reachable states and its documented semantics."""

import pytest
from hypothesis import strategies as st

from crdt import DecodeError, GCounter, InvalidOperationError, TypeMismatchError
from crdt.gcounter import Increment
from crdt.testing import CrdtSpec, check_laws

SPEC = CrdtSpec(GCounter, {"increment": st.tuples(st.integers(0, 3))})


@pytest.mark.slow
def test_laws() -> None:
    check_laws(SPEC)


def test_value_is_the_sum_of_per_replica_maxima() -> None:
    a = GCounter().increment("a", 2)
    b = a.increment("b", 5)
    stale = a  # an older copy of the same replica's counts
    assert b.merge(stale).value() == 7
    assert stale.merge(b).get("a") == 2


def test_mutations_never_change_their_input() -> None:
    a = GCounter().increment("a", 1)
    a.increment("a", 4)
    a.merge(GCounter({"b": 9}))
    assert a == GCounter({"a": 1})
    with pytest.raises(AttributeError, match="immutable"):
        a.counts = {}  # type: ignore[misc]


def test_zero_increment_yields_no_message() -> None:
    a = GCounter({"a": 3})
    assert a.increment_delta("a", 0) is None and a.prepare_increment("a", 0) is None
    assert a.increment("a", 0) is a


def test_op_form_is_additive() -> None:
    op = GCounter({"a": 3}).prepare_increment("a", 2)
    assert op == Increment("a", 2)
    assert GCounter({"a": 10}).effect(op) == GCounter({"a": 12})


def test_errors_name_type_operation_and_value() -> None:
    with pytest.raises(InvalidOperationError, match=r"GCounter.increment: .*>= 0, found -2"):
        GCounter().increment("a", -2)
    with pytest.raises(InvalidOperationError, match=r"GCounter.increment: .* found 'x'"):
        GCounter().mutate("increment", "a", "x")
    with pytest.raises(InvalidOperationError, match="unknown operation"):
        GCounter().mutate("decrement", "a", 1)
    with pytest.raises(TypeMismatchError, match="GCounter.merge: expected a GCounter"):
        GCounter().merge(object())  # type: ignore[arg-type]
    with pytest.raises(DecodeError, match="GCounter"):
        GCounter.from_data({"a": -1})
    with pytest.raises(DecodeError, match="GCounter"):
        GCounter.op_from_data({"increment": ["a", -1]})
