"""The event log and fold, the snapshot rule and the stamping of events, without a world.

Nothing here builds a World, a Node or a network: the fold is pure, and one test runs it in a
process where SimPy cannot be imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdt.clocks import VersionVector
from sim.eventsourcing.behavior import Behavior, EventContext
from sim.eventsourcing.commands import TIMESTAMP_STEP, stamp_events, stamp_system_event
from sim.eventsourcing.errors import EventHandlerError
from sim.eventsourcing.fold import CHECKPOINT_EVERY, EventLog
from sim.eventsourcing.journal import EventEnvelope, InMemoryJournal, Snapshot
from sim.eventsourcing.pruning import retire_payload, stable_payload
from sim.eventsourcing.snapshots import Snapshotter, usable_prefix

ROOT = Path(__file__).resolve().parents[3]
REPLICAS = ["a", "b", "c"]


def _record(state: list[Any], payload: Any, ctx: EventContext) -> list[Any]:
    # not commutative: the state is the fold order itself, with every concurrent flag
    return [*state, (payload, ctx.origin, ctx.concurrent)]


RECORDER = Behavior([], lambda s, c: [c], _record)


def histories(draw: st.DrawFn) -> list[EventEnvelope]:
    """Events of three origins, each origin's versions growing, with concurrency between them."""
    events: list[EventEnvelope] = []
    seen: dict[str, VersionVector] = {r: VersionVector() for r in REPLICAS}
    seq = dict.fromkeys(REPLICAS, 0)
    for i in range(draw(st.integers(1, 2 * CHECKPOINT_EVERY + 8))):  # enough to cross checkpoints
        origin = draw(st.sampled_from(REPLICAS))
        if events and draw(st.booleans()):  # the origin learns of an earlier event
            other = draw(st.sampled_from(events))
            seen[origin] = seen[origin].merge(other.version)
        seq[origin] += 1
        version = seen[origin].merge(VersionVector({origin: seq[origin]}))
        seen[origin] = version
        stamp = draw(st.integers(0, 40)) / 10  # coarse clocks: ties, and clocks out of step with causality
        events.append(EventEnvelope("p", origin, seq[origin], version, stamp, i))
    return events


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[EventEnvelope], list[list[EventEnvelope]]]:
    events = histories(draw)
    # an interleaving of the origins that keeps each origin's events in seq order (journals
    # hold no gaps), then cut into batches
    queues = {r: [e for e in events if e.origin == r] for r in REPLICAS}
    arrival = [queues[e.origin].pop(0) for e in draw(st.permutations(events))]
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(arrival) - 1)), max_size=6)))
    batches = [arrival[i:j] for i, j in zip([0, *cuts], [*cuts, len(arrival)], strict=True) if arrival[i:j]]
    return events, batches


def fold_from_scratch(events: list[EventEnvelope]) -> list[Any]:
    """An oracle: fold the events sorted by (timestamp, origin, seq), flags from the vectors."""
    state: list[Any] = []
    version = VersionVector()
    for e in sorted(events, key=lambda e: (e.timestamp, e.origin, e.origin_seq)):
        state.append((e.payload, e.origin, not all(e.version.get(r) >= version.get(r) for r in REPLICAS)))
        version = version.merge(e.version)
    return state


@given(arrivals())
def test_the_state_is_the_fold_of_the_set_of_events_whatever_the_arrival(
        case: tuple[list[EventEnvelope], list[list[EventEnvelope]]]) -> None:
    events, batches = case
    log = EventLog("a", "p", RECORDER, REPLICAS, prune=True)
    log.load([])
    for batch in batches:
        log.insert(batch)
    assert log.state == fold_from_scratch(events)
    assert log.events == sorted(events, key=lambda e: e.order_key)
    assert log.seen == {o: max(e.origin_seq for e in events if e.origin == o) for o in {e.origin for e in events}}
    again = EventLog("b", "p", RECORDER, REPLICAS, prune=True)
    again.load(reversed(events))
    assert again.state == log.state and again.version == log.version


def _ev(origin: str, seq: int, ts: float, payload: Any, version: dict[str, int] | None = None) -> EventEnvelope:
    return EventEnvelope("p", origin, seq, VersionVector(version or {origin: seq}), ts, payload)


