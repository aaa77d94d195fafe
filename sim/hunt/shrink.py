"""Shrinking a failing schedule to a minimal one that fails the same check for the same reason.

Delta debugging (Zeller's ddmin) over the schedule's faults and writes, then one element at a
time, then simpler structure and numbers: fewer nodes, the scenario's own topology, less link
loss or duplication, faults half as long, times on a 100 ms grid, the whole schedule earlier,
a shorter workload phase; last, one element fewer under a few other run seeds (derived from the
schedule's own).
Each round proposes reductions in a fixed order, runs them in batches and keeps the first that
still fails with the same signature, then starts over from it; it stops when no reduction
keeps the failure or the budget of runs is spent. Every accepted step makes the schedule
strictly smaller in (faults + writes, nodes, total fault time, off-grid times, start, duration),
so the loop ends, and it proposes the same reductions in the same order every time: the same failing
schedule always shrinks to the same minimal one.
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
#: other run seeds tried for a schedule one element smaller, once nothing smaller fails under its own
RESEEDS = 8

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


def _chunks(c: Candidate) -> Iterator[Candidate]:
    """ddmin's reductions: drop halves, quarters, … of the faults, then of the writes."""
    for field_ in ("faults", "writes"):
        items = getattr(c, field_)
        n = len(items)
        size = n // 2
        while size >= 1:
            for start in range(0, n, size):
                kept = _without(items, start, start + size)
                yield replace(c, faults=kept) if field_ == "faults" else replace(c, writes=kept)
            size //= 2


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


def _reseeded(c: Candidate) -> Iterator[Candidate]:
    """Each single fault or write removed, under each of :data:`RESEEDS` other run seeds.

    Removing one element shifts every later draw of the links' random streams, so a schedule
    can be 1-minimal under its own seed while a smaller one fails under another: the bug needs
    the schedule, the seed only decides which lost message is lost. The seeds come from the
    schedule's own, so shrinking stays deterministic.
    """
    for j in range(RESEEDS):
        seed = _derived_seed(c.seed, j)
        for i in range(len(c.faults)):
            yield replace(c, seed=seed, faults=_without(c.faults, i, i + 1))
        for i in range(len(c.writes)):
            yield replace(c, seed=seed, writes=_without(c.writes, i, i + 1))


def _reductions(space: HuntSpace, c: Candidate) -> Iterator[Candidate]:
    yield from _chunks(c)
    yield from _fewer_nodes(space, c)
    if c.topology is not None:
        yield replace(c, topology=None)
    yield from space.simplify_links(c)
    yield from _simpler_numbers(space, c)
    yield from _reseeded(c)  # the last resort: each round tries it only once nothing else shrinks


def shrink(space: HuntSpace, failing: Candidate, result: dict[str, Any], evaluate: Evaluate, budget: int = 400,
           batch: int = 8) -> Shrunk:
    """Shrink ``failing`` (whose run gave ``result``) within ``budget`` runs."""
    wanted = result["signature"]
    current, current_result, runs, steps = failing, result, 0, 0
    seen: set[Candidate] = {failing}
    while runs < budget:
        proposals = [r for r in _reductions(space, current) if r not in seen and space.valid(r)]
        if not proposals:
            break
        accepted = None
        for start in range(0, len(proposals), batch):
            chunk = proposals[start:start + min(batch, budget - runs)]
            if not chunk:
                break
            seen.update(chunk)
            results = evaluate(chunk)
            runs += len(chunk)
            for candidate, outcome in zip(chunk, results, strict=True):
                if outcome["signature"] == wanted:
                    accepted = (candidate, outcome)
                    break
            if accepted or runs >= budget:
                break
        if accepted is None:
            return Shrunk(current, current_result, runs, steps, exhausted=runs >= budget)
        current, current_result = accepted
        steps += 1
    return Shrunk(current, current_result, runs, steps, exhausted=runs >= budget)
