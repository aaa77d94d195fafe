"""Timing helpers shared by the benchmarks (the only place, with the CLI, that reads the clock)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["best_of", "best_of_prepared"]


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """The shortest wall time in seconds of ``repeats`` calls: the least disturbed measurement."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def best_of_prepared(repeats: int, prepare: Callable[[], T], run: Callable[[T], object]) -> float:
    """Like :func:`best_of` for a ``run`` that consumes what it is given (a mutable target):
    each repeat gets a fresh ``prepare()``, which is not timed."""
    best = float("inf")
    for _ in range(repeats):
        target = prepare()
        start = time.perf_counter()
        run(target)
        best = min(best, time.perf_counter() - start)
    return best
