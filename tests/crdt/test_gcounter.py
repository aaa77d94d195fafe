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


# -- large counters merge through their entries as bits --------------------------------------

from hypothesis import given  # noqa: E402

import crdt.gcounter as gcounter_module  # noqa: E402
from crdt import decode, encode, fingerprint, size, to_bytes  # noqa: E402

_REPLICAS = [f"n-{i}" for i in range(80)]
_large_counts = st.dictionaries(st.sampled_from(_REPLICAS), st.integers(1, 4), min_size=32)


def _pointwise_max(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {r: max(a.get(r, 0), b.get(r, 0)) for r in sorted(a.keys() | b.keys())}


def _assert_knows_itself(value: GCounter) -> None:
    """What the counter keeps of itself (size, fingerprint, value, bits, counts built from
    its bits) is what a fresh computation from its encoding gives. Asked before the counts
    are built, so a counter that has none yet answers from its bits and stats."""
    built = not hasattr(value, "_counts")
    total = value.value()
    fresh = to_bytes(decode(encode(value)))
    assert size(value) == len(fresh) == len(to_bytes(value))
    assert fingerprint(value) == fingerprint(decode(encode(value)))
    assert total == decode(encode(value)).value() == sum(value.counts.values())
    if built:  # the counts were built from the bits just now: as a fresh decoding has them
        assert dict(value.counts) == decode(encode(value)).counts
    if getattr(value, "_bits", None) is not None:
        assert value._bits == gcounter_module._bits_of(value.counts)


@given(_large_counts, _large_counts, st.lists(st.tuples(st.sampled_from(_REPLICAS), st.integers(0, 3)), max_size=4))
def test_large_merges_are_the_pointwise_maximum_and_keep_size_and_fingerprint(
        a: dict[str, int], b: dict[str, int], increments: list[tuple[str, int]]) -> None:
    left, right = GCounter(a), GCounter(b)
    for replica, amount in increments:  # a history: stats and bits kept through increments too
        size(left)
        left = left.merge(right).increment(replica, amount)
    merged = left.merge(right)
    assert dict(merged.counts) == _pointwise_max(dict(left.counts), b)
    assert merged == right.merge(left)
    assert right == GCounter(b)  # the inputs are unchanged
    for value in (left, right, merged, merged.merge(left), right.merge(merged)):
        _assert_knows_itself(value)


_disjoint = st.dictionaries(st.sampled_from(_REPLICAS[:40]), st.integers(1, 4), min_size=32)


@given(_disjoint, st.dictionaries(st.sampled_from(_REPLICAS[40:]), st.integers(1, 4), min_size=32),
       st.dictionaries(st.sampled_from(_REPLICAS), st.integers(1, 9), max_size=6), st.integers(0, 3))
def test_a_large_merge_of_new_replicas_builds_its_counts_only_when_asked(
        a: dict[str, int], b: dict[str, int], later: dict[str, int], amount: int) -> None:
    """Merging counters whose shared replicas agree keeps bits and stats only; what is asked
    of the result afterwards (value, size, fingerprint, counts, a further merge, an increment,
    a pickle) is what the pointwise maximum computed afresh gives."""
    import copy
    import pickle

    expected = _pointwise_max(a, b)
    merged = GCounter(a).merge(GCounter(b))
    assert not hasattr(merged, "_counts")  # (the case under test: no counts built)
    assert merged.value() == sum(expected.values()) and not hasattr(merged, "_counts")
    assert merged == GCounter(expected) and GCounter(expected) == merged
    _assert_knows_itself(merged.merge(GCounter(b)))  # a merge with nothing new: merged itself
    on_top = GCounter({**later, **{r: 1 for r in _REPLICAS[:32]}})  # lower and higher counts, new replicas
    again = GCounter(a).merge(GCounter(b)).merge(on_top)
    assert dict(again.counts) == _pointwise_max(expected, dict(on_top.counts))
    _assert_knows_itself(again)
    stepped = GCounter(a).merge(GCounter(b)).increment(_REPLICAS[0], amount)
    assert dict(stepped.counts) == {**expected, _REPLICAS[0]: expected.get(_REPLICAS[0], 0) + amount} or amount == 0
    _assert_knows_itself(stepped)
    for twin in (pickle.loads(pickle.dumps(GCounter(a).merge(GCounter(b)))), copy.deepcopy(merged)):
        assert twin == merged and dict(twin.counts) == expected and not hasattr(twin, "_bits")
        _assert_knows_itself(twin)
    _assert_knows_itself(merged)


def test_a_large_side_that_dominates_is_returned_itself() -> None:
    small = GCounter({r: 1 for r in _REPLICAS[:40]})
    big = small.merge(GCounter({r: 2 for r in _REPLICAS[30:70]}))
    assert big.merge(small) is big and small.merge(big) is big
    assert big.merge(GCounter({r: 1 for r in _REPLICAS[35:45]})) is big  # lower counts, other entries
    higher = GCounter({**big.counts, "n-0": 9})
    assert big.merge(higher) is higher


def test_when_no_entry_can_be_numbered_large_counters_merge_as_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gcounter_module, "_MAX_ENTRIES", len(gcounter_module._PAIRS))
    a = GCounter({f"unnumbered-{i}": 1 for i in range(40)})
    b = GCounter({f"unnumbered-{i}": 2 for i in range(20, 60)})
    merged = a.merge(b)
    assert a._bits_now() is None and merged.counts == _pointwise_max(dict(a.counts), dict(b.counts))
    _assert_knows_itself(merged)



