"""The runnable examples in examples/eventsourcing/ behave as their docstrings say."""

from __future__ import annotations

from pathlib import Path

import pytest
from es_cluster import load_example

from sim.eventsourcing import sqlite_journals


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counter_total_is_the_number_of_acknowledged_increments(seed: int) -> None:
    out = load_example("counter").run(seed)
    assert out["ok"], out["checks"]
    assert out["acknowledged"] > 10
    assert out["totals"] == dict.fromkeys(["dc-1", "dc-2", "dc-3"], out["acknowledged"])
    assert out["result"].metrics["dropped"]["partition"] > 0


def test_counter_with_sqlite_journals(tmp_path: Path) -> None:
    out = load_example("counter").run(4, journals=sqlite_journals(tmp_path))
    assert out["ok"], out["checks"]
    assert out["totals"]["dc-3"] == out["acknowledged"]
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == ["dc-1.sqlite", "dc-2.sqlite", "dc-3.sqlite"]
