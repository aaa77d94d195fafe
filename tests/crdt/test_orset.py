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


# -- merges proportional to the smaller side ------------------------------------------------

from unittest import mock  # noqa: E402

from hypothesis import given  # noqa: E402

import crdt.dotstore  # noqa: E402
from crdt.pmap import PersistentMap  # noqa: E402
from crdt.testing import states  # noqa: E402

ALWAYS_WALK = mock.patch.object(crdt.dotstore, "WALK_FACTOR", 0)
NEVER_WALK = mock.patch.object(crdt.dotstore, "WALK_FACTOR", 10**9)


def _fresh_index(s: ORSet) -> dict[Dot, object]:
    return {d: e for e, dots in s.store.items() for d in dots}


def test_laws_when_every_merge_walks_the_smaller_side() -> None:
    with ALWAYS_WALK:
        check_laws(SPEC, max_examples=min(settings.default.max_examples, 100))


# One history: states drawn from two independent histories can reuse a dot for different
# events, a pair no execution produces and on which no join is defined.
@given(states(SPEC))
def test_walking_the_smaller_side_equals_the_bucket_join(replicas: list[ORSet]) -> None:
    for x in replicas:
        for y in replicas:
            with NEVER_WALK:
                expected = x.merge(y)
            with ALWAYS_WALK:
                assert x.merge(y) == expected
                assert y.merge(x) == expected


@given(states(SPEC), st.lists(st.tuples(st.sampled_from(["add", "remove", "clear", "merge"]), elements), max_size=8))
def test_the_carried_dot_index_matches_the_store(xs: list[ORSet], steps: list[tuple[str, object]]) -> None:
    s = xs[0]
    assert dict(s._dot_index().items()) == _fresh_index(s)
    with ALWAYS_WALK:
        for kind, element in steps:
            if kind == "merge":
                s = s.merge(xs[1])
            else:
                s = s.mutate(kind, "c", *(() if kind == "clear" else (element,)))
            if s._index is not None:  # carried through this step (a clear starts afresh)
                assert dict(s._index.items()) == _fresh_index(s)


def _big(n: int) -> ORSet:
    s = ORSet()
    for i in range(n):
        s = s.add("a", i)
    return s


def test_a_small_delta_into_a_large_set_touches_only_what_it_holds() -> None:
    big = _big(10_000)
    delta = ORSet().add_delta("b", "new")
    merged = big.merge(delta)
    assert merged.value() == big.value() | {"new"}
    changed = [x is not y for x, y in zip(merged.store.buckets(), big.store.buckets(), strict=True)]
    assert sum(changed) == 1  # every other bucket is shared with the large side
    assert merged.merge(delta) is merged and delta.merge(merged) is merged  # dominated: itself


def test_a_remove_delta_into_a_large_set_finds_the_element_by_its_dot() -> None:
    big = _big(5_000)
    removal = big.remove_delta("b", 1234)
    assert removal is not None and not removal.store  # the delta names only dots
    merged = big.merge(removal)
    assert 1234 not in merged and len(merged) == 4_999
    assert dict(merged._index.items()) == _fresh_index(merged)  # carried, not rebuilt
    with NEVER_WALK:
        assert big.merge(removal) == merged
    assert merged.merge(removal) is merged


def test_sides_of_similar_size_are_joined_bucket_by_bucket_without_an_index() -> None:
    a = _big(100)
    b = a.add("b", "x").remove("b", 7)
    merged = a.merge(b)
    assert merged.value() == (a.value() - {7}) | {"x"}
    assert a._index is None and b._index is None and merged._index is None
    assert a.merge(a.add("a", 1)).merge(a) is not a and merged.merge(a) is merged


def test_walking_a_fresh_add_needs_no_index() -> None:
    big = _big(1_000)
    merged = big.merge(ORSet().add_delta("b", "y"))
    assert "y" in merged and big._index is None and merged._index is None
    assert isinstance(merged.store, PersistentMap)