def test_counters_merged_in_threads_at_once_number_their_entries_apart() -> None:
    """Simulations may share a process (a Dask worker's threads): entries numbered at the same
    moment in two threads must get different bits, or merges would mix them up. The table's
    length is made to yield to other threads, so numberings in threads do interleave."""
    import threading
    import time

    import crdt.gcounter as gcounter

    class YieldingList(list):
        def __len__(self) -> int:
            n = super().__len__()
            time.sleep(0.0002)  # hand the interpreter to another thread mid-numbering
            return n

    def work(prefix: str, results: dict[str, bool]) -> None:
        a = GCounter({f"{prefix}-a{i}": i + 1 for i in range(40)})
        b = GCounter({f"{prefix}-b{i}": i + 1 for i in range(40)} | {f"{prefix}-a{i}": 50 for i in range(20)})
        merged = a.merge(b)
        expected = {**dict(a.counts), **{r: max(c, a.counts.get(r, 0)) for r, c in b.counts.items()}}
        results[prefix] = dict(merged.counts) == expected and merged.value() == sum(expected.values())

    original = gcounter._PAIRS
    gcounter._PAIRS = YieldingList(original)
    try:
        results: dict[str, bool] = {}
        threads = [threading.Thread(target=work, args=(f"t{n}", results)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        original[:] = gcounter._PAIRS  # keep what the threads numbered
        gcounter._PAIRS = original
    assert len(results) == 8 and all(results.values()), results


@given(st.one_of(st.integers(0, (1 << 300) - 1),
                 st.sets(st.integers(0, 299), max_size=40).map(lambda ones: sum(1 << i for i in ones))))
def test_the_items_at_set_bits_are_found_sparse_or_dense(bits: int) -> None:
    """Entries are walked one lowest bit at a time when very few are set, by a search for the
    ones of a bit string when few are, and by compress when many are: in every case, the items
    at the set bits, lowest first."""
    table = list(range(1000, 1300))
    expected = [table[i] for i in range(300) if bits >> i & 1]
    assert list(gcounter_module._select(table, bits)) == expected
    dense = (1 << 300) - 1 - bits  # the complement: dense where bits is sparse
    assert list(gcounter_module._select(table, dense)) == [table[i] for i in range(300) if dense >> i & 1]


def test_a_count_beyond_64_bits_gets_no_number_and_its_counters_merge_as_dicts() -> None:
    """Packed figures hold counts below 2**64 (their sums must not reach the size field), so a
    larger count is never numbered: its counter merges as dicts, with the right value and size."""
    huge = 1 << 70
    a = GCounter({**{f"wide-{i}": 1 for i in range(40)}, "wide-0": huge})
    b = GCounter({f"wide-{i}": 2 for i in range(20, 60)})
    assert gcounter_module._entry_bit("wide-0", huge) is None and a._bits_now() is None
    merged = a.merge(b)
    assert merged.value() == huge + 19 + 2 * 40
    assert dict(merged.counts) == _pointwise_max(dict(a.counts), dict(b.counts))
    _assert_knows_itself(merged)


_COUNTS = st.dictionaries(st.sampled_from([f"r{i}" for i in range(80)]), st.integers(1, 3), max_size=80)


@given(_COUNTS, _COUNTS, _COUNTS)
def test_a_merge_equal_to_an_input_is_that_input(shared: dict[str, int], mine: dict[str, int],
                                                 theirs: dict[str, int]) -> None:
    """GCounter.merge_returns_equal_input: a replica learns that a merge changed nothing from
    ``is`` alone. Small and large counters (dicts, and bits from 32 entries on), with and
    without a common part."""
    base = GCounter(shared)
    a, b = base.merge(GCounter(mine)), base.merge(GCounter(theirs))
    for x, y in ((a, b), (b, a), (a, GCounter(dict(a.counts))), (a, a)):
        merged = x.merge(y)
        assert (merged == x) == (merged is x)
        if merged is not x:
            assert (merged == y) == (merged is y)
