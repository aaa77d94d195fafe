"""Workload: operations issued at nodes at a rate, with a weighted mix of operation names.

Each operation picks a node (from ``nodes`` or all nodes, in sorted order) and an operation
name from the workload's own stream, then calls ``fn(node, op_name, rng)``. Operations that
land on a down node are skipped and counted (``metrics.ops_skipped``), not redirected, so the
offered load does not depend on faults.

>>> from sim.world import World
>>> w = World(seed=3, trace="off")
>>> _ = w.add_nodes("z", 3); w.connect_zones("z", "z")
>>> ops = []
>>> w.add_workload(Workload(lambda n, op, rng: ops.append(op), rate="20/s", mix={"inc": 1}))
>>> result = w.run(duration="1s")
>>> 5 < len(ops) < 50 and set(ops) == {"inc"}
True
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sim.errors import ConfigError
from sim.units import parse_rate

if TYPE_CHECKING:
    from sim.node import Node
    from sim.world import World

__all__ = ["OpFn", "Workload"]

OpFn = Callable[["Node", str, random.Random], None]


class Workload:
    """Issue operations at ``rate`` per second.

    ``mode="poisson"`` draws exponential inter-arrival times; ``mode="tick"`` issues
    ``rate * tick`` operations at each tick (fractions carried over).
    """

    def __init__(self, fn: OpFn, rate: Any, mix: Mapping[str, float] | Sequence[str] = ("op",),
                 nodes: Sequence[str] | None = None, mode: str = "poisson",
                 stream: str = "workload") -> None:
        self.fn = fn
        self.rate = parse_rate(rate, "workload.rate")
        if mode not in ("poisson", "tick"):
            raise ConfigError("workload.mode", "must be 'poisson' or 'tick'", mode)
        self.mode = mode
        weights = dict(mix) if isinstance(mix, Mapping) else dict.fromkeys(mix, 1.0)
        if not weights:
            raise ConfigError("workload.mix", "must name at least one operation", mix)
        for name, weight in weights.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                raise ConfigError(f"workload.mix.{name}", "must be a non-negative weight", weight)
        if sum(weights.values()) <= 0:
            raise ConfigError("workload.mix", "must have a positive total weight", weights)
        self.ops = list(weights)
        self._cumulative = list(itertools.accumulate(weights.values()))
        self.nodes = None if nodes is None else list(nodes)
        self.stream = stream
        self._active = False

    def validate(self, world: World) -> None:
        """Check that every node the workload names exists in ``world``."""
        for n in self.nodes or ():
            if not world.topology.has_node(n):
                raise ConfigError("workload.nodes", "must name known nodes", n)

    def start(self, world: World, duration: float) -> None:
        """Begin issuing now; stop after ``duration`` seconds or at :meth:`stop`."""
        self._world = world
        self._rng = world.rng(self.stream)
        self._targets = sorted(self.nodes) if self.nodes is not None else world.node_ids
        self._end = world.now + duration
        self._active = True
        self._carry = 0.0
        if self.rate <= 0 or not self._targets:
            return
        if self.mode == "poisson":
            self._next_poisson()
        else:
            self._on_tick()

    def stop(self) -> None:
        """Issue nothing more."""
        self._active = False

    def _next_poisson(self) -> None:
        gap = self._rng.expovariate(self.rate)
        if self._world.now + gap < self._end:
            self._world.schedule(gap, self._poisson_op)

    def _poisson_op(self) -> None:
        if self._active:
            self._issue()
            self._next_poisson()

    def _on_tick(self) -> None:
        if not self._active or self._world.now >= self._end:
            return
        self._carry += self.rate * self._world.tick
        count = int(self._carry)
        self._carry -= count
        for _ in range(count):
            self._issue()
        self._world.schedule(self._world.tick, self._on_tick)

    def _issue(self) -> None:
        world, rng = self._world, self._rng
        node = world.node(self._targets[rng.randrange(len(self._targets))])
        op = self.ops[bisect.bisect_right(self._cumulative, rng.random() * self._cumulative[-1])]
        if not node.up:
            world.metrics.ops_skipped += 1
            world.trace.record("skip", node=node.id, op=op)
            return
        world.metrics.ops_issued += 1
        world.trace.record("op", node=node.id, op=op)
        self.fn(node, op, rng)
