import gc

import pytest

from sim.benchmarks.engine import bench_floor, bench_gossip, bench_network, compare
from sim.errors import ConfigError
from sim.world import GC_AUTO_NODES, World


def test_floor_and_engine_report_positive_rates() -> None:
    assert bench_floor(2000) > 0
    assert bench_floor(2000, width=100) > 0
    assert bench_network(2000, batch=100) > 0
    assert bench_network(500, batch=1) > 0
    assert bench_network(500, batch=100, trace="digest") > 0
    floor, engine, digest = compare(2000, in_flight=100, rounds=2)
    assert floor > 0 and engine > 0 and digest > 0


def test_gossip_bench_delivers_and_restores_gc() -> None:
    assert gc.isenabled()
    per_sim, build, delivered, maxrss = bench_gossip(50, 0.5, 4)
    assert delivered > 0 and per_sim > 0 and maxrss > 0
    assert gc.isenabled()


def _world(n: int, **kw: object) -> tuple[World, list[bool]]:
    world = World(seed=1, **kw)  # type: ignore[arg-type]
    world.add_nodes("z", n)
    world.connect("z", "ring")
    seen: list[bool] = []
    world.node("z-1").every(1, lambda: seen.append(gc.isenabled()))
    return world, seen


@pytest.mark.parametrize(("mode", "n", "enabled"), [
    ("on", 3, True), ("off", 3, False), ("auto", 3, True), ("auto", GC_AUTO_NODES, False),
])
def test_gc_mode_during_run_and_restored_after(mode: str, n: int, enabled: bool) -> None:
    world, seen = _world(n, gc=mode)
    assert world.run(duration="300ms").ok
    assert seen and set(seen) == {enabled}
    assert gc.isenabled()


def test_gc_is_restored_when_the_run_raises() -> None:
    world, _ = _world(3, gc="off")

    def boom() -> None:
        raise RuntimeError("boom")

    world.node("z-2").every(1, boom)
    with pytest.raises(RuntimeError):
        world.run(duration="1s")
    assert gc.isenabled()


def test_gc_mode_is_validated() -> None:
    with pytest.raises(ConfigError, match="gc must be one of"):
        World(gc="sometimes")


_EXIT_PROBE = """
import sys
from sim.world import World

class Probe:
    def __del__(self):
        print("collected", flush=True)

world = World(seed=1, gc=sys.argv[1])
world.add_nodes("z", 3)
world.connect("z", "ring")
world.run(duration="200ms")
probe = Probe()
probe.cycle = probe  # cyclic garbage: only a collection frees it
del probe
"""


@pytest.mark.parametrize(("mode", "collected"), [("on", True), ("off", False)])
def test_a_world_run_with_gc_off_is_left_to_the_os_at_exit(mode: str, collected: bool) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _EXIT_PROBE, mode], capture_output=True, text=True,
                         check=True).stdout
    assert ("collected" in out) is collected


def test_a_world_that_ran_before_and_is_garbage_is_freed_before_the_next_run_without_gc() -> None:
    """A sweep or a notebook runs world after world in one process: the last one, garbage
    by now (nodes and world refer to each other), must not stay through the next run."""
    import weakref

    first, _ = _world(3, gc="off")
    assert first.run(duration="200ms").ok
    gone = weakref.ref(first)
    del first
    second, _ = _world(3, gc="off")
    during: list[bool] = []
    second.schedule(0.05, lambda: during.append(gone() is None))
    assert second.run(duration="200ms").ok
    assert during == [True]
    assert gc.isenabled()