def test_an_event_sorting_first_refolds_and_one_sorting_last_does_not() -> None:
    log = EventLog("a", "p", RECORDER, REPLICAS, prune=True)
    log.load([])
    assert log.insert([_ev("a", 1, 1.0, "x")]) is False
    assert log.insert([_ev("b", 1, 0.5, "y")]) is True
    assert log.insert([_ev("a", 2, 2.0, "z", {"a": 2, "b": 1})]) is False
    assert log.insert([]) is False
    assert log.state == [("y", "b", False), ("x", "a", True), ("z", "a", False)]


def test_trial_changes_nothing_and_names_the_event_the_handler_refused() -> None:
    def picky(state: int, payload: Any, ctx: EventContext) -> int:
        if payload < 0:
            raise ValueError("negative")
        return state + payload

    log = EventLog("a", "p", Behavior(0, lambda s, c: [c], picky), REPLICAS, prune=True)
    log.load([_ev("a", 1, 0.1, 4)])
    log.trial([_ev("a", 2, 0.2, 3)])
    with pytest.raises(EventHandlerError, match=r"entity p at replica a: the event handler raised ValueError: "
                                                 r"negative on event a#2 \(payload -1\)"):
        log.trial([_ev("a", 2, 0.2, -1)])
    assert (log.state, log.seen, len(log.events)) == (4, {"a": 1}, 1)


def test_markers_never_reach_the_handler_nor_the_version_nor_the_timestamps() -> None:
    log = EventLog("a", "p", RECORDER, REPLICAS, prune=True)
    log.load([_ev("c", 1, 0.1, "c1")])
    log.insert([_ev("c", 2, 9.0, retire_payload("c", 1), {"c": 2})])
    assert log.state == [("c1", "c", False)] and log.max_timestamp == 0.1
    assert log.fold_version.to_data() == {"c": 1} and log.is_retired("c") and not log.pruned
    log.insert([_ev("a", 1, 9.1, stable_payload("c", 1), {"a": 1, "c": 2}),
                _ev("b", 1, 9.2, stable_payload("c", 1), {"b": 1, "c": 2})])
    assert log.pruned == {"c"} and log.version.to_data() == {} and log.fold_version.to_data() == {"c": 1}


def test_stamps_follow_the_clock_but_always_rise_above_what_is_held() -> None:
    log = EventLog("a", "p", RECORDER, REPLICAS, prune=True)
    log.load([_ev("b", 1, 5.0, "b1"), _ev("a", 1, 1.0, "a1")])
    slow = iter([0.5, 5.0, 7.0]).__next__  # the clock is behind what was seen, then ahead
    first, second, third = stamp_events(log, slow, ["x", "y", "z"])
    assert [e.origin_seq for e in (first, second, third)] == [2, 3, 4]
    assert first.timestamp == 5.0 + TIMESTAMP_STEP and second.timestamp == 5.0 + 2 * TIMESTAMP_STEP
    assert third.timestamp == 7.0
    assert first.version.to_data() == {"a": 2, "b": 1} and third.version.to_data() == {"a": 4, "b": 1}
    marker = stamp_system_event(log, 0.0, 2, retire_payload("a", 1))
    assert marker.timestamp == 5.0 + TIMESTAMP_STEP and marker.version.to_data() == {"a": 2, "b": 1}


def _counted(n: int) -> list[EventEnvelope]:
    return [_ev("a", i, float(i), i) for i in range(1, n + 1)]


def test_a_snapshot_is_used_only_when_it_covers_a_prefix_of_the_fold_order() -> None:
    events = _counted(5)
    snapshot = Snapshot("p", 6, VersionVector({"a": 3}), {"a": 3}, (3.0, "a", 3))
    assert usable_prefix(events, {"a": 5}, snapshot) == 3
    assert usable_prefix(events[:2], {"a": 2}, snapshot) == 0  # the journal lacks covered events
    early = [*events, _ev("b", 1, 2.5, 100)]  # arrived after the snapshot, sorts before its end
    assert usable_prefix(sorted(early, key=lambda e: e.order_key), {"a": 5, "b": 1}, snapshot) is None


