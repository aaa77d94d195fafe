"""An auction replicated at three sites: the highest bid wins, ties go to the earlier bid (then
the smaller replica id), and the auction closes only once every replica has seen every bid.

Closing follows Akka's replicated auction: a replica asked to close persists a ``finish``
marker and stops accepting bids; every replica that sees a marker persists its own. A replica's
marker comes after all of its bids in its event stream, and a replica holds each origin's events
in order, so once it holds the markers of all replicas it holds every bid: only then is the
auction ``closed`` and the winner final, the same at every replica.

    python examples/eventsourcing/auction.py
"""

from __future__ import annotations

import sys
from typing import Any

from sim.eventsourcing import Behavior, EventContext, ReplicatedEntity
from sim.faults import Partition
from sim.world import World


def initial(replicas: list[str]) -> dict[str, Any]:
    return {"replicas": sorted(replicas), "best": None, "finished": [], "closed": False}


def decide(state: dict[str, Any], cmd: dict[str, Any], replica: str) -> list[Any]:
    if replica in state["finished"]:
        raise ValueError(f"the auction is closing at {replica}: no more bids")
    if cmd.get("close"):
        return [{"finish": replica}]
    return [{"bid": cmd["bidder"], "amount": cmd["amount"]}]


def beats(bid: list[Any], best: list[Any] | None) -> bool:
    """[amount, timestamp, replica, bidder]: more money wins, then the earlier bid, then the id."""
    return best is None or (-bid[0], bid[1], bid[2]) < (-best[0], best[1], best[2])


def apply(state: dict[str, Any], event: dict[str, Any], ctx: EventContext) -> dict[str, Any]:
    if "finish" in event:
        finished = sorted({*state["finished"], event["finish"]})
        return {**state, "finished": finished, "closed": finished == state["replicas"]}
    bid = [event["amount"], ctx.timestamp, ctx.origin, event["bid"]]
    return {**state, "best": bid} if beats(bid, state["best"]) else state


def run(seed: int = 1) -> dict[str, Any]:
    world = World(seed=seed, tick="100ms", default_link={"latency": "20ms", "loss": 0.1})
    nodes = world.add_nodes("site", 3)
    world.connect(nodes, "complete")
    auction = ReplicatedEntity(world, nodes, "auction-1", Behavior(initial(nodes), decide, apply, with_replica=True))

    for node in nodes:
        def follow(n: str = node) -> None:  # join the close as soon as a marker is seen
            state = auction.replica(n).state
            if state["finished"] and n not in state["finished"]:
                auction.command(n, {"close": True})
        world.node(node).every(1, follow)

    bids = [(0.1, "site-1", "ann", 10), (0.3, "site-2", "bob", 12), (0.6, "site-3", "cat", 15),
            (0.7, "site-2", "dan", 15), (0.9, "site-2", "eve", 14), (1.1, "site-3", "fay", 16)]
    for at, node, bidder, amount in bids:
        world.schedule(at, lambda n=node, b=bidder, a=amount: auction.command(n, {"bidder": b, "amount": a}))
    world.schedule(1.0, lambda: auction.command("site-1", {"close": True}))
    world.set_faults([Partition(at=0.5, groups=(("site-1",), ("site-2", "site-3")), duration=1.0)])
    result = world.run(duration="3s", quiet_max=200)
    accepted = [r for r in auction.results if r.ok and r.events and "bid" in r.events[0].payload]
    return {"ok": result.ok, "checks": [c.message for c in result.checks], "entity": auction,
            "closed": {n: s["closed"] for n, s in auction.states().items()},
            "winner": {n: s["best"][3] if s["best"] else None for n, s in auction.states().items()},
            "accepted_bids": [(r.command["bidder"], r.command["amount"]) for r in accepted]}


if __name__ == "__main__":
    out = run(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    print(f"ok={out['ok']} closed={out['closed']} winner={out['winner']} bids={out['accepted_bids']}")
    sys.exit(0 if out["ok"] else 1)
