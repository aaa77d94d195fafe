"""``crdtsim bench replication``: bytes on the wire per protocol (Enes et al., ICDE 2019, §V).

Two 15-node topologies: a partial mesh where every node has 4 neighbours, and a tree. Every
node performs one update per second for 100 updates and every node synchronises once per
second. Two workloads: a grow-only set where each update adds a unique element, and a map of
1,000 keys where each update writes 10 % of them (an LWWMap stands in for the paper's GMap).

Protocols: state-based (every node pushes its full state to every neighbour that does not
already hold it, once per second), classic delta (no optimisation), delta with BP+RR, and
op-based (reliable causal broadcast). Bytes are the canonical encodings counted by the
network, with a fixed per-message header; each row prints its ratio to state-based.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from typing import Any

from crdt.gset import GSet
from crdt.lwwmap import LWWMap
from sim.replication import DistributedData, KeySpec
from sim.world import World

NODES = 15
UPDATES = 100

PROTOCOLS: list[tuple[str, str, dict[str, Any]]] = [
    ("state-based", "state", {"mode": "push", "fanout": 4}),
    ("delta (classic)", "delta", {"bp": False, "rr": False}),
    ("delta + BP + RR", "delta", {"bp": True, "rr": True}),
    ("op-based", "op", {"retransmit": 2}),
]


def _tree_edges(nodes: list[str]) -> list[tuple[str, str]]:
    return [(nodes[(i - 1) // 2], nodes[i]) for i in range(1, len(nodes))]


def _update(dd: DistributedData, workload: str, node: str, step: int, keys: int) -> None:
    replicator = dd.replicator(node)
    if workload == "gset":
        replicator.update("data", GSet, lambda s: s.add(f"{node}/{step}"))
        return
    stamp = float(step)
    # 10 % of the keys, spread so that nodes and steps touch different ones.
    chosen = [(step * 31 + int(node.split("-")[1]) * 97 + i * 10) % keys for i in range(keys // 10)]

    def write(m: Any) -> None:
        for key in chosen:
            m.set(key, step, stamp)

    replicator.update("data", LWWMap, write)


def measure(topology: str, workload: str, protocol: str, options: dict[str, Any], keys: int = 1000) -> dict[str, Any]:
    world = World(seed=1, tick="1s", trace="off", default_link={"latency": "10ms"})
    nodes = world.add_nodes("n", NODES)
    if topology == "mesh":
        world.connect(nodes, "random_regular", d=4)
    else:
        world.add_edges(_tree_edges(nodes))
    type_ = GSet if workload == "gset" else LWWMap
    dd = DistributedData(world, nodes, {"data": KeySpec(type_, protocol)}, protocol_options={protocol: options})
    for step in range(UPDATES):
        for node in nodes:
            # Half a tick after each sync, so one update falls between two synchronisations.
            world.schedule(step + 0.5, partial(_update, dd, workload, node, step, keys))
    result = world.run(duration=f"{UPDATES}s", quiet_max=200)
    return {
        "ok": result.ok,
        "bytes": result.metrics["bytes_sent"],
        "messages": result.metrics["sent"],
    }


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="crdtsim bench replication", description=__doc__)
    parser.add_argument("--workload", choices=["gset", "gmap", "both"], default="both")
    args = parser.parse_args(list(argv))
    workloads = ["gset", "gmap"] if args.workload == "both" else [args.workload]
    failures = 0
    for workload in workloads:
        for topology in ("mesh", "tree"):
            print(f"\n{workload} on a 15-node {topology} ({UPDATES} updates per node, sync every second)")
            print(f"{'protocol':<18} {'bytes':>14} {'messages':>10} {'vs state':>9}  converged")
            baseline = None
            for label, protocol, options in PROTOCOLS:
                row = measure(topology, workload, protocol, options)
                baseline = baseline or row["bytes"]
                failures += not row["ok"]
                ratio = row["bytes"] / baseline
                print(f"{label:<18} {row['bytes']:>14,} {row['messages']:>10,} {ratio:>9.3f}  {row['ok']}", flush=True)
    return 1 if failures else 0
