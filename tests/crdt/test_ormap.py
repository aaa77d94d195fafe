"""ORMap: laws with nested ORSet, CausalCounter and ORMap; reset-remove; types; encoding."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.causalcounter import CausalCounter
from crdt.codec import decode, decode_op, encode, encode_op
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.flags import DWFlag, EWFlag
from crdt.gcounter import GCounter
from crdt.ormap import ORMap, ORMapRemove, ORMapUpdate
from crdt.orset import ORSet
from crdt.testing import CrdtSpec, check_laws, elements

EXAMPLES = min(settings.default.max_examples, 100)
set_keys = st.sampled_from(["milk", "eggs"])
counter_keys = st.integers(0, 1)
keys = set_keys | counter_keys

set_update = st.tuples(set_keys, st.just("ORSet"), st.sampled_from(["add", "remove"]), elements)
counter_update = st.tuples(
    counter_keys, st.just(CausalCounter), st.sampled_from(["increment", "decrement"]), st.integers(0, 2)
)


def test_laws_with_nested_sets_and_counters() -> None:
    spec = CrdtSpec(ORMap, {"update": set_update | counter_update, "remove": st.tuples(keys)})
    check_laws(spec, max_examples=EXAMPLES)


def test_laws_with_nested_maps() -> None:
    inner = st.tuples(
        set_keys,
        st.just("ORMap"),
        st.just("update"),
        counter_keys,
        st.just("CausalCounter"),
        st.just("increment"),
        st.integers(0, 2),
    ) | st.tuples(set_keys, st.just(ORMap), st.just("remove"), counter_keys)
    spec = CrdtSpec(ORMap, {"update": inner, "remove": st.tuples(set_keys)}, name="nested ORMap")
    check_laws(spec, max_examples=EXAMPLES)


def test_remove_concurrent_with_counter_update_keeps_only_the_update() -> None:
    base = ORMap().update("a", "cart", CausalCounter, "increment", 5)
    removed = base.remove("a", "cart")
    bumped = base.update("b", "cart", CausalCounter, "increment", 2)
    assert removed.merge(bumped).value() == {"cart": 2}
    assert bumped.merge(removed).value() == {"cart": 2}


def test_reset_keeps_the_concurrent_replicas_whole_contribution() -> None:
    # Documented CCounter behaviour: b's new dot carries b's accumulated total (1 + 2).
    base = ORMap().update("a", "n", CausalCounter, "increment", 5)
    base = base.update("b", "n", CausalCounter, "increment", 1)
    removed = base.remove("a", "n")
    bumped = base.update("b", "n", CausalCounter, "increment", 2)
    assert removed.merge(bumped).value() == {"n": 3}


def test_remove_that_saw_the_update_removes_the_key() -> None:
    base = ORMap().update("a", "tags", ORSet, "add", "x")
    other = base.update("b", "tags", ORSet, "add", "y")
    removed = base.merge(other).remove("a", "tags")
    assert removed.merge(other).value() == {}


def test_remove_concurrent_with_nested_set_add_keeps_only_the_new_element() -> None:
    base = ORMap().update("a", "tags", "ORSet", "add", "x")
    removed = base.remove("a", "tags")
    added = base.update("b", "tags", "ORSet", "add", "y")
    assert removed.merge(added).value() == {"tags": frozenset({"y"})}


def test_nested_maps_and_get() -> None:
    m = ORMap().update("a", "user", "ORMap", "update", "visits", "CausalCounter", "increment", 3)
    m = m.update("a", "flag", EWFlag, "enable")
    assert m.value() == {"flag": True, "user": {"visits": 3}}
    user = m.get("user")
    assert isinstance(user, ORMap) and user.value() == {"visits": 3}
    assert m.get("absent") is None
    assert m.keys() == ["flag", "user"]


def test_dot_free_nested_mutation_does_not_create_the_key() -> None:
    assert ORMap().update("a", "k", DWFlag, "enable") == ORMap()
    assert ORMap().update_delta("a", "k", EWFlag, "disable") is None


def test_nesting_a_non_causal_type_is_a_clear_error() -> None:
    with pytest.raises(InvalidOperationError, match="GCounter cannot nest.*use CausalCounter"):
        ORMap().update("a", "k", GCounter, "increment", 1)
    with pytest.raises(InvalidOperationError, match="unknown CRDT type"):
        ORMap().update("a", "k", "NoSuchType", "add", 1)


def test_updating_a_key_with_another_type_is_refused() -> None:
    m = ORMap().update("a", "k", ORSet, "add", 1)
    with pytest.raises(InvalidOperationError, match="remove the key"):
        m.update("a", "k", CausalCounter, "increment", 1)


def test_concurrent_type_conflict_keeps_both() -> None:
    a = ORMap().update("a", "k", ORSet, "add", 1)
    b = ORMap().update("b", "k", CausalCounter, "increment", 4)
    both = a.merge(b)
    assert both == b.merge(a)
    assert both.value() == {"k": {"CausalCounter": 4, "ORSet": frozenset({1})}}
    assert both.types("k") == ["CausalCounter", "ORSet"]
    with pytest.raises(InvalidOperationError, match="pass one"):
        both.get("k")
    counter = both.get("k", CausalCounter)
    assert counter is not None and counter.value() == 4
    assert both.remove("a", "k").value() == {}


def test_ops_match_state_form_and_round_trip() -> None:
    m = ORMap().update("a", "k", ORSet, "add", 1).update("b", "n", CausalCounter, "increment")
    up = m.prepare_update("c", "k", ORSet, "add", 2)
    assert isinstance(up, ORMapUpdate) and m.effect(up) == m.update("c", "k", ORSet, "add", 2)
    rm = m.prepare_remove("c", "n")
    assert isinstance(rm, ORMapRemove) and m.effect(rm) == m.remove("c", "n")
    for op in (up, rm):
        assert decode_op(encode_op("ORMap", op)) == op
    assert decode(encode(m)) == m
    assert m.prepare_remove("a", "absent") is None and m.remove_delta("a", "absent") is None


def test_merge_with_another_type_raises() -> None:
    with pytest.raises(TypeMismatchError):
        ORMap().merge(ORSet())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [["k", [["GCounter", {"a": 1}]]]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [["k", []]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [["k", [["EWFlag", []]]]]},
        {"context": {"vv": {}, "cloud": []}, "store": [["k", [["EWFlag", [["a", 1]]]]]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [["k", [["Nope", []]]]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": {"k": 1}},
    ],
)
def test_malformed_data_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError):
        ORMap.from_data(data)


@pytest.mark.parametrize(
    "data",
    [{"update": ["k", "GCounter", {"a": 1}]}, {"remove": ["k", []]}, {"update": ["k"]}, []],
)
def test_malformed_op_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError):
        ORMap.op_from_data(data)


# -- merges proportional to the smaller side ------------------------------------------------

from unittest import mock  # noqa: E402

from hypothesis import given  # noqa: E402

import crdt.dotstore  # noqa: E402
from crdt.ormap import _entry_dots  # noqa: E402
from crdt.testing import states  # noqa: E402

ALWAYS_WALK = mock.patch.object(crdt.dotstore, "WALK_FACTOR", 0)
NEVER_WALK = mock.patch.object(crdt.dotstore, "WALK_FACTOR", 10**9)
MIXED = CrdtSpec(ORMap, {"update": set_update | counter_update, "remove": st.tuples(keys)})


def test_laws_when_every_merge_walks_the_smaller_side() -> None:
    with ALWAYS_WALK:
        check_laws(MIXED, max_examples=EXAMPLES)


# One history: states drawn from two independent histories can reuse a dot for different
# events, a pair no execution produces and on which no join is defined.
@given(states(MIXED))
def test_walking_the_smaller_side_equals_the_key_by_key_join(replicas: list[ORMap]) -> None:
    for x in replicas:
        for y in replicas:
            with NEVER_WALK:
                expected = x.merge(y)
            with ALWAYS_WALK:
                assert x.merge(y) == expected
                assert y.merge(x) == expected


@given(states(MIXED), st.lists(st.one_of(st.tuples(st.just("update"), set_update | counter_update),
                                         st.tuples(st.just("remove"), st.tuples(keys)), st.just(("merge", ()))),
                               max_size=8))
def test_the_carried_dot_index_matches_the_store(xs: list[ORMap], steps: list[tuple[str, tuple]]) -> None:
    def fresh(m: ORMap) -> dict:
        return {d: key for key, entry in m.store.items() for d in _entry_dots(entry)}

    m = xs[0]
    assert dict(m._dot_index().items()) == fresh(m)
    with ALWAYS_WALK:
        for kind, args in steps:
            m = m.merge(xs[1]) if kind == "merge" else m.mutate(kind, "c", *args)
            if hasattr(m, "_index"):
                assert dict(m._index.items()) == fresh(m)


def test_a_remove_delta_into_a_large_map_finds_the_key_by_its_dot() -> None:
    big = ORMap()
    for i in range(2_000):
        big = big.update("a", i, CausalCounter, "increment", 1)
    removal = big.remove_delta("b", 1234)
    assert removal is not None and not removal.store
    merged = big.merge(removal)
    assert 1234 not in merged and len(merged) == 1_999
    with NEVER_WALK:
        assert big.merge(removal) == merged
    assert merged.merge(removal) is merged  # dominated: the larger side itself
    bump = ORMap().update_delta("b", "new", CausalCounter, "increment", 3)
    assert big.merge(bump).value()["new"] == 3 and big.merge(bump).merge(bump) == big.merge(bump)
