"""CausalCounter: laws, one dot per replica, encoding and errors."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.causalcounter import CausalCounter
from crdt.clocks import Dot
from crdt.codec import decode, decode_op, encode, encode_op
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.gcounter import GCounter
from crdt.testing import CrdtSpec, check_laws


def test_laws() -> None:
    amounts = st.tuples(st.integers(0, 3))
    spec = CrdtSpec(CausalCounter, {"increment": amounts, "decrement": amounts})
    check_laws(spec, max_examples=min(settings.default.max_examples, 150))


def test_value_is_sum_of_latest_contributions() -> None:
    a = CausalCounter().increment("a", 5)
    b = a.merge(CausalCounter().increment("b", 2)).decrement("b", 3)
    merged = a.merge(b)
    assert merged.value() == 4
    assert merged.get("a") == 5 and merged.get("b") == -1


def test_each_replica_keeps_one_dot() -> None:
    c = CausalCounter().increment("a").increment("a").increment("b").increment("a")
    assert c.dots() == [Dot("a", 3), Dot("b", 1)]
    assert c.value() == 4


def test_zero_amount_is_a_no_op_and_negative_is_refused() -> None:
    c = CausalCounter().increment("a")
    assert c.increment("a", 0) is c
    assert c.increment_delta("a", 0) is None and c.prepare_decrement("a", 0) is None
    with pytest.raises(InvalidOperationError):
        c.increment("a", -1)


def test_ops_and_encoding() -> None:
    c = CausalCounter().increment("a", 2).merge(CausalCounter().decrement("b", 1))
    op = c.prepare_increment("a", 4)
    assert op is not None and op.total == 6
    assert c.effect(op) == c.increment("a", 4)
    assert decode_op(encode_op("CausalCounter", op)) == op
    assert decode(encode(c)) == c


def test_merge_with_another_counter_type_raises() -> None:
    with pytest.raises(TypeMismatchError):
        CausalCounter().merge(GCounter())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        {"context": {"vv": {}, "cloud": []}, "store": [[["a", 1], 3]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [[["a", 1], True]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [[["a", 1], "3"]]},
        {"context": {"vv": "a", "cloud": []}, "store": []},
    ],
)
def test_malformed_data_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError):
        CausalCounter.from_data(data)