NO_SINGLE_ADD = mock.patch.object(ORSet, "_add_one", lambda self, delta: None)


@given(states(SPEC), st.lists(st.tuples(st.sampled_from(["x", "y"]), elements), min_size=1, max_size=6))
def test_a_single_add_delta_joins_like_the_bucket_join(xs: list[ORSet], adds: list[tuple[str, object]]) -> None:
    # replicas the drawn states never use, so every delta's dot is new to them
    for x in xs:
        for source in xs:
            for replica, element in adds:
                delta = source.add_delta(replica, element)
                source = source.merge(delta)
                # the same delta without what add_delta knew of it (as decoded from the wire)
                unmarked = ORSet._of(delta.store, delta.context)
                assert unmarked._fresh is None
                for a, b, plain in ((x, delta, unmarked), (delta, x, x), (x.merge(delta), delta, unmarked)):
                    with NEVER_WALK, NO_SINGLE_ADD:
                        expected = (unmarked if a is delta else a).merge(plain)
                    for merged in (a.merge(b), (unmarked if a is delta else a).merge(plain)):
                        assert merged == expected
                        if merged._index is not None:
                            assert dict(merged._index.items()) == _fresh_index(expected)


def test_add_delta_marks_a_fresh_add_and_nothing_else() -> None:
    s = ORSet().add("a", "milk")
    fresh = s.add_delta("b", "tea")
    assert fresh._fresh == ("tea", next(iter(fresh.store["tea"])), fresh.store["tea"])
    assert s.add_delta("b", "milk")._fresh is None  # a re-add also removes the dots it saw
    assert s._fresh is None and s.merge(fresh)._fresh is None  # a join is not a fresh add
    decoded = ORSet.from_data(fresh.to_data())
    assert decoded._fresh is None and decoded == fresh
    big = _big(100)
    assert big.merge(fresh) == big.merge(decoded) == fresh.merge(big)


def test_a_single_add_delta_seen_already_returns_the_set_itself() -> None:
    big = _big(100)
    delta = ORSet().add_delta("b", "x")
    merged = big.merge(delta)
    assert merged.merge(delta) is merged and delta.merge(merged) is merged
    removed = merged.remove("b", "x")
    assert removed.merge(delta) is removed  # removed since: the stale add stays removed


# -- the exact difference (what RR forwards) ------------------------------------------------


def _parts(s: ORSet) -> list[ORSet]:
    """The join decomposition of ``s``: one state per held dot, one per removal it saw."""
    held = {d: e for e, dots in s.store.items() for d in dots}
    parts = [ORSet._of(PersistentMap.from_dict({e: frozenset({d})}), crdt.dotstore.context_of([d]))
             for d, e in held.items()]
    parts += [ORSet._of(PersistentMap(), crdt.dotstore.context_of([d]))
              for d in s.context.dots() if d not in held]
    return parts


@given(states(SPEC))
def test_difference_is_the_exact_part_of_the_delta_that_is_new(replicas: list[ORSet]) -> None:
    for x in replicas:
        for d in replicas:
            part = x.difference(d)
            assert x.merge(d) == (x if part is None else x.merge(part))
            assert (part is None) == (x.merge(d) == x)
            if part is None:
                continue
            # exact: every part of what is left inflates x, and nothing of it is outside d
            assert all(x.merge(p) != x for p in _parts(part))
            assert d.merge(part) == d
            if all(x.merge(p) != x for p in _parts(d)):
                assert part is d  # all of it is new: the delta itself, no new value


def test_difference_of_a_removal_already_applied_is_none_and_of_a_fresh_one_is_kept() -> None:
    s = _big(50)
    removal = s.remove_delta("b", 7)
    assert removal is not None
    assert s.difference(removal) is removal  # we still hold the dot it removes
    removed = s.merge(removal)
    assert removed.difference(removal) is None
    assert ORSet().difference(removal) is removal  # never saw the dot: the context is news


# -- one walk for the join and the difference; many deltas joined at once ----------------------

