"""The DistributedData API: consistency levels, reads, subscriptions, deletion, errors."""

from __future__ import annotations

import pytest

from crdt import EWFlag, GCounter
from crdt.orset import ORSet
from sim.errors import ConfigError, SimError
from sim.faults import Isolate
from sim.replication import (
    All,
    Changed,
    Deleted,
    DistributedData,
    KeyDeletedError,
    KeySpec,
    Local,
    Majority,
    To,
)
from sim.world import World


def cluster(n: int = 5, protocol: str = "delta", seed: int = 1) -> tuple[World, DistributedData]:
    world = World(seed=seed, tick="100ms", default_link={"latency": "10ms"})
    nodes = world.add_nodes("dc", n)
    world.connect(nodes, "complete")
    return world, DistributedData(world, nodes, {"cart": KeySpec(ORSet, protocol)}, default_protocol=protocol)


def test_local_write_is_acknowledged_at_once_and_spreads_by_gossip() -> None:
    world, dd = cluster()
    request = dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("milk"))
    assert request.done and request.result.ok and request.result.replicas == ("dc-1",)
    result = world.run(duration="1s")
    assert result.ok
    assert all(dd.replicator(n).value("cart") == {"milk"} for n in dd.node_ids)


@pytest.mark.parametrize("level, needed", [(To(2), 2), (Majority(), 3), (All(), 5)])
def test_write_waits_for_enough_replicas(level, needed) -> None:
    world, dd = cluster()
    request = dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("tea"), write=level)
    assert not request.done  # it needs answers from other replicas first
    world.run(duration="1s")
    assert request.result.ok and len(request.result.replicas) >= needed


def test_write_that_cannot_reach_a_majority_fails_but_stays_applied_locally() -> None:
    world, dd = cluster()
    world.set_faults([Isolate(at=0.0, node=n, duration=2.0) for n in ("dc-2", "dc-3", "dc-4")])
    results = []

    def write() -> None:
        request = dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("jam"), write=Majority(timeout=0.5))
        request.on_done(results.append)

    world.schedule(0.1, write)
    world.run(duration="1s")
    assert len(results) == 1 and not results[0].ok and results[0].reason == "timeout"
    assert set(results[0].replicas) <= {"dc-1", "dc-5"}
    # As in Akka: the failed write was applied locally and spread once the partition healed.
    assert all(dd.replicator(n).value("cart") == {"jam"} for n in dd.node_ids)


def test_majority_read_merges_what_other_replicas_hold() -> None:
    world, dd = cluster(protocol="state")
    # At 1 ms gossip has not yet carried dc-2's write to dc-1 (links take 10 ms): a local
    # read sees nothing, a majority read asks the others and merges their answers.
    dd.replicator("dc-2").update("cart", ORSet, lambda s: s.add("figs"))
    reads = []
    world.schedule(0.001, lambda: dd.replicator("dc-1").get("cart", read=Majority()).on_done(reads.append))
    world.schedule(0.001, lambda: reads.append(dd.replicator("dc-1").get("cart", read=Local).result))
    world.run(duration="1s")
    local, majority = sorted(reads, key=lambda r: r.state is not None)
    assert local.ok and local.state is None
    assert majority.ok and majority.value() == {"figs"}


def test_subscribers_hear_each_change_at_most_once_per_interval_in_key_order() -> None:
    world = World(seed=2, tick="100ms", default_link={"latency": "1ms"})
    nodes = world.add_nodes("dc", 2)
    world.connect(nodes, "complete")
    dd = DistributedData(world, nodes, {"b": KeySpec(GCounter), "a": KeySpec(GCounter)}, notify_every=5)
    heard: list[tuple[float, str, int]] = []
    dd.replicator("dc-2").subscribe("a", lambda n: heard.append((world.now, n.key, n.state.value())))
    dd.replicator("dc-2").subscribe("b", lambda n: heard.append((world.now, n.key, n.state.value())))
    for i in range(4):
        world.schedule(0.01 + 0.01 * i, lambda: dd.replicator("dc-1").update("b", GCounter, lambda c: c.increment(1)))
        world.schedule(0.01 + 0.01 * i, lambda: dd.replicator("dc-1").update("a", GCounter, lambda c: c.increment(1)))
    world.run(duration="2s")
    assert [(k, v) for _, k, v in heard] == [("a", 4), ("b", 4)]
    assert heard[0][0] == heard[1][0] == pytest.approx(0.5)  # the first notification tick after the burst


def test_deleted_key_stays_deleted_everywhere() -> None:
    world, dd = cluster(n=3, protocol="op")
    notices = []
    dd.replicator("dc-3").subscribe("cart", notices.append)
    dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("milk"))
    world.schedule(0.3, lambda: dd.replicator("dc-2").delete("cart"))
    world.run(duration="1s")
    assert all(dd.replicator(n).is_deleted("cart") for n in dd.node_ids)
    assert isinstance(notices[-1], Deleted) and any(isinstance(n, Changed) for n in notices)
    with pytest.raises(KeyDeletedError, match="'cart' was deleted"):
        dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("tea"))


