import pytest

from sim.errors import ConfigError
from sim.world import World


def world(n: int = 8, seed: int = 1) -> World:
    w = World(seed=seed)
    w.add_nodes("z", n)
    return w


@pytest.mark.parametrize(
    ("kind", "params", "degree"),
    [("ring", {}, 2), ("complete", {}, 7), ("random_regular", {"d": 3}, 3)],
)
def test_generators_give_expected_degrees(kind: str, params: dict, degree: int) -> None:
    w = world()
    w.connect("z", kind, **params)
    assert all(len(n.neighbours()) == degree for n in w.nodes)
    w.validate()


def test_random_generators_follow_the_seed() -> None:
    def edges(seed: int) -> list:
        w = world(30, seed)
        w.connect("z", "barabasi_albert", m=2)
        return sorted(w.topology.graph.edges())

    assert edges(1) == edges(1)
    assert edges(1) != edges(2)


def test_star_line_grid_watts_strogatz() -> None:
    w = world(9)
    w.connect("z", "grid", cols=3)
    assert w.node("z-5").neighbours() == ["z-2", "z-4", "z-6", "z-8"]
    w2 = world(9)
    w2.connect("z", "star")
    assert len(w2.node("z-1").neighbours()) == 8
    w3 = world(20)
    w3.connect("z", "watts_strogatz", k=4, p=0.2)
    w3.validate()


def test_neighbours_are_sorted_across_zone_channels() -> None:
    w = World(seed=1)
    w.add_nodes("b", 3)
    w.add_nodes("a", 2)
    w.connect_zones("a", "b")
    assert w.node("a-1").neighbours() == ["b-1", "b-2", "b-3"]
    assert w.node("b-2").neighbours() == ["a-1", "a-2"]


def test_self_link_unknown_node_disconnected_graph() -> None:
    w = world(4)
    with pytest.raises(ConfigError, match="must join two different nodes, found 'z-1-z-1'"):
        w.add_edges([("z-1", "z-1")])
    with pytest.raises(ConfigError, match="must name a known node, found 'ghost'"):
        w.add_edges([("z-1", "ghost")])
    w.add_edges([("z-1", "z-2"), ("z-3", "z-4")])
    with pytest.raises(ConfigError, match="disconnected") as info:
        w.run(duration="1s")
    assert info.value.param == "topology"


def test_unknown_generator_and_parameter() -> None:
    w = world(4)
    with pytest.raises(ConfigError, match="found 'hypercube'"):
        w.connect("z", "hypercube")
    with pytest.raises(ConfigError, match="found 'degree'"):
        w.connect("z", "random_regular", degree=2)


def test_undefined_channel_type_is_rejected_before_the_run() -> None:
    w = world(2)
    w.connect("z", "line", channel="lan")
    with pytest.raises(ConfigError, match="found 'lan'"):
        w.run(duration="1s")
