"""GSet: laws, semantics, errors and decoding."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.codec import decode, encode, to_bytes
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.gcounter import GCounter
from crdt.gset import GSet, GSetAdd
from crdt.testing import CrdtSpec, check_laws, elements

#: The active profile's example count, capped so each law test stays within a few seconds.
LAW_EXAMPLES = min(settings().max_examples, 100)


def test_laws() -> None:
    check_laws(CrdtSpec(GSet, {"add": st.tuples(elements)}), max_examples=LAW_EXAMPLES)


def test_value_is_the_union_of_adds_at_every_replica() -> None:
    a = GSet().add("a", "milk").add("a", 1)
    b = GSet().add("b", "eggs").add("b", ("x", 2))
    assert a.merge(b).value() == frozenset({"milk", 1, "eggs", ("x", 2)})
    assert a.merge(b) == b.merge(a)
    assert "eggs" in a.merge(b) and "eggs" not in a and len(a.merge(b)) == 4


def test_adding_a_present_element_changes_nothing() -> None:
    x = GSet().add("a", "milk")
    assert x.add("b", "milk") is x
    assert x.add_delta("b", "milk") is None and x.prepare_add("b", "milk") is None
    assert x.prepare_add("b", "tea") == GSetAdd("tea")
    assert x.effect(GSetAdd("tea")) == GSet(["milk", "tea"])


def test_merge_does_not_change_inputs() -> None:
    a, b = GSet(["milk"]), GSet(["tea"])
    a.merge(b)
    assert (a.value(), b.value()) == (frozenset({"milk"}), frozenset({"tea"}))


def test_encoding_is_sorted_canonically() -> None:
    x = GSet(["tea", 3, ("a", 1), "eggs"])
    # by canonical JSON text: strings, then numbers, then tuples
    assert to_bytes(x) == b'{"state":["eggs","tea",3,["a",1]],"type":"GSet"}'
    assert decode(encode(x)) == x
    assert GSet.op_from_data(GSetAdd(("a", 1)).to_data()) == GSetAdd(("a", 1))


@pytest.mark.parametrize("element", [["a", "list"], {"a": 1}, float("nan"), float("inf"), object()])
def test_bad_element_names_type_op_and_element(element: object) -> None:
    with pytest.raises(InvalidOperationError, match=r"GSet\.add: elements must be") as info:
        GSet().add("a", element)
    assert repr(element)[:20] in str(info.value)


def test_merge_with_another_type_is_refused() -> None:
    with pytest.raises(TypeMismatchError, match=r"GSet\.merge: expected a GSet, found GCounter"):
        GSet().merge(GCounter())  # type: ignore[arg-type]


def test_effect_of_a_foreign_op_is_refused() -> None:
    with pytest.raises(InvalidOperationError, match=r"GSet\.effect"):
        GSet().effect(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [None, {"a": 1}, [{"a": 1}], ["milk", "milk"], [float("inf")]])
def test_malformed_state_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match=r"GSet\.from_data"):
        GSet.from_data(data)


@pytest.mark.parametrize("data", [None, {"add": {}}, {"remove": "milk"}, {"add": 1, "x": 2}])
def test_malformed_op_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match=r"GSet\.from_data"):
        GSet.op_from_data(data)
