"""``crdtsim bench scale``: how the cost of a run grows with the number of nodes.

Each size runs in a fresh process (so peak memory is that run's own) the ``gossip-1000``
workload with the node count changed: every node increments a GCounter once at t=0 and state
gossip spreads it by push-pull to one random peer per 0.1 s tick until converged. Printed per
size: CPU seconds of the run (``time.process_time`` around ``World.run``, building excluded),
the process's peak memory, messages delivered, CPU per delivered message, and that figure's
growth against the smallest size (the issue's goal: at most 2x from 100 to 1,000 nodes).

``--workload orset`` runs delta ORSet replication instead (a random 4-regular graph, every
node adds two elements a second for 2 s), whose CPU per message should stay flat too.
``--workload gset`` runs the bundled ``gossip-100k`` (one GSet element spread by rumour
mongering and anti-entropy) at 1,000, 10,000 and 100,000 nodes by default.

Wall-clock and CPU time are read here, and only here, to time runs from outside.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from collections.abc import Sequence
from typing import Any

from sim.cli import bundled
from sim.scenario import Scenario, run_scenario

__all__ = ["main", "measure", "scenario_for"]

#: workload -> the bundled scenario it runs at each size
BASES = {"gcounter": "gossip-1000", "gset": "gossip-100k"}
DEFAULT_SIZES = {"gcounter": "100,300,1000", "gset": "1000,10000,100000", "orset": "10,30,100,300"}


def scenario_for(workload: str, nodes: int) -> Scenario:
    """The benchmark's scenario for ``workload`` ("gcounter", "gset" or "orset") at ``nodes``
    nodes."""
    if workload in BASES:
        base = Scenario.from_yaml(bundled()[BASES[workload]])
        data = {**base.data, "name": f"{base.name}-at-{nodes}", "zones": {"n": nodes}}
        return Scenario.from_data(data)
    return Scenario.from_data({
        "name": f"delta-orset-{nodes}", "seed": 1, "tick": "100ms", "duration": "2s", "quiet_max": 600,
        "zones": {"n": nodes},
        "topology": [{"zone": "n", "kind": "random_regular", "params": {"d": 4}}],
        "links": {"default": {"latency": {"exponential": {"mean": "10ms"}}}},
        "data": {"protocol": "delta", "keys": {"set": "ORSet"}},
        "workload": {"rate": f"{2 * nodes}/s"},
    })


def measure(workload: str, nodes: int) -> dict[str, Any]:
    """Run one size in this process: CPU s, peak RSS MB, messages delivered, ok."""
    scenario = scenario_for(workload, nodes)
    start = time.process_time()
    run = run_scenario(scenario)
    cpu = time.process_time() - start
    result = run.result
    assert result is not None
    return {
        "nodes": nodes, "cpu": cpu, "ok": result.ok,
        "delivered": int(result.metrics["delivered"]),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _measure_args(args: tuple[str, int]) -> dict[str, Any]:
    return measure(*args)


def measure_fresh(workload: str, nodes: int) -> dict[str, Any]:
    """:func:`measure` in a fresh process of its own (peak memory is this run's)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measure_args, ((workload, nodes),))


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="crdtsim bench scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=["gcounter", "gset", "orset"], default="gcounter")
    parser.add_argument("--nodes", default=None,
                        help="comma-separated sizes (default 100,300,1000 for gcounter; 1000,10000,100000 "
                             "for gset; 10,30,100,300 for orset)")
    args = parser.parse_args(list(argv))
    sizes = [int(s) for s in (args.nodes or DEFAULT_SIZES[args.workload]).split(",") if s.strip()]
    what = {"gcounter": "GCounter state gossip (gossip-1000 at each size)",
            "gset": "one GSet element by rumour mongering and anti-entropy (gossip-100k at each size)",
            "orset": "delta ORSet, random 4-regular graph, 2 adds per node per second for 2 s"}[args.workload]
    print(f"{what}; each size in a fresh process")
    print(f"{'nodes':>8} {'CPU s':>8} {'peak MB':>8} {'messages':>10} {'CPU us/msg':>10} {'growth':>7}  ok")
    first = None
    failures = 0
    for n in sizes:
        row = measure_fresh(args.workload, n)
        per = row["cpu"] / max(row["delivered"], 1) * 1e6
        first = first or per
        failures += not row["ok"]
        print(f"{n:>8} {row['cpu']:>8.2f} {row['peak_mb']:>8.1f} {row['delivered']:>10,} {per:>10.1f} "
              f"{per / first:>6.2f}x  {row['ok']}", flush=True)
    print(f"growth: CPU per delivered message against {sizes[0]} nodes, measured in this run")
    return 1 if failures else 0
