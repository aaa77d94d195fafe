"""Replication off the easy path: non-complete topologies, levels above ``local``, volatile
state. One regression test per bug found there; the broken variants that put each bug back
are in test_broken_variants.py."""

from __future__ import annotations

from collections import Counter

import pytest
from cluster import failed, faulty_cluster, run_faulty

from crdt import GCounter, ORSet, PNCounter
from sim.eventsourcing import Behavior, ReplicatedEntity
from sim.faults import Crash, Restart
from sim.replication import KeySpec, Majority
from sim.world import World

CLEAN = {"latency": {"exponential": {"mean": "30ms"}}}


def _total(dd, key: str) -> int:  # type: ignore[no-untyped-def]
    """The counter value the updates imply, summed from the calls the workload made."""
    total = 0
    for u in dd.updates:
        if u.key == key:
            for name, args in u.calls:
                total += (args[0] if args else 1) * (-1 if name == "decrement" else 1)
    return total


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_op_broadcast_converges_on_a_ring_without_faults(seed: int) -> None:
    world, dd = faulty_cluster({"k": KeySpec(ORSet, "op")}, seed, nodes=6, topology="ring", link=CLEAN, faults=[])
    result = run_faulty(world)
    assert result.ok, failed(result)
    values = {n: dd.replicator(n).value("k") for n in dd.node_ids}
    assert len({frozenset(v) for v in values.values()}) == 1, values


@pytest.mark.parametrize("type_", [GCounter, PNCounter])
def test_op_counters_with_majority_writes_and_reads_count_each_update_once(type_: type) -> None:
    world, dd = faulty_cluster({"c": KeySpec(type_, "op")}, 1, write=Majority(), read=Majority(), reads=0.3)
    result = run_faulty(world)
    assert result.ok, [c.message for c in result.checks]
    assert [dd.replicator(n).value("c") for n in dd.node_ids] == [_total(dd, "c")] * 3


def test_pull_gossip_reaches_a_replica_that_holds_no_key() -> None:
    world, dd = faulty_cluster({"k": KeySpec(ORSet, "state")}, 1, {"state": {"mode": "pull"}},
                               writers=["dc-1", "dc-2"], faults=[])
    result = run_faulty(world)
    assert result.ok, failed(result)
    assert dd.replicator("dc-3").value("k") == dd.replicator("dc-1").value("k") != frozenset()


@pytest.mark.parametrize("protocol", ["state", "delta", "op"])
def test_majority_requests_are_routed_on_a_line(protocol: str) -> None:
    world, dd = faulty_cluster({"k": KeySpec(ORSet, protocol)}, 1, nodes=5, topology="line", link=CLEAN,
                               faults=[], write=Majority(), read=Majority(), reads=0.3)
    result = run_faulty(world)
    assert result.ok, [c.message for c in result.checks]
    assert dd.requests.get("writes_failed", 0) == 0 and dd.requests["writes_ok"] > 10
    # dc-1 reaches dc-3 .. dc-5 only through others: those hops are messages of their own
    assert world.metrics.kinds["via:ddata.write"].sent > 0
    assert world.metrics.kinds["via:ddata.write"].bytes_sent > 0


def test_event_sourcing_replicates_over_a_line() -> None:
    world = World(seed=1)
    nodes = world.add_nodes("dc", 5)
    world.connect(nodes, "line")
    counter = Behavior(0, lambda s, cmd: [{"add": cmd}], lambda s, e, ctx: s + e["add"])
    entity = ReplicatedEntity(world, nodes, "counter-1", counter)
    world.schedule(0.1, lambda: entity.command("dc-1", 5))
    world.schedule(0.1, lambda: entity.command("dc-5", 2))
    assert world.run(duration="1s").ok
    assert [entity.replica(n).state for n in nodes] == [7] * 5


VOLATILE = {"durable": False, "link": {**CLEAN, "loss": 0.5}, "rate": "40/s",
            "faults": [Crash(at=2.0, node="dc-1"), Restart(at=2.2, node="dc-1")]}


@pytest.mark.parametrize("seed", [4, 7, 10])
def test_a_volatile_crash_that_destroys_the_only_copy_names_the_lost_writes_and_goes_quiet(seed: int) -> None:
    world, dd = faulty_cluster({"k": KeySpec(ORSet, "op")}, seed, **VOLATILE)
    result = run_faulty(world)
    checks = {c.name: c for c in result.checks}
    assert failed(result) == ["invariants"]  # quiet, converged: only the lost writes are reported
    lost = checks["invariants"].details["lost"]["k"]
    assert lost and checks["invariants"].details["violations"]["k"].startswith("writes lost with every copy")
    # each lost write was made by dc-1 under its first incarnation, before the crash at 2 s
    gone = [u for u in dd.updates if u.lost or any(f"{u.node}@{u.time:.3f}s" in name for name in lost)]
    assert Counter(u.replica for u in gone) == Counter({"dc-1": len(lost)})
    assert all(u.time < 2.0 for u in gone)


def test_a_volatile_run_without_crashes_loses_nothing() -> None:
    world, dd = faulty_cluster({"k": KeySpec(ORSet, "op")}, 4, **{**VOLATILE, "faults": []})
    result = run_faulty(world)
    assert result.ok and not dd.lost_updates()
