"""The gossip-1000 workload in happysim, for a paired whole-process comparison.

1,000 nodes each increment a GCounter once at t=0 and gossip by push-pull (happysim's
CRDTStore: full state to one random peer, which merges and answers with its own) every 0.1 s,
over links with exponential latency (mean 10 ms) and 10 % loss, until every node holds the
total. happysim needs Python >= 3.13, so run this in a venv of its own:

    python3.13 -m venv /tmp/peer && /tmp/peer/bin/pip install happysim==0.2.5
    /usr/bin/time -v /tmp/peer/bin/python benchmarks/peers/happysim_gossip.py
    /usr/bin/time -v .venv/bin/crdtsim run gossip-1000 --json

and compare user + system CPU time and maximum resident set size, alternating the two a few
times and taking medians. The script prints the simulated convergence time and the events
processed; it exits 1 if the nodes did not converge within --until simulated seconds.
"""

from __future__ import annotations

import argparse
import random
import sys

from happysimulator import Event, Instant, Simulation
from happysimulator.components.crdt import CRDTStore, GCounter
from happysimulator.components.network.link import NetworkLink
from happysimulator.components.network.network import Network
from happysimulator.core.callback_entity import CallbackEntity
from happysimulator.core.control.breakpoints import ConditionBreakpoint
from happysimulator.distributions.exponential import ExponentialLatency


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--until", type=float, default=60.0, help="simulated seconds at most")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    random.seed(args.seed)  # happysim draws peers, latencies and losses from the global RNG

    network = Network("net")
    stores = [CRDTStore(f"n-{i}", network=network, crdt_factory=GCounter, gossip_interval=0.1)
              for i in range(1, args.nodes + 1)]
    for store in stores:
        store.add_peers([s for s in stores if s is not store])
    # A link routes to one destination, so a complete graph needs one per ordered pair.
    for i, a in enumerate(stores):
        for b in stores[i + 1:]:
            link = NetworkLink(f"{a.name}-{b.name}", latency=ExponentialLatency(0.010), packet_loss_rate=0.1)
            network.add_bidirectional_link(a, b, link)
    state = {"converged_at": None}

    def check(event: Event) -> Event | None:
        crdts = (s.crdts.get("total") for s in stores)
        if all(c is not None and c.value == args.nodes for c in crdts):
            state["converged_at"] = event.time.to_seconds()
            return None
        return Event(time=Instant.from_seconds(event.time.to_seconds() + 0.1), event_type="Check",
                     target=checker, daemon=True)

    checker = CallbackEntity("checker", check)
    sim = Simulation(entities=[network, *stores, checker], end_time=Instant.from_seconds(args.until))
    writes = [Event(time=Instant.from_seconds(0.0), event_type="Write", target=s,
                    context={"metadata": {"key": "total", "operation": "increment", "value": 1}})
              for s in stores]
    sim.schedule(writes)
    sim.schedule([e for s in stores if (e := s.get_gossip_event()) is not None])
    sim.schedule(Event(time=Instant.from_seconds(0.1), event_type="Check", target=checker, daemon=True))
    sim.control.add_breakpoint(ConditionBreakpoint(lambda _ctx: state["converged_at"] is not None,
                                                   "converged"))
    summary = sim.run()
    print(f"nodes {args.nodes}  converged at {state['converged_at']}  events {summary.total_events_processed}")
    return 0 if state["converged_at"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
