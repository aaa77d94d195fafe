"""Random partitions, crashes, clock changes and loss bursts over lossy, duplicating links:
no acknowledged event is lost, every journal ends with the same events, every replica with
the same state (the entity's check asserts all three; the tests restate the key facts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from es_cluster import cluster, failures

from sim.eventsourcing import Behavior, sqlite_journals
from sim.faults import random_schedule

LOSSY = {"latency": {"exponential": {"mean": "40ms"}}, "loss": 0.2, "duplicate": 0.1}
# Appending to a tuple does not commute: only a global fold order makes replicas agree.
LOG = Behavior((), lambda s, cmd: [cmd], lambda s, e, ctx: (*s, (e, ctx.origin, ctx.concurrent)))


def run_random(seed: int, n: int = 3, write_latency: float = 0.0, journals: object = None) -> None:
    world, entity = cluster(seed, behavior=LOG, n=n, link=LOSSY, write_latency=write_latency,
                            journals=journals)  # type: ignore[arg-type]
    counter = iter(range(10**6))
    nodes = world.node_ids

    def op() -> None:
        if world.now >= 2.0:
            return  # the workload phase is over
        rng = world.rng("es-ops")
        node = nodes[rng.randrange(len(nodes))]
        if world.node(node).up:
            entity.command(node, next(counter))
        world.schedule(rng.expovariate(15.0), op)

    world.schedule(0.0, op)
    world.set_faults(random_schedule(world, "2s", rate=2.0, mean_fault=0.5, max_down=n - 1))
    result = world.run(duration="2s", quiet_max=400)
    assert result.ok, (seed, failures(result))
    acked = {e.id for e in entity.acknowledged}
    states = entity.states()
    assert len(states) == n and all(s == states[nodes[0]] for s in states.values())
    for node in nodes:
        held = {e.id for e in entity.replica(node).journal_or_fail().read("e-1")}
        assert acked <= held and len(held) == len(states[node])


@pytest.mark.parametrize("seed", range(200))
def test_random_faults_lose_nothing_and_converge(seed: int) -> None:
    run_random(seed, n=3 + seed % 2, write_latency=0.03 if seed % 3 == 0 else 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_random_faults_with_sqlite_journals(seed: int, tmp_path: Path) -> None:
    run_random(1000 + seed, journals=sqlite_journals(tmp_path))
