"""The replicated entity: commands, recovery from the journal, determinism, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from es_cluster import COUNTER, cluster, failures

from sim.eventsourcing import (
    Behavior,
    CommandResult,
    EventHandlerError,
    LastWriterWins,
    UnencodablePayloadError,
    UnknownReplicaError,
    sqlite_journals,
)
from sim.faults import Crash, Partition, Restart


def test_crash_recovery_with_sqlite_restores_state_seen_and_version(tmp_path: Path) -> None:
    world, entity = cluster(seed=3, journals=sqlite_journals(tmp_path))
    r3 = entity.replica("dc-3")
    before: dict[str, Any] = {}

    def snapshot_then_crash() -> None:
        before.update(state=r3.state, seen=dict(r3.seen), version=r3.version, events=len(r3.events))
        world.crash("dc-3")

    for i, node in enumerate(["dc-1", "dc-2", "dc-3"] * 4):
        world.schedule(0.05 * i, lambda n=node: entity.command(n, 1))
    world.schedule(0.9, snapshot_then_crash)
    world.schedule(1.0, lambda: [entity.command("dc-1", 10), entity.command("dc-2", 100)])
    world.schedule(1.5, lambda: world.restart("dc-3"))
    after: dict[str, Any] = {}
    world.schedule(1.5, lambda: after.update(state=r3.state, seen=dict(r3.seen), version=r3.version,
                                             acked=dict(r3.acked), recovered=r3.recovered))
    result = world.run(duration="2s", quiet_max=100)
    assert result.ok, failures(result)
    # right after the restart, before any message: everything rebuilt from the SQLite file
    assert before["state"] == 12 and before["seen"] == {"dc-1": 4, "dc-2": 4, "dc-3": 4}
    assert after["recovered"] and after["state"] == before["state"]
    assert after["seen"] == before["seen"] and after["version"] == before["version"]
    assert after["acked"] == {"dc-1": None, "dc-2": None}  # learns what peers hold before sending
    # replication resumed: the writes made while it was down arrived, and nothing was resent twice
    assert entity.states() == {"dc-1": 122, "dc-2": 122, "dc-3": 122}
    assert [e.origin_seq for e in r3.journal_or_fail().read("e-1") if e.origin == "dc-3"] == [1, 2, 3, 4]
    assert r3.seen == {"dc-1": 5, "dc-2": 5, "dc-3": 4}
    # the version vector of every replica covers every event
    assert all(entity.replica(n).version.to_data() == {"dc-1": 5, "dc-2": 5, "dc-3": 4} for n in entity.replicas)


def test_a_restarted_replica_writes_after_its_last_persisted_event() -> None:
    world, entity = cluster(seed=4)
    got: list[CommandResult | None] = []
    world.schedule(0.1, lambda: got.append(entity.command("dc-1", 1)))
    world.schedule(0.2, lambda: world.crash("dc-1"))
    world.schedule(0.3, lambda: got.append(entity.command("dc-1", 1)))
    world.schedule(0.4, lambda: world.restart("dc-1"))
    world.schedule(0.5, lambda: got.append(entity.command("dc-1", 1)))
    result = world.run(duration="1s")
    assert result.ok, failures(result)
    assert [r.ok for r in got if r] == [True, False, True]
    assert got[1] is not None and "dc-1 is down" in got[1].reason
    assert got[2] is not None and got[2].events[0].origin_seq == 2
    assert set(entity.states().values()) == {2}


def test_write_latency_crash_fails_the_command_and_persists_nothing() -> None:
    world, entity = cluster(seed=5, write_latency=0.05)
    results: list[CommandResult] = []
    world.schedule(0.1, lambda: [entity.command("dc-1", 1, results.append) for _ in range(3)] and None)
    world.schedule(0.12, lambda: world.crash("dc-1"))
    world.schedule(0.3, lambda: world.restart("dc-1"))
    world.schedule(0.4, lambda: [entity.command("dc-1", 5, results.append) for _ in range(2)] and None)
    result = world.run(duration="1s")
    assert result.ok, failures(result)
    assert [r.ok for r in results] == [False, False, False, True, True]
    assert "crashed before the events were persisted" in results[0].reason
    assert set(entity.states().values()) == {10}
    assert [e.origin_seq for r in results if r.ok for e in r.events] == [1, 2]


def test_out_of_order_arrival_gives_the_same_state_everywhere() -> None:
    """A non-commutative handler (append to a list) still converges: the fold order is global."""
    log = Behavior((), lambda s, cmd: [cmd], lambda s, e, ctx: (*s, (e, ctx.origin, ctx.concurrent)))
    world, entity = cluster(seed=6, behavior=log)
    world.set_faults([Partition(0.0, (("dc-1",), ("dc-2",), ("dc-3",)), duration=1.0)])
    for i, node in enumerate(["dc-3", "dc-1", "dc-2", "dc-1", "dc-3"]):
        world.schedule(0.1 + 0.1 * i, lambda n=node, i=i: entity.command(n, f"w{i}") and None)
    result = world.run(duration="2s")
    assert result.ok, failures(result)
    states = entity.states()
    assert states["dc-1"] == states["dc-2"] == states["dc-3"]
    assert [e for e, _, _ in states["dc-1"]] == ["w0", "w1", "w2", "w3", "w4"]  # timestamp order
    # w1 (dc-1) did not see w0 (dc-3): concurrent; w3 follows w1 at dc-1 but not w0, w2: concurrent
    assert [c for _, _, c in states["dc-1"]] == [False, True, True, True, True]
    assert entity.refolds > 0


def test_lww_with_skewed_clocks_is_total_and_causal() -> None:
    lww = LastWriterWins()
    world, entity = cluster(seed=7, behavior=lww.behavior(lambda s, v: [v]))
    world.node("dc-1").set_clock(skew=5.0)  # dc-1 runs 5 s ahead
    world.set_faults([Partition(0.0, (("dc-1",), ("dc-2", "dc-3")), duration=0.5)])
    world.schedule(0.1, lambda: entity.command("dc-1", "ahead") and None)
    world.schedule(0.2, lambda: entity.command("dc-2", "behind") and None)  # concurrent, older clock: loses
    world.schedule(1.0, lambda: entity.command("dc-3", "after") and None)  # saw "ahead": must win
    result = world.run(duration="2s")
    assert result.ok, failures(result)
    assert {n: lww.value(s) for n, s in entity.states().items()} == dict.fromkeys(entity.replicas, "after")
    stamps = [e.timestamp for e in sorted(entity.acknowledged, key=lambda e: e.order_key)]
    assert stamps[-1] > 5.1  # raised above the skewed timestamp it had seen


# -- bad input ---------------------------------------------------------------------------------


def test_event_handler_that_raises_fails_the_command_and_writes_nothing() -> None:
    def handler(state: int, event: Any, ctx: Any) -> int:
        if event["inc"] < 0:
            raise ValueError("negative increment")
        return state + event["inc"]

    world, entity = cluster(behavior=Behavior(0, lambda s, n: [{"inc": 1}, {"inc": n}], handler))
    out: list[CommandResult | None] = []
    world.schedule(0.1, lambda: out.append(entity.command("dc-1", -1)))
    world.schedule(0.2, lambda: out.append(entity.command("dc-1", 2)))
    result = world.run(duration="1s")
    assert result.ok, failures(result)
    bad, good = out
    assert bad is not None and not bad.ok and isinstance(bad.error, EventHandlerError)
    assert "raised ValueError: negative increment on event dc-1#2" in bad.reason
    assert good is not None and good.ok and [e.origin_seq for e in good.events] == [1, 2]
    assert entity.states() == dict.fromkeys(entity.replicas, 3)


def test_command_handler_that_raises_rejects_the_command() -> None:
    def decide(state: int, n: int) -> list[Any]:
        if n > 3:
            raise ValueError("too big")
        return [{"inc": n}]

    world, entity = cluster(behavior=Behavior(0, decide, COUNTER.event_handler))
    out: list[CommandResult | None] = []
    world.schedule(0.1, lambda: out.append(entity.command("dc-2", 4)))
    assert world.run(duration="1s").ok
    assert out[0] is not None and not out[0].ok and "command rejected: ValueError: too big" in out[0].reason


def test_unencodable_payload_fails_the_command_and_writes_nothing() -> None:
    world, entity = cluster(behavior=Behavior(0, lambda s, n: [{"inc": 1}, {"inc": n}], COUNTER.event_handler))
    out: list[CommandResult | None] = []
    world.schedule(0.1, lambda: out.append(entity.command("dc-1", {1, 2})))
    assert world.run(duration="1s").ok
    assert out[0] is not None and isinstance(out[0].error, UnencodablePayloadError)
    assert "a set at $.inc" in out[0].reason
    assert entity.replica("dc-1").journal_or_fail().read("e-1") == []


def test_command_to_an_unknown_replica_is_a_clear_error() -> None:
    world, entity = cluster(n=2)
    world.add_node("other", "dc")
    with pytest.raises(UnknownReplicaError, match=r"'other' is not a replica of entity 'e-1'.*dc-1"):
        entity.command("other", 1)


def test_bad_configuration_is_rejected() -> None:
    from sim.errors import ConfigError

    with pytest.raises(ConfigError, match="retransmit must be a positive integer"):
        cluster(retransmit=0)
    with pytest.raises(ConfigError, match="write_latency"):
        cluster(write_latency=-1)


def test_a_failed_check_names_the_missing_events() -> None:
    world, entity = cluster(seed=8)
    world.set_faults([Crash(0.5, "dc-3"), Restart(0.6, "dc-3")])
    world.schedule(0.1, lambda: entity.command("dc-1", 1) and None)
    result = world.run(duration="1s")
    assert result.ok
    # tamper: a journal that lost an event must be reported precisely
    journal = entity.replica("dc-2").journal_or_fail()
    journal._events["e-1"].clear()  # type: ignore[attr-defined]
    journal._ids["e-1"].clear()  # type: ignore[attr-defined]
    check = entity.check()
    assert not check.ok
    assert "replica dc-2 lost 1 acknowledged event(s): ['dc-1#1']" in check.message
    assert check.details["missing"] == {"dc-2": ["dc-1#1"]} and check.details["stale"] == ["dc-2"]


def test_with_no_event_anywhere_the_check_says_not_checked() -> None:
    world, entity = cluster(seed=2)
    check = next(c for c in world.run(duration="0.5s").checks if c.name == "eventsourcing:e-1")
    assert (check.status, check.message) == ("not checked", "no event was persisted on any of 3 replicas")
