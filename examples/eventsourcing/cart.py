"""A shopping cart edited concurrently at two replicas: add, remove an item, change quantity.

The state is a CRDT (:class:`crdt.ormap.ORMap` of item -> :class:`crdt.causalcounter.CausalCounter`):
events are its operations, so concurrent edits commute. Removing an item deletes the quantity
the remover had seen; a concurrent add of the same item survives (add wins), and concurrent
quantity changes add up.

    python examples/eventsourcing/cart.py
"""

from __future__ import annotations

import sys
from typing import Any

from crdt.ormap import ORMap
from sim.eventsourcing import CrdtState, ReplicatedEntity
from sim.faults import Partition
from sim.world import World

CART = CrdtState(ORMap)


def handle(cart: ORMap, cmd: dict[str, Any], replica: str) -> list[Any]:
    """The command handler: a CRDT operation prepared at ``replica``, as the event payload."""
    item = cmd["item"]
    payload: Any
    if cmd["op"] == "add":
        payload = CART.prepare(cart, "update", replica, item, "CausalCounter", "increment", cmd.get("qty", 1))
    elif cmd["op"] == "remove" or cmd["qty"] <= 0:
        payload = CART.prepare(cart, "remove", replica, item)
    else:  # "set": change the quantity to cmd["qty"] by the difference
        diff = cmd["qty"] - cart.value().get(item, 0)
        name = "increment" if diff > 0 else "decrement"
        payload = CART.prepare(cart, "update", replica, item, "CausalCounter", name, abs(diff)) if diff else None
    return [] if payload is None else [payload]


def run(seed: int = 1) -> dict[str, Any]:
    world = World(seed=seed, tick="100ms", default_link={"latency": "20ms", "loss": 0.1})
    nodes = world.add_nodes("shop", 2)
    world.connect(nodes, "complete")
    cart = ReplicatedEntity(world, nodes, "cart-1", CART.behavior(handle))

    script = [
        (0.1, "shop-1", {"op": "add", "item": "apple", "qty": 2}),
        (0.2, "shop-1", {"op": "add", "item": "pear"}),
        # partitioned from 0.5 s to 1.5 s: concurrent edits
        (0.6, "shop-1", {"op": "remove", "item": "apple"}),
        (0.7, "shop-2", {"op": "add", "item": "apple", "qty": 1}),  # concurrent re-add: survives
        (0.8, "shop-1", {"op": "set", "item": "pear", "qty": 3}),   # +2
        (0.9, "shop-2", {"op": "set", "item": "pear", "qty": 4}),   # +3, concurrent: both count
        (1.0, "shop-2", {"op": "add", "item": "milk"}),
        (2.0, "shop-1", {"op": "remove", "item": "milk"}),          # after the heal: saw the add
    ]
    for at, node, cmd in script:
        world.schedule(at, lambda n=node, c=cmd: cart.command(n, c))
    world.set_faults([Partition(at=0.5, groups=(("shop-1",), ("shop-2",)), duration=1.0)])
    result = world.run(duration="3s", quiet_max=200)
    return {"ok": result.ok, "checks": [c.message for c in result.checks],
            "carts": {n: s.value() for n, s in cart.states().items()}, "entity": cart}


if __name__ == "__main__":
    out = run(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    print(f"ok={out['ok']} carts={out['carts']}")
    sys.exit(0 if out["ok"] else 1)
