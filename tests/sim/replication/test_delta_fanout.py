"""Delta gossip talks to at most ``fanout`` neighbours per round, round-robin."""

from crdt import GSet
from sim.replication import DistributedData, KeySpec
from sim.world import World


def _world(n: int, fanout: int | None) -> tuple[World, DistributedData]:
    world = World(seed=3, tick="100ms", default_link={"latency": "5ms"})
    nodes = world.add_nodes("n", n)
    world.connect_zones("n", "n")
    options = {} if fanout is None else {"fanout": fanout}
    dd = DistributedData(world, nodes, {"s": KeySpec(GSet, "delta")}, protocol_options={"delta": options})
    world.schedule(0.05, lambda: dd.replicator("n-1").update("s", GSet, lambda s: s.add("x")))
    return world, dd


def test_a_round_syncs_with_at_most_fanout_neighbours_and_still_converges() -> None:
    world, dd = _world(12, 3)
    protocol = dd.replicator("n-1").protocols["delta"]
    rounds = [protocol._round_peers() for _ in range(4)]
    assert all(len(r) == 3 for r in rounds)
    # round-robin: four rounds of three cover the eleven neighbours, wrapping around
    assert sorted({p for r in rounds for p in r}) == protocol.peers()
    result = world.run(duration="1s", quiet_max=200)
    assert result.ok
    assert {dd.replicator(n).value("s") for n in dd.node_ids} == {frozenset({"x"})}


def test_the_default_fanout_bounds_a_complete_graph_and_small_degrees_sync_with_everyone() -> None:
    _, dd = _world(12, None)
    protocol = dd.replicator("n-1").protocols["delta"]
    assert len(protocol.peers()) == 11 and len(protocol._round_peers()) == 8
    _, small = _world(5, None)
    few = small.replicator("n-1").protocols["delta"]
    assert few._round_peers() == few.peers()  # degree <= fanout: every neighbour, every round
