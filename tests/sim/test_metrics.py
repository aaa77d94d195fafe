from sim_helpers import pair


def test_counters_by_link_node_kind_and_tick() -> None:
    world, _ = pair({"latency": "10ms"}, tick="100ms")
    world.node("b").on_message("big", lambda m: None)
    world.schedule(0.05, lambda: world.node("a").send("b", "m", None, 10))
    world.schedule(0.15, lambda: world.node("a").send("b", "big", None, 1000))
    world.schedule(0.15, lambda: world.node("b").send("a", "m", None, 10))
    m = world.run(duration="1s").metrics
    assert (m["sent"], m["delivered"], m["bytes_sent"]) == (3, 3, 1020)
    assert m["per_kind"]["big"]["bytes_sent"] == 1000
    assert m["per_link"] == {}  # a zone channel: counted per node (see sim.metrics)
    assert m["per_node"]["a"] == {"sent": 2, "bytes_sent": 1010, "received": 1,
                                  "bytes_received": 10}
    assert m["per_node"]["b"] == {"sent": 1, "bytes_sent": 10, "received": 2, "bytes_received": 1010}
    sent_per_tick = [row["sent"] for row in m["per_tick"]]
    assert sent_per_tick[:3] == [0, 1, 2]


def test_links_of_their_own_count_per_link() -> None:
    world, _ = pair({"latency": "10ms", "fifo": True})
    world.schedule(0.05, lambda: world.node("a").send("b", "m", None, 10))
    m = world.run(duration="1s").metrics
    assert m["per_link"]["a->b"]["sent"] == 1 and m["per_link"]["a->b"]["bytes_delivered"] == 10
    assert m["per_node"]["b"]["received"] == 1


def test_kind_totals_sum_link_and_node_counters() -> None:
    from sim.metrics import Metrics
    m = Metrics()
    link = m.kind("m")
    link.sent += 1
    link.bytes_sent += 5
    a, b = m.node_kind("a", "m"), m.node_kind("b", "m")
    a.sent += 2
    a.bytes_sent += 20
    b.delivered += 2
    b.bytes_delivered += 20
    m.node_kind("a", "g").sent += 1  # a kind no link has sent
    assert (m.sent, m.bytes_sent, m.delivered, m.bytes_delivered) == (4, 25, 2, 20)
    assert m.kinds["m"].to_data() == {"sent": 3, "bytes_sent": 25, "delivered": 2,
                                      "bytes_delivered": 20}
    assert sorted(m.kinds) == ["g", "m"] and m.kinds["g"].sent == 1
    assert m.per_node()["b"] == {"sent": 0, "bytes_sent": 0, "received": 2, "bytes_received": 20}
