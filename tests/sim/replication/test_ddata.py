"""The DistributedData API: consistency levels, reads, subscriptions, deletion, errors."""

from __future__ import annotations

import pytest

from crdt import GCounter
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
