import pytest
from sim_helpers import pair

from sim.errors import ConfigError, SimError
from sim.faults import Isolate, OneWay, Partition
from sim.network import LinkModel, Message


def send_many(world, n: int, src: str = "a", dst: str = "b", gap: float = 0.001,  # type: ignore[no-untyped-def]
              start: float = 0.0) -> None:
    for i in range(n):
        world.schedule(start + i * gap, lambda i=i: world.node(src).send(dst, "m", i, 8))


def test_message_is_immutable() -> None:
    m = Message("a", "b", "k", None, 1, 1, 0.0)
    with pytest.raises(AttributeError):
        m.size = 3  # type: ignore[misc]


def test_loss_rate_close_to_p() -> None:
    world, got = pair({"latency": "1ms", "loss": 0.3}, trace="off")
    send_many(world, 5000)
    r = world.run(duration="6s")
    assert len(got) / 5000 == pytest.approx(0.7, abs=0.03)
    assert r.metrics["dropped"]["loss"] == 5000 - len(got)


def test_duplication_delivers_extra_copies() -> None:
    world, got = pair({"latency": "1ms", "duplicate": 0.5}, trace="off")
    send_many(world, 2000)
    r = world.run(duration="3s")
    copies = [m for m in got if m.copy == 1]
    assert len(copies) == pytest.approx(1000, abs=100)
    assert {m.id for m in copies} <= {m.id for m in got if m.copy == 0}
    assert r.metrics["duplicated"] == len(copies)


def test_fifo_keeps_order_and_jitter_reorders() -> None:
    jitter = {"uniform": {"low": "1ms", "high": "50ms"}}
    world, got = pair({"latency": jitter, "fifo": True})
    send_many(world, 300)
    world.run(duration="1s")
    assert [m.payload for m in got] == list(range(300))

    world, got = pair({"latency": jitter, "fifo": False})
    send_many(world, 300)
    world.run(duration="1s")
    assert sorted(m.payload for m in got) == list(range(300))
    assert [m.payload for m in got] != list(range(300))


def test_bandwidth_adds_serialization_delay() -> None:
    world, got = pair({"latency": 0, "bandwidth": 1000})
    arrivals: list[float] = []
    world.node("b")._handlers["m"] = lambda m: arrivals.append(world.now)
    for _ in range(3):
        world.node("a").send("b", "m", None, 500)
    world.run(duration="3s")
    assert arrivals == pytest.approx([0.5, 1.0, 1.5])


def test_partition_drops_with_cause_partition() -> None:
    world, got = pair()
    world.set_faults([Partition(0, (("a",), ("b",)), duration=1.0)])
    send_many(world, 20, gap=0.1, start=0.05)  # 10 during the partition, 10 after
    r = world.run(duration="3s")
    assert r.metrics["dropped"]["partition"] == 10
    assert len(got) == 10 and min(m.payload for m in got) == 10


def test_one_way_partition_blocks_one_direction_only() -> None:
    world, got = pair()
    world.set_faults([OneWay(0, ("a",), ("b",))])
    world.schedule(0.1, lambda: world.node("a").send("b", "m", "ab"))
    world.schedule(0.1, lambda: world.node("b").send("a", "m", "ba"))
    r = world.run(duration="1s")
    assert [m.payload for m in got] == ["ba"]
    assert r.metrics["dropped"]["partition"] == 1
    assert r.metrics["per_node"]["b"]["received"] == 0 and r.metrics["per_node"]["a"]["received"] == 1


def test_isolate_blocks_both_directions() -> None:
    world, got = pair()
    world.set_faults([Isolate(0, "a")])
    world.schedule(0.1, lambda: world.node("a").send("b", "m", "ab"))
    world.schedule(0.1, lambda: world.node("b").send("a", "m", "ba"))
    r = world.run(duration="1s")
    assert got == [] and r.metrics["dropped"]["partition"] == 2


def test_model_resolution_priority() -> None:
    from sim.world import World

    w = World(seed=1)
    w.add_nodes("eu", 2)
    w.add_nodes("us", 2)
    w.define_channel("wan", {"latency": "80ms"})
    w.connect_zones("eu", "eu")
    w.connect_zones("eu", "us", channel="wan")
    w.set_default_link({"latency": "1ms"})
    net = w.network
    assert net.model_for("eu-1", "eu-2").latency.value == 0.001  # type: ignore[attr-defined]
    assert net.model_for("eu-1", "us-1").latency.value == 0.08  # type: ignore[attr-defined]
    w.set_zone_link("eu", "us", {"latency": "50ms"})
    assert net.model_for("us-1", "eu-1").latency.value == 0.05  # type: ignore[attr-defined]
    w.set_link("eu-1", "us-1", {"latency": "7ms"}, symmetric=False)
    assert net.model_for("eu-1", "us-1").latency.value == 0.007  # type: ignore[attr-defined]
    assert net.model_for("us-1", "eu-1").latency.value == 0.05  # type: ignore[attr-defined]


