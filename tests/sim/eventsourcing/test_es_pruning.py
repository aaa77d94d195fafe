"""Retiring a replica and pruning its version-vector entry once that is causally stable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from es_cluster import cluster, failures

from crdt.clocks import VersionVector
from sim.eventsourcing import (
    RETIRE,
    Behavior,
    CommandResult,
    EventEnvelope,
    PruneBook,
    ReplicatedEntity,
    sqlite_journals,
)
from sim.eventsourcing.pruning import is_system, retire_payload, stable_payload
from sim.faults import Crash, Partition, Restart, random_schedule
from sim.world import World

# Appending (payload, origin, concurrent) does not commute, and the state records every flag.
LOG = Behavior((), lambda s, cmd: [cmd], lambda s, e, ctx: (*s, (e, ctx.origin, ctx.concurrent)))


def scenario(prune: bool = True, retire: bool = True, journals: Any = None,
             crash_after: bool = False) -> tuple[World, ReplicatedEntity, dict[str, Any]]:
    """dc-3 writes (partly concurrently with dc-1), retires at 1.0; later writes at dc-1, dc-2,
    two of them concurrent (a partition at 3.0); optionally dc-1 crashes and restarts at 2.5."""
    world, entity = cluster(seed=11, behavior=LOG, journals=journals, prune=prune)
    seen: dict[str, Any] = {}
    # dc-1's first writes cannot see dc-3's: their vectors lack dc-3 (a genuine 0)
    world.set_faults([Partition(0.0, (("dc-1",), ("dc-2", "dc-3")), duration=0.6),
                      Partition(3.0, (("dc-1",), ("dc-2", "dc-3")), duration=0.5)])
    for i, node in enumerate(["dc-3", "dc-1", "dc-3", "dc-1", "dc-2", "dc-3"]):
        world.schedule(0.1 + 0.1 * i, lambda n=node, i=i: entity.command(n, f"a{i}") and None)
    if retire:
        world.schedule(1.0, lambda: seen.update(retire=entity.retire("dc-3")))
    world.schedule(2.0, lambda: seen.update(pruned_at_2=entity.pruned()))
    world.schedule(2.1, lambda: entity.command("dc-1", "b1") and None)
    world.schedule(2.2, lambda: entity.command("dc-2", "b2") and None)
    if crash_after:
        world.schedule(2.5, lambda: world.crash("dc-1"))

        def restarted() -> None:
            world.restart("dc-1")
            r1 = entity.replica("dc-1")
            seen.update(restart=dict(state=r1.state, version=r1.version, pruned=r1.pruned, replay=r1.replay()))

        world.schedule(2.7, restarted)
    world.schedule(3.1, lambda: entity.command("dc-1", "c1") and None)  # concurrent with c2
    world.schedule(3.2, lambda: entity.command("dc-2", "c2") and None)
    world.schedule(4.0, lambda: entity.command("dc-1", "d1") and None)  # after both
    if retire:
        world.schedule(4.1, lambda: seen.update(late=entity.command("dc-3", "too late")))
    result = world.run(duration="5s", quiet_max=200)
    assert result.ok, failures(result)
    return world, entity, seen


def flags(state: tuple[Any, ...]) -> dict[str, bool]:
    return {payload: concurrent for payload, _, concurrent in state}


def test_pruning_leaves_state_and_concurrency_flags_as_without_pruning() -> None:
    _, pruned, seen = scenario(prune=True)
    _, unpruned, _ = scenario(prune=False)
    _, never_retired, _ = scenario(retire=False)
    states = pruned.states()
    assert len(set(states.values())) == 1
    # the same state (every flag included) as an unpruned run and a run without retirement
    assert states == unpruned.states() == never_retired.states()
    got = flags(states["dc-1"])
    assert got["a1"] and not got["a0"]  # a1 (dc-1, partitioned) did not see a0 (dc-3)
    assert not got["b1"] and not got["b2"] and got["c2"] and not got["c1"] and not got["d1"]
    # the retire marker is dc-3's last event; it takes no command afterwards
    retire = seen["retire"]
    assert retire.ok and retire.command is RETIRE and [e.origin_seq for e in retire.events] == [4]
    assert not seen["late"].ok and "dc-3 of e-1 is retired" in seen["late"].reason
    # pruned everywhere within a second; no version vector holds dc-3 any more
    assert seen["pruned_at_2"] == dict.fromkeys(pruned.replicas, frozenset({"dc-3"}))
    for node in pruned.replicas:
        replica = pruned.replica(node)
        assert "dc-3" not in replica.version.entries and replica.fold_version.get("dc-3") == 3
        assert replica.replay()[2] == replica.version
    later = [e for e in pruned.replica("dc-1").events if not is_system(e) and e.payload[0] in "bcd"]
    assert len(later) == 5 and all("dc-3" not in e.version.entries for e in later)
    # without pruning the entry stays
    assert all(unpruned.replica(n).version.get("dc-3") == 3 for n in unpruned.replicas)
    assert unpruned.pruned() == dict.fromkeys(unpruned.replicas, frozenset())


def test_every_remaining_replica_writes_one_stability_marker() -> None:
    _, entity, _ = scenario()
    events = entity.replica("dc-2").journal_or_fail().read("e-1")
    markers = [(e.origin, e.payload) for e in events if is_system(e)]
    assert sorted(markers) == [("dc-1", stable_payload("dc-3", 3)), ("dc-2", stable_payload("dc-3", 3)),
                               ("dc-3", retire_payload("dc-3", 3))]
    # a stability marker comes only after its writer held every event of dc-3
    for e in events:
        if is_system(e) and e.origin != "dc-3":
            assert e.version.get("dc-3") == 3


def test_pruning_survives_a_crash_with_sqlite_journals(tmp_path: Path) -> None:
    _, entity, seen = scenario(journals=sqlite_journals(tmp_path), crash_after=True)
    _, unpruned, _ = scenario(prune=False)
    after = seen["restart"]
    # right after the restart, from the SQLite file alone: still pruned, same state as a replay
    assert after["pruned"] == frozenset({"dc-3"}) and "dc-3" not in after["version"].entries
    assert after["replay"] == (after["state"], {"dc-1": 4, "dc-2": 3, "dc-3": 4}, after["version"])
    assert entity.states() == unpruned.states()
    assert [e for e in entity.replica("dc-1").events if e.payload == "d1"][0].version.to_data() == {
        "dc-1": 6, "dc-2": 4}  # dc-1: a1 a3 (marker 3) b1 c1 d1; dc-2: a4 (marker 2) b2 c2


def test_effective_version_reads_a_missing_entry_by_the_writers_epoch() -> None:
    book = PruneBook()

    def ev(origin: str, seq: int, version: dict[str, int], payload: Any = None) -> EventEnvelope:
        return EventEnvelope("p", origin, seq, VersionVector(version), float(seq), payload)

    assert book.note(ev("r", 3, {"r": 3}, retire_payload("r", 2)))
    assert book.note(ev("x", 4, {"x": 4, "r": 2}, stable_payload("r", 2)))
    assert not book.note(ev("x", 5, {"x": 5}))
    old = ev("x", 1, {"x": 1})  # written before x saw anything of r: a genuine 0
    new = ev("x", 5, {"x": 5})  # written after x pruned r: it saw all of r
    explicit = ev("x", 6, {"x": 6, "r": 1})
    other = ev("y", 9, {"y": 9})  # y wrote no stability marker: taken as stored
    assert book.effective(old) == old.version
    assert book.effective(new) == VersionVector({"x": 5, "r": 2})
    assert book.effective(explicit) == explicit.version and book.effective(other) == other.version
    assert book.pruned(["r", "x"]) == {"r"} and book.pruned(["r", "x", "y"]) == set()


def test_retirement_is_durable_and_the_last_active_replica_cannot_retire(tmp_path: Path) -> None:
    plain = Behavior(0, lambda s, cmd: [cmd], lambda s, e, ctx: s + e["inc"])  # the command is the event
    world, entity = cluster(seed=12, n=2, journals=sqlite_journals(tmp_path), behavior=plain)
    out: list[CommandResult | None] = []
    world.set_faults([Crash(0.5, "dc-2"), Restart(0.7, "dc-2")])
    world.schedule(0.1, lambda: out.append(entity.command("dc-2", {"inc": 1})))
    world.schedule(0.2, lambda: out.append(entity.retire("dc-2")))
    world.schedule(0.3, lambda: out.append(entity.retire("dc-1")))
    world.schedule(0.3, lambda: out.append(entity.command("dc-1", {"$es": "retire", "replica": "dc-1", "upto": 0})))
    world.schedule(0.8, lambda: out.append(entity.command("dc-2", {"inc": 1})))  # after the restart
    world.schedule(0.9, lambda: out.append(entity.command("dc-1", {"inc": 5})))
    result = world.run(duration="2s")
    assert result.ok, failures(result)
    assert [r.ok for r in out if r] == [True, True, False, False, False, True]
    reasons = [r.reason for r in out if r and not r.ok]
    assert "dc-1 is the last active replica" in reasons[0] and "reserved key '$es'" in reasons[1]
    assert "dc-2 of e-1 is retired" in reasons[2]
    assert entity.states() == {"dc-1": 6, "dc-2": 6}
    assert entity.pruned() == {"dc-1": frozenset({"dc-2"}), "dc-2": frozenset({"dc-2"})}
    assert entity.replica("dc-1").version.to_data() == {"dc-1": 2}


def test_a_write_in_flight_delays_the_retire_marker() -> None:
    world, entity = cluster(seed=13, write_latency=0.05)
    out: list[CommandResult] = []
    world.schedule(0.1, lambda: [entity.command("dc-3", 1, out.append), entity.retire("dc-3", out.append),
                                 entity.command("dc-3", 1, out.append)] and None)
    result = world.run(duration="2s")
    assert result.ok, failures(result)
    assert [(r.ok, r.command) for r in out] == [(True, 1), (True, RETIRE), (False, 1)]
    assert set(entity.states().values()) == {1}
    assert all(not r.version.get("dc-3") for r in (entity.replica(n) for n in entity.replicas))


@pytest.mark.parametrize("seed", range(30))
def test_random_faults_with_a_retirement_converge_and_prune(seed: int) -> None:
    lossy = {"latency": {"exponential": {"mean": "40ms"}}, "loss": 0.2, "duplicate": 0.1}
    world, entity = cluster(seed, behavior=LOG, n=4, link=lossy)
    counter = iter(range(10**6))
    nodes, retiring = world.node_ids, world.node_ids[seed % 4]

    def op() -> None:
        if world.now >= 2.0:
            return
        rng = world.rng("es-ops")
        node = nodes[rng.randrange(len(nodes))]
        if world.node(node).up:
            entity.command(node, next(counter))
        world.schedule(rng.expovariate(15.0), op)

    def retire() -> None:
        if world.node(retiring).up:
            entity.retire(retiring)
        else:
            world.schedule(0.1, retire)

    world.schedule(0.0, op)
    world.schedule(1.0, retire)
    world.set_faults(random_schedule(world, "2s", rate=2.0, mean_fault=0.5, max_down=2))
    result = world.run(duration="2s", quiet_max=600)
    assert result.ok, (seed, failures(result))
    assert entity.pruned() == dict.fromkeys(nodes, frozenset({retiring}))
    for node in nodes:
        replica = entity.replica(node)
        assert retiring not in replica.version.entries
        assert replica.replay() == (replica.state, replica.seen, replica.version)
