import pytest

from sim.errors import ConfigError
from sim.faults import Crash
from sim.workload import Workload
from sim.world import World


def build(mode: str, seed: int = 1) -> tuple[World, list[tuple[str, str]]]:
    w = World(seed=seed, trace="off")
    w.add_nodes("z", 4)
    w.connect_zones("z", "z")
    ops: list[tuple[str, str]] = []
    w.add_workload(Workload(lambda n, op, rng: ops.append((n.id, op)), rate="100/s",
                            mix={"read": 3, "write": 1}, mode=mode))
    return w, ops


@pytest.mark.parametrize("mode", ["poisson", "tick"])
def test_rate_and_mix(mode: str) -> None:
    w, ops = build(mode)
    w.run(duration="10s")
    assert len(ops) == pytest.approx(1000, rel=0.1)
    reads = sum(op == "read" for _, op in ops)
    assert reads / len(ops) == pytest.approx(0.75, abs=0.05)
    assert {n for n, _ in ops} == set(w.node_ids)


def test_ops_on_down_nodes_are_skipped_and_counted() -> None:
    w, ops = build("poisson")
    w.set_faults([Crash(0, "z-1")])
    r = w.run(duration="10s")
    assert "z-1" not in {n for n, _ in ops}
    assert r.metrics["ops_skipped"] == pytest.approx(250, rel=0.25)
    assert r.metrics["ops_issued"] == len(ops)


def test_bad_workloads() -> None:
    with pytest.raises(ConfigError, match="found -1"):
        Workload(lambda n, o, r: None, rate=1, mix={"a": -1})
    with pytest.raises(ConfigError, match="found 'burst'"):
        Workload(lambda n, o, r: None, rate=1, mode="burst")
    w, _ = build("tick")
    with pytest.raises(ConfigError, match="found 'ghost'"):
        w.add_workload(Workload(lambda n, o, r: None, rate=1, nodes=["ghost"]))
