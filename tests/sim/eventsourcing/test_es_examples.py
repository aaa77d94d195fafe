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


@pytest.mark.parametrize("seed", [1, 2])
def test_cart_concurrent_edits(seed: int) -> None:
    out = load_example("cart").run(seed)
    assert out["ok"], out["checks"]
    # apple: a remove concurrent with a re-add keeps the re-add; pear: concurrent changes add up
    assert out["carts"] == {"shop-1": {"apple": 1, "pear": 6}, "shop-2": {"apple": 1, "pear": 6}}


@pytest.mark.parametrize("seed", [1, 2])
def test_auction_closes_everywhere_with_the_highest_bid(seed: int) -> None:
    auction = load_example("auction")
    out = auction.run(seed)
    assert out["ok"], out["checks"]
    assert set(out["closed"].values()) == {True}
    best = max(amount for _, amount in out["accepted_bids"])
    assert set(out["winner"].values()) == {"fay"} and best == 16
    # every replica persisted its own marker, after all its bids
    for replica_state in out["entity"].states().values():
        assert replica_state["finished"] == ["site-1", "site-2", "site-3"]


def test_auction_ties_go_to_the_earlier_bid_then_the_smaller_replica() -> None:
    auction = load_example("auction")
    assert auction.beats([15, 0.6, "site-3", "cat"], [15, 0.7, "site-2", "dan"])
    assert not auction.beats([15, 0.7, "site-2", "dan"], [15, 0.6, "site-3", "cat"])
    assert auction.beats([15, 0.6, "site-2", "x"], [15, 0.6, "site-3", "y"])
    assert auction.beats([16, 9.0, "site-9", "z"], [15, 0.6, "site-1", "y"])
