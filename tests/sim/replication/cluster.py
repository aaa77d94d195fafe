"""A three-node cluster under loss, duplication, reordering, a partition and a crash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.faults import Crash, Partition, Restart
from sim.replication import DistributedData, KeySpec
from sim.replication.ddata import random_workload
from sim.runloop import RunResult
from sim.world import World

LOSSY = {"latency": {"exponential": {"mean": "30ms"}}, "loss": 0.2, "duplicate": 0.1}
FAULTS = [
    Partition(at=0.5, groups=(("dc-1",),), duration=1.0),
    Crash(at=1.0, node="dc-3"),
    Restart(at=1.8, node="dc-3"),
]


def faulty_cluster(
    keys: Mapping[str, KeySpec],
    seed: int,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    durable: bool = True,
    rate: str = "20/s",
) -> tuple[World, DistributedData]:
    world = World(seed=seed, tick="100ms", default_link=LOSSY)
    nodes = world.add_nodes("dc", 3)
    world.connect(nodes, "complete")
    dd = DistributedData(world, nodes, keys, protocol_options=options, durable=durable)
    world.add_workload(random_workload(dd, rate=rate))
    world.set_faults(FAULTS)
    return world, dd


def run_faulty(world: World) -> RunResult:
    return world.run(duration="3s", quiet_max=300)


def failed(result: RunResult) -> list[str]:
    return [c.name for c in result.checks if not c.ok]
