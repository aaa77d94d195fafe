"""Snapshots every N events, and recovery from the newest one plus the events after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from es_cluster import COUNTER, cluster, failures

from sim.errors import ConfigError
from sim.eventsourcing import Behavior, UnencodablePayloadError, in_memory_journals, sqlite_journals
from sim.faults import Partition

# A tuple state (not JSON): stored through to_snapshot / from_snapshot. Every flag is in the state.
LOG = Behavior((), lambda s, cmd: [cmd], lambda s, e, ctx: (*s, (e, ctx.origin, ctx.concurrent)),
               to_snapshot=lambda s: [list(x) for x in s], from_snapshot=lambda d: tuple(tuple(x) for x in d))


def probe(replica: Any) -> dict[str, Any]:
    return dict(state=replica.state, seen=dict(replica.seen), version=replica.version,
                source=replica.recovered_from, folded=replica.recovery_folded, replay=replica.replay())


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_recovery_from_a_snapshot_equals_a_full_replay(kind: str, tmp_path: Path) -> None:
    journals = sqlite_journals(tmp_path) if kind == "sqlite" else in_memory_journals()
    world, entity = cluster(seed=21, behavior=LOG, journals=journals, snapshot_every=5)
    r2 = entity.replica("dc-2")
    seen: dict[str, Any] = {}
    world.set_faults([Partition(0.2, (("dc-1",), ("dc-2", "dc-3")), duration=0.4)])  # some concurrent events
    for i in range(17):
        world.schedule(0.05 * i, lambda i=i: entity.command(f"dc-{1 + i % 3}", f"w{i}") and None)
    for i in range(2):  # after the snapshot taken when the partition healed
        world.schedule(1.0 + 0.1 * i, lambda i=i: entity.command("dc-3", f"x{i}") and None)
    world.schedule(1.5, lambda: seen.update(before=probe(r2)) or world.crash("dc-2"))
    world.schedule(1.6, lambda: world.restart("dc-2") or seen.update(after=probe(r2)))
    world.schedule(1.8, lambda: entity.command("dc-2", "after restart") and None)
    world.schedule(1.7, lambda: seen.update(snapshot=r2.journal_or_fail().load_snapshot("e-1")))
    result = world.run(duration="2s", quiet_max=100)
    assert result.ok, failures(result)
    before, after = seen["before"], seen["after"]
    assert after["source"] == "snapshot" and entity.snapshot_fallbacks == 0
    snapshot = seen["snapshot"]
    assert snapshot is not None and 0 < after["folded"] == 19 - sum(snapshot.seen.values()) < 5, after["folded"]
    replay_state, replay_seen, replay_version = after["replay"]
    assert after["state"] == replay_state == before["state"] and isinstance(after["state"], tuple)
    assert after["seen"] == replay_seen == before["seen"] == {"dc-1": 6, "dc-2": 6, "dc-3": 7}
    assert after["version"] == replay_version == before["version"]
    assert any(concurrent for _, _, concurrent in after["state"])
    # the same outcome as a run without snapshots
    world2, plain = cluster(seed=21, behavior=LOG, journals=in_memory_journals())
    world2.set_faults([Partition(0.2, (("dc-1",), ("dc-2", "dc-3")), duration=0.4)])
    for i in range(17):
        world2.schedule(0.05 * i, lambda i=i: plain.command(f"dc-{1 + i % 3}", f"w{i}") and None)
    for i in range(2):
        world2.schedule(1.0 + 0.1 * i, lambda i=i: plain.command("dc-3", f"x{i}") and None)
    world2.schedule(1.8, lambda: plain.command("dc-2", "after restart") and None)
    assert world2.run(duration="2s", quiet_max=100).ok
    assert plain.states() == entity.states()


def test_an_event_sorting_before_the_snapshot_makes_recovery_replay_everything(tmp_path: Path) -> None:
    world, entity = cluster(seed=22, behavior=LOG, journals=sqlite_journals(tmp_path), snapshot_every=6)
    world.node("dc-1").set_clock(skew=5.0)  # dc-1's events sort after dc-2's of the same moment
    r1 = entity.replica("dc-1")
    seen: dict[str, Any] = {}
    world.set_faults([Partition(0.0, (("dc-1",), ("dc-2", "dc-3")), duration=1.0)])
    for i in range(6):
        world.schedule(0.1 + 0.05 * i, lambda i=i: entity.command("dc-1", f"a{i}") and None)
    for i in range(3):  # concurrent, earlier timestamps: they reach dc-1 after its snapshot
        world.schedule(0.2 + 0.05 * i, lambda i=i: entity.command("dc-2", f"b{i}") and None)
    world.schedule(0.5, lambda: seen.update(snapshot=r1.journal_or_fail().load_snapshot("e-1")))
    world.schedule(1.5, lambda: seen.update(before=probe(r1)) or world.crash("dc-1"))
    world.schedule(1.6, lambda: world.restart("dc-1") or seen.update(after=probe(r1)))
    result = world.run(duration="2s", quiet_max=100)
    assert result.ok, failures(result)
    snapshot, before, after = seen["snapshot"], seen["before"], seen["after"]
    assert snapshot is not None and snapshot.seen == {"dc-1": 6} and entity.refolds > 0
    assert after["source"] == "replay" and after["folded"] == 9 and entity.snapshot_fallbacks == 1
    assert after["state"] == before["state"] == after["replay"][0]
    assert after["seen"] == before["seen"] == after["replay"][1] == {"dc-1": 6, "dc-2": 3}
    assert after["version"] == before["version"] == after["replay"][2]
    assert [e for e, _, _ in after["state"]] == ["b0", "b1", "b2", "a0", "a1", "a2", "a3", "a4", "a5"]


def test_snapshot_options_and_unencodable_states_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="snapshot_every must be a positive integer or None"):
        cluster(snapshot_every=0)
    sets = Behavior(frozenset(), lambda s, n: [n], lambda s, e, ctx: s | {e})
    world, entity = cluster(behavior=sets, snapshot_every=1)
    world.schedule(0.1, lambda: entity.command("dc-1", 1) and None)
    with pytest.raises(UnencodablePayloadError, match="give the Behavior to_snapshot / from_snapshot"):
        world.run(duration="1s")


def test_snapshots_are_taken_every_n_events() -> None:
    world, entity = cluster(seed=23, snapshot_every=4)
    for i in range(10):
        world.schedule(0.05 * i, lambda: entity.command("dc-1", 1) and None)
    assert world.run(duration="1s").ok
    # the writer folds its events one by one: a snapshot at 4 and 8; a replica receiving a batch
    # takes it once at least 4 events came since its last one
    snapshot = entity.replica("dc-1").journal_or_fail().load_snapshot("e-1")
    assert snapshot is not None and snapshot.state == 8 and snapshot.seen == {"dc-1": 8}
    for node in ("dc-2", "dc-3"):
        snapshot = entity.replica(node).journal_or_fail().load_snapshot("e-1")
        assert snapshot is not None and 10 - 4 < snapshot.state == snapshot.seen["dc-1"] <= 10
    assert entity.snapshots >= 6 and COUNTER.to_snapshot is None