import crdt.orset  # noqa: E402
from crdt.clocks import CausalContext  # noqa: E402

ALWAYS_INDEX = mock.patch.object(crdt.orset, "SCAN_FACTOR", 0)
ALWAYS_SCAN = mock.patch.object(crdt.orset, "SCAN_FACTOR", 10**9)


@given(states(SPEC))
def test_merge_difference_is_the_merge_and_the_difference_in_one(replicas: list[ORSet]) -> None:
    for x in replicas:
        for d in replicas:
            merged, part = x.merge_difference(d)
            assert merged == x.merge(d)
            assert part == x.difference(d)
            if part is None:
                assert merged is x  # nothing new: the state itself, no new value


@given(states(SPEC))
def test_scanning_and_indexing_find_the_same_removed_dots(replicas: list[ORSet]) -> None:
    for x in replicas:
        for d in replicas:
            with ALWAYS_SCAN, ALWAYS_WALK:
                expected = (x.merge(d), x.difference(d))
            with ALWAYS_INDEX, ALWAYS_WALK:
                assert (x.merge(d), x.difference(d)) == expected


@given(states(SPEC), st.data())
def test_join_all_equals_merging_in_turn(replicas: list[ORSet], data: st.DataObject) -> None:
    values = data.draw(st.lists(st.sampled_from(replicas), min_size=1, max_size=5))
    expected = values[0]
    for v in values[1:]:
        expected = expected.merge(v)
    for walk in (ALWAYS_WALK, NEVER_WALK):
        with walk:
            assert ORSet.join_all(values) == expected


def test_join_all_keeps_a_dominant_value_as_the_base() -> None:
    big = _big(1_000)
    deltas = [ORSet().add_delta("b", "x"), ORSet().add_delta("c", "y"), big.remove_delta("d", 5)]
    assert deltas[2] is not None
    joined = ORSet.join_all([deltas[0], big, deltas[1], deltas[2]])
    assert joined.value() == (big.value() - {5}) | {"x", "y"}
    changed = [x is not y for x, y in zip(joined.store.buckets(), big.store.buckets(), strict=True)]
    assert sum(changed) <= 3  # the large set was merged into, not rebuilt


def test_a_walk_removes_a_dot_the_delta_saw_and_keeps_one_it_did_not() -> None:
    s = ORSet().add("a", "x")
    concurrent = s.merge(ORSet().add("b", "x"))  # x with a1 and b1
    removal = s.remove_delta("a", "x")  # saw a1 only
    assert removal is not None
    merged = concurrent.merge(removal)
    assert merged.dots() == [Dot("b", 1)]
    part = concurrent.difference(removal)
    assert part is removal  # its one removal is news: the delta itself


def test_the_size_is_the_encoding_length_with_strays_and_odd_text() -> None:
    from crdt.codec import to_bytes

    source = ORSet()
    for replica in ("a", "é", 'q"', "\n"):
        for element in ("x", 2, ("t", 1.5), "ü\\", None, True):
            source = source.add(replica, element)
    strayed = ORSet().merge(source.add_delta("z", "new")).merge(source.add("z", "w").add_delta("z", "v"))
    for s in (ORSet(), source, strayed, strayed.merge(source.remove_delta("a", 2) or ORSet())):
        assert s._quick_size() == len(to_bytes(s))


def test_context_union_equals_merging_in_turn() -> None:
    contexts = [CausalContext().add(Dot("a", 3)), CausalContext().add(Dot("a", 1)),
                CausalContext().add(Dot("b", 2)), CausalContext().add(Dot("a", 2)).add(Dot("b", 1))]
    expected = contexts[0]
    for c in contexts[1:]:
        expected = expected.merge(c)
    assert CausalContext.union(contexts) == expected
    assert CausalContext.union(contexts).vv.to_data() == {"a": 3, "b": 2}
    assert CausalContext.union([contexts[0], contexts[0]]) is contexts[0]
