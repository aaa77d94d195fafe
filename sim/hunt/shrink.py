"""Shrinking a failing schedule to a minimal one that fails the same check for the same reason.

First fewer elements: delta debugging (Zeller's ddmin) over the schedule's faults, then its
writes, dropping halves, quarters, … down to single elements, going on at the same granularity
after each removal; once no element can go under the run's own seed, one element fewer under
other run seeds derived from it (a lost message's luck is the seed's, the bug is the
schedule's). Only then simpler structure and numbers: fewer nodes, the scenario's own topology,
less link loss or duplication, a partition or one-way cut over fewer nodes, faults half as
long, times on a 100 ms grid, the whole schedule earlier, a shorter workload phase; and fewer
elements again. Proposals run in batches (wide while nothing is kept, narrow after a keep) and
the first that still fails with the same signature is kept; it stops when nothing is kept or
the budget of runs is spent. Every kept step makes the schedule strictly smaller in
(faults + writes, nodes, fault nodes, total fault time, off-grid times, start, duration), so the
loop ends, and it proposes the same reductions in the same order every time: the same failing
schedule always shrinks to the same minimal one, on any pool.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sim.hunt.space import Candidate, FaultGene, HuntSpace, Write

__all__ = ["Shrunk", "shrink"]

GRID = 0.1
#: run seeds on which the schedule itself is tried, to tell a robust failure from a fragile one
PROBES = 8
#: other run seeds tried for a schedule one element smaller, once nothing smaller fails under its
#: own: a few for a failure most seeds show, many for a fragile one (a race over lossy links that
#: only some seeds lose the right messages of needs dozens of tries to lose one element)
RESEEDS = {"robust": 4, "fragile": 48}

Evaluate = Callable[[Sequence[Candidate]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Shrunk:
    candidate: Candidate
    result: dict[str, Any]
    runs: int
    steps: int
    exhausted: bool


def _without(items: Sequence[Any], start: int, stop: int) -> tuple[Any, ...]:
    return tuple(items[:start]) + tuple(items[stop:])


def _rename(gene: FaultGene | Write, mapping: dict[str, str]) -> FaultGene | Write | None:
    if isinstance(gene, Write):
        return replace(gene, node=mapping[gene.node]) if gene.node in mapping else None
    nodes = tuple(mapping[n] for n in gene.nodes if n in mapping)
    peers = tuple(mapping[n] for n in gene.peers if n in mapping)
    if not nodes or (gene.kind in ("one_way", "loss_burst") and not peers):
        return None
    return replace(gene, nodes=nodes, peers=peers)


def _fewer_nodes(space: HuntSpace, c: Candidate) -> Iterator[Candidate]:
    """Remove one node (each in turn), renumbering the rest; what named it goes or narrows."""
    if space.zone is None or space.fixed:  # the scenario's own faults name nodes as they are
        return
    nodes = space.nodes_of(c)
    low = space.node_range[0] if space.node_range else 1
    if len(nodes) - 1 < max(low, 1):
        return
    for gone in reversed(nodes):
        kept = [n for n in nodes if n != gone]
        mapping = {old: f"{space.zone}-{i}" for i, old in enumerate(kept, 1)}
        faults = [_rename(f, mapping) for f in c.faults]
        writes = [_rename(w, mapping) for w in c.writes]
        yield replace(c, nodes=len(kept), faults=tuple(f for f in faults if isinstance(f, FaultGene)),
                      writes=tuple(w for w in writes if isinstance(w, Write)))


def _narrower_faults(c: Candidate) -> Iterator[Candidate]:
    """A partition's side, a one-way cut's sources or destinations, one node fewer."""
    for i, f in enumerate(c.faults):
        options = []
        if f.kind in ("partition", "one_way") and len(f.nodes) > 1:
            options += [replace(f, nodes=_without(f.nodes, j, j + 1)) for j in range(len(f.nodes))]
        if f.kind == "one_way" and len(f.peers) > 1:
            options += [replace(f, peers=_without(f.peers, j, j + 1)) for j in range(len(f.peers))]
        for narrower in options:
            yield replace(c, faults=(*c.faults[:i], narrower, *c.faults[i + 1:]))


def _simpler_numbers(space: HuntSpace, c: Candidate) -> Iterator[Candidate]:
    for i, f in enumerate(c.faults):
        if f.kind != "clock" and f.duration > space.tick:
            yield replace(c, faults=(*c.faults[:i], replace(f, duration=round(max(space.tick, f.duration / 2), 3)),
                                     *c.faults[i + 1:]))
        if f.kind == "clock" and abs(f.amount) > 0.01:
            yield replace(c, faults=(*c.faults[:i], replace(f, amount=round(f.amount / 2, 3)), *c.faults[i + 1:]))
        if f.kind == "loss_burst" and f.amount < 1.0:
            yield replace(c, faults=(*c.faults[:i], replace(f, amount=1.0), *c.faults[i + 1:]))
    for i, f in enumerate(c.faults):
        on_grid = round(round(f.at / GRID) * GRID, 3)
        if on_grid != f.at:
            yield replace(c, faults=(*c.faults[:i], replace(f, at=on_grid), *c.faults[i + 1:]))
    for i, w in enumerate(c.writes):
        on_grid = round(round(w.at / GRID) * GRID, 3)
        if on_grid != w.at:
            yield replace(c, writes=(*c.writes[:i], replace(w, at=on_grid), *c.writes[i + 1:]))
    first = min([f.at for f in c.faults] + [w.at for w in c.writes] + [0.0 if not c.size else math.inf])
    shift = math.floor(first / GRID) * GRID
    if shift > 0 and not space.fixed:  # the whole schedule earlier: a shorter run, the same story
        yield replace(c, faults=tuple(replace(f, at=max(0.0, round(f.at - shift, 3))) for f in c.faults),
                      writes=tuple(replace(w, at=max(0.0, round(w.at - shift, 3))) for w in c.writes))
    last = max([f.end for f in c.faults] + [w.at for w in c.writes] + [space.fixed_end])
    shorter = max(space.tick, math.ceil((last + space.tick) / 0.5) * 0.5)
    if shorter < space.duration_of(c):
        yield replace(c, duration=shorter)


def _derived_seed(seed: int, j: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{j}".encode()).digest()[:4], "big") >> 1


def _reseeded(c: Candidate, seeds: int) -> Iterator[Candidate]:
    """Each single fault or write removed, under each of ``seeds`` other run seeds.

    A hunt's runs draw their links keyed (see :mod:`sim.hunt.space`), so removing an element
    leaves the other messages' draws alone; but the removed write's own messages, and what its
    receivers sent on hearing of it, are gone or sent at other instants (so drawn anew), and
    the failure may have hung on one of them. A schedule can then be 1-minimal under its own seed while a
    smaller one fails under another: the bug needs the schedule, the seed only decides which
    message is lost. The seeds come from the schedule's own, so shrinking stays deterministic.
    """
    for j in range(seeds):
        seed = _derived_seed(c.seed, PROBES + j)
        for i in range(len(c.faults)):
            yield replace(c, seed=seed, faults=_without(c.faults, i, i + 1))
        for i in range(len(c.writes)):
            yield replace(c, seed=seed, writes=_without(c.writes, i, i + 1))


class _Shrinker:
    """The shrinking loop's state: the smallest failing schedule so far and the runs spent."""

    def __init__(self, space: HuntSpace, failing: Candidate, result: dict[str, Any], evaluate: Evaluate,
                 budget: int, batch: int) -> None:
        self.space, self.evaluate, self.budget, self.batch = space, evaluate, budget, batch
        self.current, self.result = failing, result
        self.wanted = result["signature"]
        self.runs = self.steps = 0
        self.width = batch  # runs per batch, between 2 and ``batch``
        self.seen: set[Candidate] = {failing}
        #: whether most seeds fail the schedule as ``current`` was when last probed
        self.robust: tuple[Candidate, bool] | None = None

    @property
    def spent(self) -> bool:
        return self.runs >= self.budget

    def first(self, proposals: Sequence[Candidate]) -> int | None:
        """Run ``proposals`` in order, a batch at a time, until one fails the same way: keep it
        and return its index (None: none did, or the budget ran out).

        The batch grows while nothing is kept and shrinks to just past the one kept: a failure
        that survives most reductions then costs a run or two per step, not a batch. Its size
        follows the outcomes alone, so any pool shrinks the same way.
        """
        fresh = [i for i, p in enumerate(proposals) if p not in self.seen and self.space.valid(p)]
        start = 0
        while start < len(fresh) and not self.spent:
            chunk = fresh[start:start + min(self.width, self.budget - self.runs)]
            start += len(chunk)
            candidates = [proposals[i] for i in chunk]
            self.seen.update(candidates)
            results = self.evaluate(candidates)
            self.runs += len(candidates)
            for k, (index, candidate, outcome) in enumerate(zip(chunk, candidates, results, strict=True)):
                if outcome["signature"] == self.wanted:
                    self.current, self.result = candidate, outcome
                    self.steps += 1
                    self.width = max(2, min(self.batch, 2 * (k + 1)))
                    return index
            self.width = min(self.batch, 2 * self.width)
        return None

    def remove(self) -> bool:
        """ddmin over the faults, then the writes: drop halves, quarters, … down to single
        elements; after a removal, go on at the same granularity from where it was (not from
        the top again, which costs a whole round per element on a fragile failure)."""
        changed = False
        for field_ in ("faults", "writes"):
            size, at = len(getattr(self.current, field_)) // 2, 0
            while size >= 1 and not self.spent:
                starts = _rotated(range(0, len(getattr(self.current, field_)), size), at)
                index = self.first([_dropped(self.current, field_, s, size) for s in starts])
                if index is None:
                    size, at = size // 2, 0
                    continue
                changed, at = True, starts[index]
                size = min(size, max(1, len(getattr(self.current, field_)) // 2))
        return changed

    def simplify(self) -> bool:
        """Simpler structure and numbers, each kind of step repeated while it keeps the failure."""
        changed = False
        for steps in (lambda c: list(_fewer_nodes(self.space, c)), _plainer_topology, self.space.simplify_links,
                      lambda c: list(_narrower_faults(c)), lambda c: list(_simpler_numbers(self.space, c))):
            while not self.spent and self.first(steps(self.current)) is not None:
                changed = True
        return changed

    def reseed(self) -> bool:
        """One element fewer under other run seeds (see :func:`_reseeded`), as many as the
        failure needs: the schedule itself runs under :data:`PROBES` seeds first."""
        if not self.current.size or self.budget - self.runs < PROBES:
            return False
        if self.robust is None or self.robust[0] != self.current:
            probes = [replace(self.current, seed=_derived_seed(self.current.seed, j)) for j in range(PROBES)]
            results = self.evaluate(probes)
            self.runs += len(probes)
            self.robust = (self.current, sum(r["signature"] == self.wanted for r in results) * 2 >= len(probes))
        return self.first(list(_reseeded(self.current, RESEEDS["robust" if self.robust[1] else "fragile"]))) is not None

    def done(self) -> Shrunk:
        return Shrunk(self.current, self.result, self.runs, self.steps, exhausted=self.spent)


def _rotated(starts: range, at: int) -> list[int]:
    """``starts`` beginning with the first at or after ``at``."""
    items = list(starts)
    k = next((i for i, s in enumerate(items) if s >= at), 0)
    return items[k:] + items[:k]


def _dropped(c: Candidate, field_: str, start: int, size: int) -> Candidate:
    kept = _without(getattr(c, field_), start, start + size)
    return replace(c, faults=kept) if field_ == "faults" else replace(c, writes=kept)


def _plainer_topology(c: Candidate) -> list[Candidate]:
    return [] if c.topology is None else [replace(c, topology=None)]


def shrink(space: HuntSpace, failing: Candidate, result: dict[str, Any], evaluate: Evaluate, budget: int = 800,
           batch: int = 8) -> Shrunk:
    """Shrink ``failing`` (whose run gave ``result``) within ``budget`` runs."""
    s = _Shrinker(space, failing, result, evaluate, budget, batch)
    # Fewer elements first, under other seeds too; simpler structure and numbers once no element
    # can go (each of those steps perturbs the run as much as a removal does, and costs as much).
    while not s.spent:
        if not (s.remove() or s.reseed() or s.simplify()):
            break
    return s.done()
