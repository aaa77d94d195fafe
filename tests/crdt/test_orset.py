"""ORSet: laws, add-wins semantics, encoding and errors."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.clocks import Dot
from crdt.codec import decode, decode_op, encode, encode_op
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.gcounter import GCounter
from crdt.orset import ORSet, ORSetAdd, ORSetRemove
from crdt.testing import CrdtSpec, check_laws, elements

SPEC = CrdtSpec(
    ORSet,
    {"add": st.tuples(elements), "remove": st.tuples(elements), "clear": st.just(())},
)


def test_laws() -> None:
    check_laws(SPEC, max_examples=min(settings.default.max_examples, 150))


def test_concurrent_re_add_survives_remove() -> None:
    s = ORSet().add("a", "milk")
    removed, re_added = s.remove("a", "milk"), s.add("b", "milk")
    assert removed.merge(re_added).value() == frozenset({"milk"})
    assert re_added.merge(removed).value() == frozenset({"milk"})


def test_remove_that_saw_the_add_removes_it() -> None:
    s = ORSet().add("a", "milk")
    b = s.add("b", "milk")
    seen = s.merge(b).remove("a", "milk")
    assert seen.merge(b).value() == frozenset()
    assert b.merge(seen).value() == frozenset()


def test_concurrent_adds_keep_both_dots_and_one_remove_clears_them() -> None:
    a, b = ORSet().add("a", "x"), ORSet().add("b", "x")
    both = a.merge(b)
    assert both.dots() == [Dot("a", 1), Dot("b", 1)]
    assert both.remove("c", "x").value() == frozenset()


def test_remove_of_absent_element_is_a_no_op() -> None:
    s = ORSet().add("a", "milk")
    assert s.remove("a", "tea") is s
    assert s.remove_delta("a", "tea") is None
    assert s.prepare_remove("a", "tea") is None
    assert ORSet().prepare_clear("a") is None


def test_re_add_of_present_element_is_a_change() -> None:
    s = ORSet().add("a", "milk")
    again = s.add("a", "milk")
    assert again != s and again.dots() == [Dot("a", 2)]
    assert s.add_delta("a", "milk") is not None


def test_clear_removes_only_what_it_saw() -> None:
    s = ORSet().add("a", 1).add("a", 2)
    other = s.add("b", 3)
    cleared = s.clear("a")
    assert cleared.merge(other).value() == frozenset({3})


def test_effect_of_prepared_ops_matches_state_form() -> None:
    s = ORSet().add("a", "x").add("b", "y")
    op = s.prepare_add("c", "x")
    assert isinstance(op, ORSetAdd) and op.observed == frozenset({Dot("a", 1)})
    assert s.effect(op) == s.add("c", "x")
    rm = s.prepare_remove("a", "y")
    assert isinstance(rm, ORSetRemove)
    assert s.effect(rm) == s.remove("a", "y")


def test_merge_with_another_type_raises() -> None:
    with pytest.raises(TypeMismatchError):
        ORSet().merge(GCounter())  # type: ignore[arg-type]


def test_unencodable_element_is_refused() -> None:
    with pytest.raises(InvalidOperationError, match="elements must be"):
        ORSet().add("a", [1, 2])


def test_encoding_is_canonical_and_round_trips() -> None:
    s = ORSet().add("b", "tea").add("a", 2).add("a", "eggs")
    assert s.to_data() == {
        "context": {"vv": {"a": 2, "b": 1}, "cloud": []},
        "store": [
            ["eggs", [["a", 2]]],
            ["tea", [["b", 1]]],
            [2, [["a", 1]]],
        ],  # canonical-JSON order
    }
    assert decode(encode(s)) == s
    op = s.prepare_add("a", ("x", 1))
    assert decode_op(encode_op("ORSet", op)) == op


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"context": {"vv": {}, "cloud": []}},
        {"context": {"vv": {}, "cloud": []}, "store": [["x", [["a", 1]]]]},  # dot not in context
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [["x", []]]},  # empty dot set
        {"context": {"vv": {"a": 2}, "cloud": []}, "store": [["x", [["a", 1]]], ["x", [["a", 2]]]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [["x", [["a", 0]]]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [[{"x": 1}, [["a", 1]]]]},
    ],
)
def test_malformed_data_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError):
        ORSet.from_data(data)


@pytest.mark.parametrize("data", [{}, {"add": ["x"]}, {"remove": ["x", []]}, {"pop": 1}, "add"])
def test_malformed_op_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError):
        ORSet.op_from_data(data)


def test_large_sets_share_structure_and_merge_correctly() -> None:
    a = ORSet()
    for i in range(3000):
        a = a.add("a", i)
    b = a
    for i in range(0, 3000, 3):
        b = b.remove("b", i)
    b = b.add("b", "new")
    a2 = a.add("a", "other")
    merged = a2.merge(b)
    expected = {i for i in range(3000) if i % 3} | {"new", "other"}
    assert merged.value() == frozenset(expected)
    assert merged == b.merge(a2)
    assert decode(encode(merged)) == merged