def test_recovery_from_a_snapshot_folds_only_the_rest_and_equals_a_replay() -> None:
    adder = Behavior(0, lambda s, c: [c], lambda s, e, ctx: s + e)
    journal = InMemoryJournal()
    journal.append(_counted(40))
    keeper = Snapshotter(every=16)
    log = EventLog("a", "p", adder, REPLICAS, prune=True)
    assert keeper.recover(log, journal).source == "replay"
    keeper.save(log, journal)
    journal.append([_ev("a", 41, 41.0, 41)])
    later, replayed = EventLog("a", "p", adder, REPLICAS, prune=True), EventLog("a", "p", adder, REPLICAS, prune=True)
    recovery = Snapshotter(every=16).recover(later, journal)
    replayed.load(journal.read("p"))
    assert (recovery.source, recovery.folded, recovery.fell_back) == ("snapshot", 1, False)
    assert (later.state, later.seen, later.version) == (replayed.state, replayed.seen, replayed.version) == (
        41 * 42 // 2, {"a": 41}, VersionVector({"a": 41}))
    journal.append([_ev("b", 1, 0.5, 1000)])
    fallback = Snapshotter(every=16).recover(EventLog("a", "p", adder, REPLICAS, prune=True), journal)
    assert (fallback.source, fallback.folded, fallback.fell_back) == ("replay", 42, True)
    assert Snapshotter(every=None).recover(EventLog("a", "p", adder, REPLICAS, prune=True), journal).source == "replay"


def test_a_snapshot_is_saved_once_enough_events_were_added() -> None:
    journal = InMemoryJournal()
    log = EventLog("a", "p", Behavior(0, lambda s, c: [c], lambda s, e, ctx: s + e), REPLICAS, prune=True)
    keeper = Snapshotter(every=3)
    keeper.recover(log, journal)
    saved = []
    for event in _counted(7):
        log.insert(journal.append([event]))
        saved.append(keeper.added(1, log, journal))
    assert saved == [False, False, True, False, False, True, False]
    snapshot = journal.load_snapshot("p")
    assert snapshot is not None and snapshot.state == 21 and snapshot.seen == {"a": 6}


def test_the_fold_runs_where_simpy_cannot_be_imported() -> None:
    code = f"""
import importlib.abc, sys, types
class NoSimPy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "simpy":
            raise ImportError("simpy is blocked")
        return None
sys.meta_path.insert(0, NoSimPy())
for name, where in (("sim", "sim"), ("sim.eventsourcing", "sim/eventsourcing")):
    package = types.ModuleType(name)  # the packages' __init__ import the engine; the fold needs none of it
    package.__path__ = [{str(ROOT)!r} + "/" + where]
    sys.modules[name] = package
from crdt.clocks import VersionVector
from sim.eventsourcing.behavior import Behavior
from sim.eventsourcing.fold import EventLog
from sim.eventsourcing.journal import EventEnvelope, InMemoryJournal
from sim.eventsourcing.snapshots import Snapshotter
journal = InMemoryJournal()
journal.append([EventEnvelope("p", "a", i, VersionVector({{"a": i}}), float(i), i) for i in (1, 2, 3)])
log = EventLog("a", "p", Behavior(0, lambda s, c: [c], lambda s, e, ctx: s + e), ["a"], prune=True)
print(Snapshotter(2).recover(log, journal).source, log.state,
      sorted(m for m in sys.modules if m.split(".")[0] in ("simpy", "sim")))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split(" ", 2)[:2] == ["replay", "6"]
    loaded = out.split(" ", 2)[2]
    assert "simpy" not in loaded and "sim.world" not in loaded and "sim.node" not in loaded
    assert "sim.eventsourcing.fold" in loaded


@pytest.mark.parametrize("stamp", [0.5, CHECKPOINT_EVERY - 0.5, CHECKPOINT_EVERY + 0.5, CHECKPOINT_EVERY + 1.5, 70.5])
def test_a_refold_starts_from_the_checkpoint_before_the_new_event(stamp: float) -> None:
    # events at 1, 2, ... 72: checkpoints before positions 0, 32 and 64
    held = [_ev("a", i, float(i), i) for i in range(1, 2 * CHECKPOINT_EVERY + 9)]
    log = EventLog("a", "p", RECORDER, REPLICAS, prune=True)
    log.load([])
    log.insert(held)
    late = _ev("b", 1, stamp, "late")
    log.insert([late])
    assert log.state == fold_from_scratch([*held, late])