def test_unknown_keys_types_and_protocols_are_clear_errors() -> None:
    world, dd = cluster(n=2)
    with pytest.raises(SimError, match="holds a ORSet, not a GCounter"):
        dd.replicator("dc-1").update("cart", GCounter, lambda c: c.increment(1))
    with pytest.raises(SimError, match="unknown key 'nope'"):
        dd.replicator("dc-1").get("nope")
    with pytest.raises(AttributeError, match="no mutation 'push'"):
        dd.replicator("dc-1").update("cart", ORSet, lambda s: s.push("x"))
    with pytest.raises(ConfigError, match="protocol"):
        KeySpec(ORSet, "gossip")
    with pytest.raises(SimError, match="hosts no replicator"):
        dd.replicator("elsewhere")
    other = World(seed=1)
    other.add_node("z-1", "z")
    with pytest.raises(ConfigError, match="mode"):
        DistributedData(
            other, ["z-1"], {"k": KeySpec(GCounter, "state")}, protocol_options={"state": {"mode": "shout"}}
        )


def test_new_keys_are_created_on_first_update_with_the_default_protocol() -> None:
    world, dd = cluster(n=3, protocol="state")
    dd.replicator("dc-2").update("visits", GCounter, lambda c: c.increment(3))
    assert dd.keys["visits"] == KeySpec(GCounter, "state")
    world.run(duration="1s")
    assert [dd.replicator(n).value("visits") for n in dd.node_ids] == [3, 3, 3]


def test_values_can_be_maps_of_nested_crdts() -> None:
    from crdt import ORMap

    world = World(seed=4, tick="100ms", default_link={"latency": "10ms"})
    nodes = world.add_nodes("dc", 3)
    world.connect(nodes, "complete")
    dd = DistributedData(world, nodes, {"cart": KeySpec(ORMap, "delta")})
    dd.replicator("dc-1").update("cart", ORMap, lambda m: m.update("milk", "CausalCounter", "increment", 2))
    dd.replicator("dc-2").update("cart", ORMap, lambda m: m.update("eggs", "CausalCounter", "increment", 6))
    world.schedule(0.5, lambda: dd.replicator("dc-3").update("cart", ORMap, lambda m: m.remove("eggs")))
    world.schedule(0.5, lambda: dd.replicator("dc-1").update(
        "cart", ORMap, lambda m: m.update("milk", "CausalCounter", "increment", 1)))
    assert world.run(duration="1s").ok
    assert [dd.replicator(n).value("cart") for n in nodes] == [{"milk": 3}] * 3


def test_keys_can_be_declared_by_type_or_type_name() -> None:
    world = World(seed=1)
    nodes = world.add_nodes("dc", 2)
    dd = DistributedData(world, nodes, {"cart": "ORSet", "hits": GCounter, "likes": KeySpec(GCounter, "state")},
                         default_protocol="op")
    assert dd.keys == {"cart": KeySpec(ORSet, "op"), "hits": KeySpec(GCounter, "op"),
                       "likes": KeySpec(GCounter, "state")}
    with pytest.raises(ConfigError, match=r"keys.cart must name a CRDT type, one of \[.*'ORSet'"):
        DistributedData(world, nodes, {"cart": "Orset"})
    dd.replicator("dc-1").update("visits", "GCounter", lambda c: c.increment(1))
    assert dd.keys["visits"] == KeySpec(GCounter, "op")


@pytest.mark.parametrize("protocol, kind", [("delta", "delta.sync"), ("op", "op.msg"), ("state", "state.digest")])
def test_modify_reads_the_current_value_and_its_mutations_still_replicate(protocol: str, kind: str) -> None:
    world, dd = cluster(n=3, protocol=protocol)
    for i in range(5):
        world.schedule(0.01 * i, lambda: dd.replicator("dc-1").update(
            "hits", GCounter, lambda c: c.increment(1) if c.value() < 3 else c))
    result = world.run(duration="1s")
    assert [dd.replicator(n).value("hits") for n in dd.node_ids] == [3, 3, 3]
    assert [u.calls for u in dd.updates] == [[("increment", (1,))]] * 3 + [[]] * 2
    assert result.metrics["per_kind"][kind]["delivered"] > 0


def test_reads_in_modify_see_the_mutations_made_before_them() -> None:
    world, dd = cluster(n=2)
    dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("milk"))
    dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("tea").add(f"{len(s)} items"))
    dd.replicator("dc-1").update("cart", ORSet, lambda s: s.remove("milk") if "milk" in s else s)
    world.run(duration="1s")
    assert dd.replicator("dc-2").value("cart") == {"tea", "2 items"}


