"""A small cluster under loss, duplication, reordering, a partition and a crash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sim.faults import Crash, Fault, Partition, Restart
from sim.replication import DistributedData, KeySpec
from sim.replication.consistency import Consistency
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
    *,
    nodes: int = 3,
    topology: str = "complete",
    link: Mapping[str, Any] = LOSSY,
    faults: Sequence[Fault] = FAULTS,
    write: Consistency | None = None,
    read: Consistency | None = None,
    reads: float = 0.0,
    writers: Sequence[str] | None = None,
    **group: Any,
) -> tuple[World, DistributedData]:
    """``nodes`` replicas in ``topology``; ``writers`` (default all) run the workload, and
    ``group`` goes to :class:`DistributedData` (e.g. ``route_requests=False``)."""
    world = World(seed=seed, tick="100ms", default_link=dict(link))
    ids = world.add_nodes("dc", nodes)
    world.connect(ids, topology)
    dd = DistributedData(world, ids, keys, protocol_options=options, durable=durable, **group)
    world.add_workload(random_workload(dd, rate=rate, nodes=writers, write=write, read=read, reads=reads))
    world.set_faults(list(faults))
    return world, dd


def run_faulty(world: World) -> RunResult:
    return world.run(duration="3s", quiet_max=300)


def failed(result: RunResult) -> list[str]:
    return [c.name for c in result.checks if not c.ok]
