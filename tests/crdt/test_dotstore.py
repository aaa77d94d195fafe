"""The shared causal join of dot stores, the next-dot fast path, and the persistent map."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from crdt.clocks import CausalContext, Dot
from crdt.dotstore import (
    context_of,
    decode_dots,
    encode_dots,
    join_dot_funs,
    join_dot_maps,
    join_dot_sets,
    next_dot,
    seen_by,
)
from crdt.pmap import PersistentMap

dots = st.builds(Dot, st.sampled_from(["a", "b", "c"]), st.integers(1, 5))
dot_sets = st.frozensets(dots, max_size=6)


@st.composite
def stores(draw: st.DrawFn) -> tuple[frozenset[Dot], CausalContext]:
    """A dot set with a context that has seen it and maybe more (removed dots)."""
    held = draw(dot_sets)
    return held, context_of(held | draw(dot_sets))


@given(stores(), stores(), stores())
def test_dot_set_join_is_a_join(x: tuple, y: tuple, z: tuple) -> None:
    def j(p: tuple, q: tuple) -> tuple:
        return join_dot_sets(p[0], p[1], q[0], q[1]), p[1].merge(q[1])

    assert j(x, x) == x
    assert j(x, y) == j(y, x)
    assert j(j(x, y), z) == j(x, j(y, z))


@given(stores(), stores())
def test_join_keeps_common_dots_and_unseen_dots_only(x: tuple, y: tuple) -> None:
    (a, ca), (b, cb) = x, y
    joined = join_dot_sets(a, ca, b, cb)
    expected = (a & b) | {d for d in a if not cb.contains(d)} | {d for d in b if not ca.contains(d)}
    assert joined == expected


def test_a_removed_dot_does_not_come_back() -> None:
    a1, b1 = Dot("a", 1), Dot("b", 1)
    seen_both = context_of([a1, b1])
    assert join_dot_sets(frozenset({a1}), context_of([a1]), frozenset({b1}), seen_both) == {b1}


def test_dot_fun_and_dot_map_joins() -> None:
    a1, a2, b1 = Dot("a", 1), Dot("a", 2), Dot("b", 1)
    left = {a2: "new"}
    right = {a1: "old", b1: "other"}
    joined = join_dot_funs(left, context_of([a1, a2]), right, context_of([a1, b1]))
    assert joined == {a2: "new", b1: "other"}

    def join(x: object, cx: CausalContext, y: object, cy: CausalContext) -> object:
        s = join_dot_sets(x or frozenset(), cx, y or frozenset(), cy)  # type: ignore[arg-type]
        return s or None

    maps = join_dot_maps({"k": frozenset({a1})}, context_of([a1]), {}, context_of([a1]), join)
    assert maps == {}  # an emptied entry is not kept


@given(st.lists(dots, max_size=8), st.sampled_from(["a", "b", "c"]))
def test_next_dot_equals_adding_the_next_dot(seen: list[Dot], replica: str) -> None:
    context = context_of(seen)
    dot, extended = next_dot(context, replica)
    assert dot == context.next_dot(replica)
    assert extended == context.add(dot)
    assert seen_by(extended)(dot) and not seen_by(context)(dot)


def test_dots_encode_sorted_and_decode_back() -> None:
    ds = frozenset({Dot("b", 1), Dot("a", 2)})
    assert encode_dots(ds) == [["a", 2], ["b", 1]]
    assert decode_dots("T", encode_dots(ds)) == ds


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 200)), max_size=400))
def test_persistent_map_matches_a_dict(steps: list[tuple[bool, int]]) -> None:
    m, d = PersistentMap(), {}
    versions = []
    for put, key in steps:
        if put:
            m, d[key] = m.set(key, key * 2), key * 2
        else:
            m = m.delete(key)
            d.pop(key, None)
        versions.append((m, dict(d)))
    for version, expected in versions:  # every old version is unchanged
        assert dict(version.items()) == expected and len(version) == len(expected)
        assert version == PersistentMap.from_dict(expected)
        assert all(k in version and version[k] == v for k, v in expected.items())


def test_persistent_map_equality_across_layouts() -> None:
    big = PersistentMap.from_dict({i: i for i in range(100)})
    small = big
    for i in range(95):
        small = small.delete(i)
    assert len(small.buckets()) > len(PersistentMap.from_dict(dict(small.items())).buckets())
    assert small == PersistentMap.from_dict({i: i for i in range(95, 100)})
    assert small != PersistentMap.from_dict({i: i for i in range(94, 99)})
    wide = PersistentMap.from_dict({i: i for i in range(1_000)}).layout()
    assert PersistentMap.from_chunks(small.chunks_in(wide), wide) == small  # re-laid, the same map
    assert small.chunks_in(small.layout()) is small.chunks()


_WIDE = PersistentMap.from_dict({i: i for i in range(5_000)}).layout()
_values = st.frozensets(st.integers(1, 9), min_size=1)
_batches = st.lists(st.tuples(st.integers(0, 4_000), st.one_of(st.none(), _values)), max_size=60)


@given(st.lists(st.tuples(st.sampled_from(["set", "union", "delete", "batch"]), st.integers(0, 4_000), _batches),
                max_size=80))
def test_persistent_map_chunks_match_a_dict_through_every_change(steps: list[tuple[str, int, list[Any]]]) -> None:
    # batches grow the map past several layouts (capacity 32 << k), so chunks of several
    # buckets are copied, shared and re-laid
    m, d = PersistentMap(), {}
    for step, key, batch in steps:
        before, expected_before = m, dict(d)
        if step == "set":
            m, d[key] = m.set(key, frozenset({key})), frozenset({key})
        elif step == "union":
            m, d[key] = m.set_union(key, frozenset({-key})), d.get(key, frozenset()) | {-key}
        elif step == "delete":
            m = m.delete(key)
            d.pop(key, None)
        else:
            changes = dict(batch)
            m = m.updated(changes)
            for k, v in changes.items():
                if v is None:
                    d.pop(k, None)
                else:
                    d[k] = v
        assert dict(before.items()) == expected_before  # the old version is unchanged
        assert dict(m.items()) == d and len(m) == len(d) and sorted(m) == sorted(d)
        assert all(m[k] == v and m.get(k) == v and k in m for k, v in d.items())
        assert m == PersistentMap.from_dict(d)
        flat = m.buckets()
        assert all(k in flat[hash(k) & (len(flat) - 1)] for k in d)  # where buckets() says
        assert PersistentMap.from_chunks(m.chunks_in(_WIDE), _WIDE) == m
