"""Version vectors and causal contexts: laws and semantics."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdt import CausalContext, DecodeError, Dot, InvalidOperationError, Ordering, VersionVector

vectors = st.dictionaries(st.sampled_from("abc"), st.integers(0, 4)).map(VersionVector)
dots = st.builds(Dot, st.sampled_from("abc"), st.integers(1, 6))
contexts = st.lists(dots, max_size=10).map(lambda ds: CausalContext().add_all(ds))


@given(vectors, vectors, vectors)
def test_version_vector_merge_is_a_join(x: VersionVector, y: VersionVector, z: VersionVector) -> None:
    assert x.merge(x) == x
    assert x.merge(y) == y.merge(x)
    assert x.merge(y).merge(z) == x.merge(y.merge(z))
    assert x.merge(y).dominates(x) and x.merge(y).dominates(y)


@given(vectors, vectors)
def test_compare_agrees_with_dominance(x: VersionVector, y: VersionVector) -> None:
    expected = {
        (True, True): Ordering.EQUAL,
        (True, False): Ordering.AFTER,
        (False, True): Ordering.BEFORE,
        (False, False): Ordering.CONCURRENT,
    }[(x.dominates(y), y.dominates(x))]
    assert x.compare(y) is expected
    mirror = {Ordering.BEFORE: Ordering.AFTER, Ordering.AFTER: Ordering.BEFORE}
    assert y.compare(x) is mirror.get(expected, expected)


def test_increment_orders_events() -> None:
    start = VersionVector({"a": 1})
    assert start.increment("a").compare(start) is Ordering.AFTER
    assert start.increment("a").compare(start.increment("b")) is Ordering.CONCURRENT
    assert VersionVector({"a": 0}) == VersionVector()  # zero entries are not kept


@given(st.lists(dots, max_size=12), st.randoms(use_true_random=False))
def test_causal_context_holds_exactly_the_dots_added_in_any_order(added: list[Dot], rnd) -> None:
    shuffled = list(added)
    rnd.shuffle(shuffled)
    one = CausalContext().add_all(added)
    other = CausalContext()
    for dot in shuffled:
        other = other.add(dot)
    assert one == other  # compact canonical form: same dots, same value
    assert set(one.dots()) == set(added)
    for dot in added:
        assert one.contains(dot)


@given(contexts, contexts, contexts)
def test_causal_context_merge_is_a_join(x: CausalContext, y: CausalContext, z: CausalContext) -> None:
    assert x.merge(x) == x
    assert x.merge(y) == y.merge(x)
    assert x.merge(y).merge(z) == x.merge(y.merge(z))
    assert set(x.merge(y).dots()) == set(x.dots()) | set(y.dots())


def test_cloud_compacts_into_vector_when_contiguous() -> None:
    ctx = CausalContext().add(Dot("a", 3)).add(Dot("a", 2))
    assert ctx.vv.get("a") == 0 and ctx.cloud == {Dot("a", 2), Dot("a", 3)}
    ctx = ctx.add(Dot("a", 1))
    assert ctx.vv.get("a") == 3 and ctx.cloud == frozenset()
    assert ctx.next_dot("a") == Dot("a", 4)


@given(contexts)
def test_context_encoding_round_trips(ctx: CausalContext) -> None:
    assert CausalContext.from_data(ctx.to_data()) == ctx


def test_bad_clock_input_is_a_clear_error() -> None:
    with pytest.raises(InvalidOperationError, match="counts must be integers >= 0, found -1"):
        VersionVector({"a": -1})
    with pytest.raises(DecodeError, match="Dot.from_data"):
        Dot.from_data(["a", 0])
    with pytest.raises(DecodeError, match="CausalContext.from_data"):
        CausalContext.from_data({"vv": {}})


def _is_compact(ctx: CausalContext) -> bool:
    return all(d.counter > ctx.vv.get(d.replica) + 1 for d in ctx.cloud)


@given(contexts, contexts)
def test_merged_contexts_are_compact_and_hold_exactly_the_union(x: CausalContext, y: CausalContext) -> None:
    merged = x.merge(y)
    assert _is_compact(merged), merged
    union = set(x.dots()) | set(y.dots())
    assert set(merged.dots()) == union
    one_by_one = CausalContext()
    for dot in sorted(union, reverse=True):  # worst order: every dot a stray until the first
        one_by_one = one_by_one.add(dot)
    assert merged == one_by_one and _is_compact(one_by_one)


@given(contexts, contexts)
def test_merge_returns_the_covering_side_itself(x: CausalContext, y: CausalContext) -> None:
    both = x.merge(y)
    assert both.merge(x) is both and both.merge(y) is both
    assert x.merge(CausalContext()) is x


def test_a_raised_entry_drops_the_strays_it_covers_and_folds_the_next() -> None:
    ctx = CausalContext().add_all([Dot("a", 3), Dot("a", 5), Dot("a", 7), Dot("b", 2)])
    merged = ctx.merge(CausalContext(VersionVector({"a": 4})))
    assert merged.vv == VersionVector({"a": 5})
    assert merged.cloud == {Dot("a", 7), Dot("b", 2)}
