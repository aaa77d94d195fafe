"""Messages to nodes that are not neighbours travel hop by hop over shortest paths."""

from __future__ import annotations

import pytest

from sim.errors import SimError
from sim.world import World


def _line(n: int) -> tuple[World, list[str]]:
    world = World(seed=1, default_link={"latency": "10ms"})
    nodes = world.add_nodes("dc", n)
    world.connect(nodes, "line")
    return world, nodes


def test_next_hop_follows_a_shortest_path_and_breaks_ties_by_id() -> None:
    world = World(seed=1)
    nodes = world.add_nodes("dc", 6)
    world.connect(nodes, "ring")  # dc-1 .. dc-6 in a cycle: dc-4 is 3 hops either way
    topology = world.topology
    assert topology.next_hop("dc-1", "dc-2") == "dc-2"
    assert topology.next_hop("dc-1", "dc-3") == "dc-2"
    assert topology.next_hop("dc-1", "dc-5") == "dc-6"
    assert topology.next_hop("dc-1", "dc-4") == "dc-2"  # dc-2 < dc-6
    assert topology.distances_to("dc-4")["dc-1"] == 3


def test_a_routed_message_arrives_from_its_source_and_every_hop_is_counted() -> None:
    world, nodes = _line(4)
    got = []
    world.node("dc-4").on_message("ping", lambda m: got.append((m.src, m.payload, m.size, world.now)))
    world.schedule(0.0, lambda: world.node("dc-1").send_routed("dc-4", "ping", "hi", size=10))
    world.run(duration="1s")
    assert [(src, payload, size) for src, payload, size, _ in got] == [("dc-1", "hi", 10)]
    assert got[0][3] == pytest.approx(0.03)  # three hops of 10 ms
    hops = world.metrics.kinds["via:ping"]
    assert hops.sent == 3 and hops.bytes_sent == 3 * (10 + len("dc-1") + len("dc-4"))
    assert "ping" not in world.metrics.kinds  # nothing went directly


def test_a_neighbour_is_sent_to_directly() -> None:
    world, _ = _line(3)
    world.node("dc-2").on_message("ping", lambda m: None)
    world.schedule(0.0, lambda: world.node("dc-1").send_routed("dc-2", "ping", None, 1))
    world.run(duration="1s")
    assert world.metrics.kinds["ping"].sent == 1 and "via:ping" not in world.metrics.kinds


def test_a_hop_that_is_down_drops_the_message() -> None:
    world, _ = _line(3)
    got: list[str] = []
    world.node("dc-3").on_message("ping", lambda m: got.append(m.src))
    world.crash("dc-2")
    world.schedule(0.0, lambda: world.node("dc-1").send_routed("dc-3", "ping", None, 1))
    world.run(duration="1s", require_connected=False)
    assert got == []


def test_no_path_is_an_error() -> None:
    world = World(seed=1)
    world.add_nodes("dc", 2)
    with pytest.raises(SimError, match="no path from 'dc-1' to 'dc-2'"):
        world.node("dc-1").send_routed("dc-2", "ping")