def test_modify_returning_a_new_value_is_a_clear_error() -> None:
    _, dd = cluster(n=2)
    with pytest.raises(SimError, match="returned a new ORSet; call the mutations on the value it receives"):
        dd.replicator("dc-1").update("cart", ORSet, lambda s: ORSet().add("dc-1", "milk"))
    with pytest.raises(AttributeError, match="no mutation 'push'"):
        dd.replicator("dc-1").update("cart", ORSet, lambda s: s.push("x"))


def test_a_new_subscriber_first_hears_the_current_value() -> None:
    world, dd = cluster(n=2)
    dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("milk"))
    early, late, absent = [], [], []
    dd.replicator("dc-2").subscribe("cart", early.append)
    world.schedule(0.5, lambda: dd.replicator("dc-2").subscribe("cart", late.append))
    world.schedule(0.5, lambda: dd.replicator("dc-2").subscribe("hits", absent.append))
    world.schedule(0.8, lambda: dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("tea")))
    world.run(duration="2s")
    assert [n.state.value() for n in early] == [{"milk"}, {"milk", "tea"}]
    assert [n.state.value() for n in late] == [{"milk"}, {"milk", "tea"}]  # the value it joined at, then the change
    assert absent == []  # no value yet, nothing to hear


def test_a_first_subscriber_mid_run_hears_the_value_once_then_each_change() -> None:
    """The notify task joins the tick loop with the replicator's first subscriber: before it,
    the loop runs no notify task; after it, the subscriber hears as one that was always there."""
    world, dd = cluster(n=2)
    replicator = dd.replicator("dc-2")

    def notify_tasks() -> list[object]:
        return [task for *_, task in world.tasks() if task == replicator._notify]

    assert notify_tasks() == []
    dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("milk"))
    heard: list[Changed | Deleted] = []
    world.schedule(0.5, lambda: replicator.subscribe("cart", heard.append))
    world.schedule(0.8, lambda: dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("tea")))
    world.run(duration="2s")
    assert [n.state.value() for n in heard] == [{"milk"}, {"milk", "tea"}]  # type: ignore[union-attr]
    assert len(notify_tasks()) == 1


def test_a_key_new_to_the_group_moves_every_replicator_version() -> None:
    """Protocols keep what they computed from the stored keys while the version stands still."""
    world, dd = cluster(n=3)
    before = [r.version for r in dd.replicators.values()]
    dd.key_spec("fresh", GCounter)
    assert [r.version for r in dd.replicators.values()] == [v + 1 for v in before]
    dd.key_spec("fresh", GCounter)  # known now: nothing moves
    assert [r.version for r in dd.replicators.values()] == [v + 1 for v in before]


def test_completed_requests_are_released() -> None:
    world, dd = cluster(n=3)
    replicator = dd.replicator("dc-1")
    for _ in range(1005):
        replicator.update("cart", ORSet, lambda s: s.add("milk"))
        replicator.get("cart")
    assert replicator.open_requests == 0
    write = replicator.update("cart", ORSet, lambda s: s.add("tea"), write=Majority())
    read = replicator.get("cart", read=All())
    assert replicator.open_requests == 2
    world.run(duration="1s")
    assert write.result.ok and read.result.ok and replicator.open_requests == 0


def test_invariants_say_not_checked_when_no_key_has_one_and_check_when_one_does() -> None:
    world = World(seed=1, tick="100ms", default_link={"latency": "10ms"})
    nodes = world.add_nodes("dc", 3)
    world.connect(nodes, "complete")
    DistributedData(world, nodes, {"flag": KeySpec(EWFlag, "delta")}, default_protocol="delta")
    checks = {c.name: c for c in world.run(duration="1s").checks}
    assert checks["invariants"].status == "not checked" and checks["invariants"].details["checked"] == []
    assert checks["convergence"].status == "ok"
    world, dd = cluster()
    dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("milk"))
    checks = {c.name: c for c in world.run(duration="1s").checks}
    assert (checks["invariants"].status, checks["invariants"].message) == ("ok", "1/1 keys hold their invariants")


def test_state_gossip_keys_are_pending_until_every_live_replica_holds_the_same_value() -> None:
    world, dd = cluster(n=3, protocol="state")
    assert not dd.pending()  # nobody holds the key: nothing to spread
    states = {n: dd.replicator(n).states for n in dd.node_ids}
    states["dc-1"]["cart"] = ORSet().add("dc-1", "milk")
    assert dd.pending()  # two replicas never heard of it
    states["dc-2"]["cart"] = states["dc-3"]["cart"] = states["dc-1"]["cart"]
    assert not dd._differs("cart")
    states["dc-3"]["cart"] = ORSet().add("dc-3", "eggs")
    assert dd._differs("cart")  # the last replica disagrees with the first
    world.node("dc-3").crash()
    assert not dd._differs("cart")  # a replica that is down does not count
