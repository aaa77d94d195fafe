"""``crdtsim bench crdt``: operations per second of the CRDT library.

Each figure is printed with its ratio to a bare-Python baseline measured in the same run
(``set.add`` for adds, a dict comprehension for merges), so a slow or busy machine still gives
comparable figures. Reference points from existing Python CRDT packages: 15–25 k ORSet adds per
second and about 60 ms to merge two 2,000-element sets.

Delta apply: a stream of one-element add deltas from another replica joined into an ORSet of
``--size`` elements, against the same stream of updates applied remotely by the ``crdts``
package (``crdts.ORSet.update`` on a set of the same size) when it is installed
(``pip install 'crdtsim[bench]'`` or ``pip install crdts``); without it the row says how to get it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from typing import Any

from crdt import GCounter, ORSet
from sim.benchmarks.timing import best_of, best_of_prepared

__all__ = ["main", "measure", "delta_apply", "CRDTS_MISSING"]

#: What the delta-apply comparison prints when the ``crdts`` package is not importable.
CRDTS_MISSING = "crdts is not installed: pip install 'crdtsim[bench]' (or pip install crdts) to compare"


def _orset(replica: str, elements: range) -> ORSet:
    s = ORSet()
    for e in elements:
        s = s.add(replica, e)
    return s


def _bare_union(size: int) -> None:
    """Two half-overlapping dicts of ``size`` keys joined: the floor of any set merge."""
    half = size // 2
    merged = {**dict.fromkeys(range(size)), **dict.fromkeys(range(half, half + size))}
    del merged


def _merge_many(a: GCounter, b: GCounter) -> None:
    for _ in range(100):
        a.merge(b)


def _union_many(a: dict[str, int], b: dict[str, int]) -> None:
    for _ in range(100):
        merged = {**a, **b}
    del merged


def _crdts_remote_apply(size: int, count: int, repeats: int) -> float | None:
    """Seconds per remote apply of a fresh ``observe`` update into a ``crdts.ORSet`` of ``size``
    members (the package's own delta form), or None when ``crdts`` is not installed."""
    try:
        import crdts  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    source: Any = crdts.ORSet()
    updates = [source.observe(f"e{i}") for i in range(count)]

    def prepare() -> Any:
        target = crdts.ORSet(clock=crdts.ScalarClock(uuid=source.clock.uuid))
        for e in range(size):
            target.observe(e)
        return target

    def run(target: Any) -> None:
        for update in updates:
            target.update(update)

    return best_of_prepared(repeats, prepare, run) / count


def delta_apply(size: int = 10_000, count: int = 2_000, repeats: int = 3) -> dict[str, float | None]:
    """Seconds per delta joined into a ``size``-element ORSet (``ours``: a stream of ``count``
    one-element add deltas from another replica; ``single``: one such delta, alone) and per
    remote apply of the same stream in ``crdts`` (``crdts``: None when not installed)."""
    source = ORSet().add("b", "seed")
    start = _orset("a", range(size)).merge(source)
    deltas = []
    for i in range(count):
        delta = source.add_delta("b", f"e{i}")
        source = source.merge(delta)
        deltas.append(delta)

    def apply() -> None:
        state = start
        for delta in deltas:
            state = state.merge(delta)

    one = ORSet().add_delta("c", "new")
    return {
        "ours": best_of(repeats, apply) / count,
        "single": best_of(repeats, lambda: start.merge(one)),
        "crdts": _crdts_remote_apply(size, count, repeats),
    }


def measure(size: int, repeats: int) -> list[tuple[str, float, str, float]]:
    """Rows of (what, ops per second, baseline, ops per second of the baseline)."""
    elements = range(size)

    def bare_adds() -> None:
        bare: set[int] = set()
        for e in elements:
            bare.add(e)

    add_time = best_of(repeats, lambda: _orset("a", elements))
    bare_add = best_of(repeats, bare_adds)

    full = _orset("a", elements)

    def removes() -> None:
        s = full
        for e in elements:
            s = s.remove("a", e)

    remove_time = best_of(repeats, removes)

    half = size // 2
    left = _orset("a", range(0, size))
    right = _orset("b", range(half, half + size))  # half the elements overlap
    merge_time = best_of(repeats, lambda: left.merge(right))
    bare_merge = best_of(repeats, partial(_bare_union, size))
    small_left, small_right = _orset("a", range(2000)), _orset("b", range(1000, 3000))
    small_merge = best_of(repeats, lambda: small_left.merge(small_right))
    bare_small = best_of(repeats, partial(_bare_union, 2000))

    rows = [
        (f"ORSet add ({size:,} into one set)", size / add_time, "set.add", size / bare_add),
        (f"ORSet remove ({size:,})", size / remove_time, "set.add", size / bare_add),
        (f"ORSet merge 2×{size:,} (ms {merge_time * 1e3:.1f})", 1 / merge_time, "dict union", 1 / bare_merge),
        (f"ORSet merge 2×2,000 (ms {small_merge * 1e3:.2f})", 1 / small_merge, "dict union", 1 / bare_small),
    ]
    for entries in (3, 1000):
        a = GCounter({f"r{i}": i + 1 for i in range(entries)})
        b = GCounter({f"r{i}": entries - i for i in range(entries)})
        counts_a, counts_b = dict(a.counts), dict(b.counts)
        t = best_of(repeats, partial(_merge_many, a, b)) / 100
        base = best_of(repeats, partial(_union_many, counts_a, counts_b)) / 100
        rows.append((f"GCounter merge ({entries:,} entries)", 1 / t, "dict union", 1 / base))
    return rows


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="crdtsim bench crdt", description=__doc__)
    parser.add_argument("--size", type=int, default=10_000, help="elements per ORSet (default 10000)")
    parser.add_argument("--repeats", type=int, default=3, help="take the best of this many runs")
    args = parser.parse_args(list(argv))
    print(f"{'operation':<40} {'ops/s':>12}  {'baseline':<11} {'ops/s':>12} {'ratio':>7}")
    for what, rate, baseline, base_rate in measure(args.size, args.repeats):
        print(f"{what:<40} {rate:>12,.0f}  {baseline:<11} {base_rate:>12,.0f} {rate / base_rate:>7.3f}")
    applied = delta_apply(args.size, repeats=args.repeats)
    ours, single, theirs = applied["ours"], applied["single"], applied["crdts"]
    assert ours is not None and single is not None
    print(f"\nORSet delta apply into {args.size:,} elements: {1 / ours:,.0f}/s; "
          f"one 1-element delta alone: {single * 1e3:.3f} ms")
    if theirs is None:
        print(CRDTS_MISSING)
    else:
        print(f"crdts remote apply into {args.size:,} members: {1 / theirs:,.0f}/s; "
              f"ours / crdts: {theirs / ours:.1f}x (goal >= 10x)")
    return 0
