"""Timing helpers shared by the benchmarks (the only place, with the CLI, that reads the clock)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["best_of"]


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """The shortest wall time in seconds of ``repeats`` calls: the least disturbed measurement."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