def test_links_are_created_lazily() -> None:
    from sim.world import World

    w = World(seed=1, trace="off")
    w.add_nodes("z", 200)
    w.connect_zones("z", "z")
    w.node("z-2").on_message("m", lambda m: None)
    w.node("z-1").send("z-2", "m")
    # a zone channel with a plain model: one zone sender, counters per node, no link object
    assert len(w.network._links) == 0 and not w.metrics.links and sorted(w.metrics.nodes) == ["z-1", "z-2"]
    assert list(w.node("z-1")._zone_out) == ["z"]
    w.set_link("z-1", "z-3", {"latency": "1ms"}, symmetric=False)
    w.node("z-3").on_message("m", lambda m: None)
    w.node("z-1").send("z-3", "m")  # an override gives the pair a link of its own
    assert list(w.network._links) == [("z-1", "z-3")]
    w.set_link("z-1", "z-2", {"latency": "1ms"}, symmetric=False)  # also once the pair was used
    w.node("z-1").send("z-2", "m")
    assert sorted(w.network._links) == [("z-1", "z-2"), ("z-1", "z-3")]


def test_bad_link_parameters_name_link_and_value() -> None:
    world, _ = pair()
    expected = r"link a->b: loss must be a probability in \[0, 1\], found 1.5"
    with pytest.raises(ConfigError, match=expected):
        world.set_link("a", "b", {"loss": 1.5})
    with pytest.raises(ConfigError, match="colour"):
        world.set_link("a", "b", {"colour": "red"})
    with pytest.raises(ConfigError, match="latency"):
        LinkModel(latency=-1)


def test_sending_outside_the_topology_is_an_error() -> None:
    from sim.world import World

    w = World(seed=1)
    w.add_nodes("z", 3)
    w.connect("z", "line")
    with pytest.raises(SimError, match="no channel"):
        w.node("z-1").send("z-3", "m")


def test_in_flight_counts_scheduled_copies_until_delivered_or_dropped() -> None:
    world, got = pair({"latency": "10ms", "loss": 0.2, "duplicate": 0.3}, trace="off")
    net = world.network
    sent = [world.node("a").send("b", "m", i) for i in range(200)]
    scheduled = sum(sent) + world.metrics.duplicated
    assert net.in_flight == scheduled
    world.env.run(until=0.5)
    assert net.in_flight == 0 and len(got) == scheduled


def test_in_flight_agrees_with_the_counters_through_loss_duplicates_and_a_crash() -> None:
    """The event count equals sent + duplicated - delivered - dropped at every instant, on zone
    pairs and on links of their own (FIFO), with drops at send and at delivery time."""
    from sim.world import World

    world = World(seed=3, trace="off")
    world.add_nodes("z", 4)
    world.connect("z", "complete")
    world.set_default_link({"latency": "20ms", "loss": 0.2, "duplicate": 0.3})
    world.set_link("z-1", "z-2", {"latency": "5ms", "fifo": True, "duplicate": 0.5})
    for node in world.nodes:
        node.on_message("m", lambda m: None)
    m, net = world.metrics, world.network
    seen = []
    for step in range(40):
        for src in ("z-1", "z-2", "z-3"):
            for dst in ("z-2", "z-3", "z-4"):
                if src != dst:
                    world.node(src).send(dst, "m", step, 8)
        if step == 10:
            world.node("z-4").up = False  # copies already on their way to it are dropped
        counted = m.sent + m.duplicated - m.delivered - sum(m.dropped.values())
        assert net.in_flight == counted
        seen.append(counted)
        world.env.run(until=world.now + 0.007)
    assert max(seen) > 0 and m.dropped["node_down"] and m.dropped["loss"] and m.duplicated
    world.env.run(until=world.now + 1.0)
    assert net.in_flight == 0 == m.sent + m.duplicated - m.delivered - sum(m.dropped.values())


def test_model_change_after_the_link_opened_takes_effect() -> None:
    world, got = pair({"latency": "10ms"})
    arrivals: list[float] = []
    world.node("b")._handlers["m"] = lambda m: arrivals.append(world.now)
    world.node("a").send("b", "m")
    world.env.run(until=1.0)
    world.set_link("a", "b", {"latency": "100ms", "fifo": True})
    world.node("a").send("b", "m")
    world.network.send("a", "b", "m")
    world.env.run(until=2.0)
    world.set_default_link({"latency": "1ms"})  # a per-link override still wins
    world.node("a").send("b", "m")
    world.env.run(until=3.0)
    assert arrivals == pytest.approx([0.01, 1.1, 1.1, 2.1])


def test_message_fields_sit_where_the_delivery_reads_them_by_index() -> None:
    from sim.network import Message
    fields = Message._fields
    assert [fields.index(f) for f in ("kind", "size", "id", "copy")] == [2, 4, 5, 7]
