"""A replicated counter: increments at three replicas, through a partition and a crash.

Every replica ends with the same total, equal to the number of acknowledged increments.

    python examples/eventsourcing/counter.py [seed]
"""

from __future__ import annotations

import sys
from typing import Any

from sim.eventsourcing import Behavior, ReplicatedEntity
from sim.faults import Crash, Partition, Restart
from sim.workload import Workload
from sim.world import World

# Increments commute, so a plain sum is already a conflict-free (CRDT-like) state.
COUNTER = Behavior(
    initial=0,
    command_handler=lambda state, amount: [{"inc": amount}],
    event_handler=lambda state, event, ctx: state + event["inc"],
)


def run(seed: int = 1, journals: Any = None, loss: float = 0.1) -> dict[str, Any]:
    world = World(seed=seed, tick="100ms", default_link={"latency": "20ms", "loss": loss})
    nodes = world.add_nodes("dc", 3)
    world.connect(nodes, "complete")
    counter = ReplicatedEntity(world, nodes, "counter-1", COUNTER, journals=journals)
    world.add_workload(Workload(lambda node, op, rng: counter.command(node.id, 1), rate="10/s"))
    world.set_faults([
        Partition(at=0.5, groups=(("dc-1",), ("dc-2", "dc-3")), duration=1.0),
        Crash(at=1.0, node="dc-3"),
        Restart(at=2.0, node="dc-3"),
    ])
    result = world.run(duration="3s", quiet_max=300)
    return {
        "ok": result.ok,
        "checks": [c.message for c in result.checks],
        "acknowledged": sum(1 for r in counter.results if r.ok),
        "failed": sum(1 for r in counter.results if not r.ok),
        "totals": counter.states(),
        "entity": counter,
        "result": result,
    }


if __name__ == "__main__":
    out = run(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    print(f"ok={out['ok']} acknowledged increments={out['acknowledged']} totals={out['totals']}")
    for message in out["checks"]:
        print(" ", message)
    sys.exit(0 if out["ok"] else 1)
