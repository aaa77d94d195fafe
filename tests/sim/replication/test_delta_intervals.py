"""Delta gossip joins an interval once for the neighbours that acknowledged the same point."""

from crdt import GSet
from sim.replication import DistributedData, KeySpec
from sim.world import World


def _g(*elements: str) -> GSet:
    return GSet(frozenset(elements))


def _protocol(bp: bool):  # type: ignore[no-untyped-def]
    world = World(seed=3, tick="100ms", default_link={"latency": "5ms"})
    nodes = world.add_nodes("n", 4)
    world.connect_zones("n", "n")
    dd = DistributedData(world, nodes, {"s": KeySpec(GSet, "delta"), "t": KeySpec(GSet, "delta")},
                         protocol_options={"delta": {"bp": bp}})
    protocol = dd.replicator("n-1").protocols["delta"]
    protocol._buffer("s", _g("own"), "n-1")
    protocol._buffer("t", _g("from-2"), "n-2")
    protocol._buffer("s", _g("from-3"), "n-3")
    return protocol


def _uncached(protocol, peer: str, start: int) -> dict:  # type: ignore[no-untyped-def]
    protocol._intervals_at = -1
    return protocol._interval(peer, start)


def test_neighbours_at_the_same_point_share_one_join_and_get_what_a_fresh_join_gives() -> None:
    protocol = _protocol(bp=False)
    first, second = protocol._interval("n-2", 0), protocol._interval("n-4", 0)
    assert first is not second and first["s"] is second["s"]  # own dicts, one joined value
    assert first == _uncached(protocol, "n-2", 0) == {"s": _g("own", "from-3"),
                                                      "t": _g("from-2")}
    assert protocol._interval("n-2", 1) == {"t": _g("from-2"), "s": _g("from-3")}


def test_with_bp_a_neighbour_whose_deltas_are_in_the_interval_gets_its_own_join_without_them() -> None:
    protocol = _protocol(bp=True)
    for_2, for_3, for_4 = (protocol._interval(p, 0) for p in ("n-2", "n-3", "n-4"))
    assert for_2 == {"s": _g("own", "from-3")}
    assert for_3 == {"s": _g("own"), "t": _g("from-2")}
    assert for_4 == {"s": _g("own", "from-3"), "t": _g("from-2")}
    assert for_2 == _uncached(protocol, "n-2", 0) and for_3 == _uncached(protocol, "n-3", 0)


def test_a_new_delta_makes_the_next_interval_include_it() -> None:
    protocol = _protocol(bp=False)
    before = protocol._interval("n-2", 0)
    protocol._buffer("t", _g("later"), "n-1")
    after = protocol._interval("n-2", 0)
    assert after["t"] == _g("from-2", "later") != before["t"]
