"""Random mutations for every kind of CRDT type, for workloads: what a user of each kind would do.

A generator is a function of (current state, node, random stream) returning the mutation's
name and its arguments after the replica id. Elements come from a small pool so that replicas
touch the same elements concurrently; LWW timestamps are the node's local (possibly skewed)
clock.

>>> import random
>>> from crdt import GCounter
>>> from sim.world import World
>>> w = World(seed=1); node = w.add_node("n1", "z")
>>> random_mutation(GCounter(), node, random.Random(4))
('increment', (1,))
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crdt import CausalCounter, Crdt

if TYPE_CHECKING:
    from sim.node import Node

__all__ = ["random_mutation", "ELEMENTS"]

#: the element pool of sets, map keys and register values
ELEMENTS = ("apple", "bread", "cheese", "dates", "eggs", "figs")

Generator = Callable[[Any, "Node", random.Random], tuple[str, tuple[Any, ...]]]


def _counter(state: Any, node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    if "decrement" in state.operations and rng.random() < 0.3:
        return "decrement", (rng.randint(1, 3),)
    return "increment", (rng.randint(1, 3),)


def _set(state: Any, node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    present = sorted(state.value(), key=repr)
    if present and "remove" in state.operations and rng.random() < 0.35:
        return "remove", (rng.choice(present),)
    return "add", (rng.choice(ELEMENTS),)


def _grow_only_set(state: Any, node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    # Re-adding a present element changes nothing, so a small pool would soon stop the traffic.
    return "add", (f"{node.id}:{rng.randrange(10**9)}",)


def _two_phase_set(state: Any, node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    # A removed element can never return, so adds use fresh elements and removes present ones.
    present = sorted(state.value(), key=repr)
    if present and rng.random() < 0.35:
        return "remove", (rng.choice(present),)
    return "add", (f"{node.id}:{rng.randrange(10**9)}",)


def _lww_register(state: Any, node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    return "set", (rng.choice(ELEMENTS), round(node.local_time(), 9))


def _multi_value_register(state: Any, node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    return "set", (rng.choice(ELEMENTS),)


def _lww_map(state: Any, node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    key, stamp = rng.choice(ELEMENTS[:3]), round(node.local_time(), 9)
    if rng.random() < 0.3:
        return "delete", (key, stamp)
    return "set", (key, rng.randint(0, 99), stamp)


def _flag(state: Any, node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    return ("enable" if rng.random() < 0.5 else "disable"), ()


def _or_map(state: Any, node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    key = rng.choice(ELEMENTS[:3])
    if key in state.value() and rng.random() < 0.3:
        return "remove", (key,)
    return "update", (key, CausalCounter.type_name, "increment", rng.randint(1, 3))


#: one generator per kind of type (crdt.registry.KINDS); a type is driven by its kind
_GENERATORS: dict[str, Generator] = {
    "counter": _counter,
    "grow-only set": _grow_only_set,
    "observed-remove set": _set,
    "two-phase set": _two_phase_set,
    "lww register": _lww_register,
    "multi-value register": _multi_value_register,
    "lww map": _lww_map,
    "flag": _flag,
    "map of crdts": _or_map,
}


def random_mutation(state: Crdt[Any], node: Node, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    """A plausible mutation of ``state`` at ``node``: (name, args after the replica id)."""
    generator = _GENERATORS.get(state.kind)
    if generator is None:
        raise KeyError(f"no random workload for {state.type_name} of kind {state.kind!r}; known: {sorted(_GENERATORS)}")
    return generator(state, node, rng)
