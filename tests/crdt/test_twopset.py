"""TwoPSet: laws, semantics, errors and decoding."""

from typing import Any, Self

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.codec import decode, encode, to_bytes
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.gset import GSet
from crdt.testing import CrdtSpec, check_laws, elements
from crdt.twopset import TwoPSet, TwoPSetAdd, TwoPSetRemove

#: The active profile's example count, capped so each law test stays within a few seconds.
LAW_EXAMPLES = min(settings().max_examples, 100)


class PreconditionedTwoPSet(TwoPSet):
    """A TwoPSet driven like a careful workload: it skips the mutations the type refuses.

    The law checker draws mutations blindly, so without this it would re-add removed elements
    (which raises by design). Skipping them checks the laws over every history a correct
    client can produce.
    """

    __slots__ = ()

    def add(self, replica: str, element: Any) -> Self:
        return self if element in self.removed else super().add(replica, element)

    def add_delta(self, replica: str, element: Any) -> Self | None:
        return None if element in self.removed else super().add_delta(replica, element)

    def prepare_add(self, replica: str, element: Any) -> TwoPSetAdd | None:
        return None if element in self.removed else super().prepare_add(replica, element)

    def remove(self, replica: str, element: Any) -> Self:
        return self if element not in self.added else super().remove(replica, element)

    def remove_delta(self, replica: str, element: Any) -> Self | None:
        return None if element not in self.added else super().remove_delta(replica, element)

    def prepare_remove(self, replica: str, element: Any) -> TwoPSetRemove | None:
        return None if element not in self.added else super().prepare_remove(replica, element)


def test_laws() -> None:
    spec = CrdtSpec(
        PreconditionedTwoPSet,
        {"add": st.tuples(elements), "remove": st.tuples(elements)},
        name="TwoPSet",
    )
    check_laws(spec, max_examples=LAW_EXAMPLES)


def test_the_law_double_stays_its_own_type_so_the_laws_exercise_it() -> None:
    x = PreconditionedTwoPSet().add("a", "milk").remove("a", "milk").add("a", "milk")
    assert type(x) is PreconditionedTwoPSet and type(x.merge(x)) is PreconditionedTwoPSet
    assert x.value() == frozenset() and x.remove("a", "tea") is x


def test_value_is_adds_minus_removes_across_replicas() -> None:
    a = TwoPSet().add("a", "milk").add("a", "eggs")
    b = a.remove("b", "milk").add("b", "tea")
    c = a.remove("c", "eggs")
    merged = a.merge(b).merge(c)
    assert merged.value() == frozenset({"tea"})
    assert merged.added == frozenset({"milk", "eggs", "tea"})
    assert merged == c.merge(b).merge(a)


def test_re_adding_a_removed_element_is_refused_naming_type_op_and_element() -> None:
    x = TwoPSet().add("a", "milk").remove("a", "milk")
    for attempt in (x.add, x.add_delta, x.prepare_add):
        with pytest.raises(
            InvalidOperationError, match=r"TwoPSet\.add: element was removed"
        ) as info:
            attempt("a", "milk")
        assert "'milk'" in str(info.value)


def test_a_concurrent_add_does_not_revive_a_removed_element() -> None:
    a = TwoPSet().add("a", "milk").remove("a", "milk")
    late_add = TwoPSet().prepare_add("b", "milk")  # b never saw a's add or remove
    assert late_add is not None
    b = TwoPSet().effect(late_add)
    assert a.merge(b).value() == b.merge(a).value() == frozenset()
    assert a.effect(late_add) == a  # arriving after the tombstone: dominated, not an error


def test_removing_an_element_never_added_is_refused() -> None:
    for attempt in (TwoPSet().remove, TwoPSet().remove_delta, TwoPSet().prepare_remove):
        with pytest.raises(
            InvalidOperationError, match=r"TwoPSet\.remove: element was never added"
        ):
            attempt("a", "tea")


def test_removing_twice_is_a_no_op() -> None:
    x = TwoPSet().add("a", "milk").remove("a", "milk")
    assert x.remove("b", "milk") is x
    assert x.remove_delta("b", "milk") is None and x.prepare_remove("b", "milk") is None


def test_remove_delta_alone_tombstones_the_element_at_a_replica_that_never_saw_the_add() -> None:
    x = TwoPSet().add("a", "milk")
    delta = x.remove_delta("a", "milk")
    assert delta is not None
    assert TwoPSet().merge(delta).value() == frozenset()
    assert x.merge(delta) == x.remove("a", "milk")


def test_merge_does_not_change_inputs() -> None:
    a = TwoPSet().add("a", "milk")
    b = a.remove("b", "milk")
    a.merge(b)
    assert a.value() == frozenset({"milk"}) and b.removed == frozenset({"milk"})


def test_merge_with_another_type_is_refused() -> None:
    with pytest.raises(TypeMismatchError, match=r"TwoPSet\.merge: expected a TwoPSet, found GSet"):
        TwoPSet().merge(GSet())  # type: ignore[arg-type]


def test_effect_of_a_foreign_op_is_refused() -> None:
    with pytest.raises(InvalidOperationError, match=r"TwoPSet\.effect"):
        TwoPSet().effect(object())  # type: ignore[arg-type]


def test_encoding_is_canonical_and_round_trips() -> None:
    x = TwoPSet().add("a", "tea").add("a", 2).add("a", "eggs").remove("a", 2)
    assert to_bytes(x) == b'{"state":{"live":["eggs","tea"],"removed":[2]},"type":"TwoPSet"}'
    assert decode(encode(x)) == x
    for op in (TwoPSetAdd(("a", 1)), TwoPSetRemove("tea")):
        assert TwoPSet.op_from_data(op.to_data()) == op


@pytest.mark.parametrize(
    "data",
    [
        None,
        ["milk"],
        {"live": []},
        {"live": ["milk"], "removed": ["milk"]},
        {"live": [{}], "removed": []},
        {"live": ["a", "a"], "removed": []},
    ],
)
def test_malformed_state_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match=r"TwoPSet\.from_data"):
        TwoPSet.from_data(data)


@pytest.mark.parametrize("data", [None, {"add": {}}, {"drop": "milk"}, {"add": 1, "remove": 1}])
def test_malformed_op_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError, match=r"TwoPSet\.from_data"):
        TwoPSet.op_from_data(data)
