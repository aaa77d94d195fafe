"""The bounds that keep reading and running a scenario feasible, and how to raise them.

Every bound is checked before anything is built; an infeasible scenario is refused with the
figure that made it so and the bound, never by running out of time or memory. A user who
legitimately needs more raises one bound explicitly: ``crdtsim run big.yaml --limit nodes=500000``
(or ``Limits().raised(nodes=500_000)`` in Python).

>>> Limits().nodes
100000
>>> Limits.parse(["nodes=500000", "ticks=2e6"]).ticks
2000000
>>> Limits.parse(["node=1"])
Traceback (most recent call last):
...
sim.errors.SimError: unknown limit 'node' in --limit node=1; expected one of file_bytes, yaml_depth, \
yaml_values, nodes, links, ticks, node_ticks, operations, messages, faults
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from sim.errors import SimError

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Upper bounds on a scenario's file and on the size of its run (see ``docs/scenarios.md``)."""

    #: bytes of the scenario file
    file_bytes: int = 1 << 20
    #: nesting depth of the YAML document
    yaml_depth: int = 40
    #: YAML values once aliases are expanded
    yaml_values: int = 100_000
    #: simulated nodes, over all zones (the bundled gossip-100k runs at the bound)
    nodes: int = 100_000
    #: links the topology materializes (a complete graph of n nodes has n(n-1)/2)
    links: int = 1_000_000
    #: ticks of a run: (warmup + duration) / tick, plus quiet_max
    ticks: int = 1_000_000
    #: nodes x ticks: every up node runs its periodic tasks once per tick
    node_ticks: int = 20_000_000
    #: operations the workloads issue: rate x duration, summed over workloads, entities and the app
    operations: int = 1_000_000
    #: messages estimated up front: each operation reaches each replica, each gossip round sends
    messages: int = 20_000_000
    #: scheduled faults, including the nemesis' expected rate x duration
    faults: int = 10_000

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def raised(self, **bounds: int) -> Limits:
        """These limits with some bounds replaced."""
        return dataclasses.replace(self, **bounds)

    @classmethod
    def parse(cls, options: Iterable[str], base: Limits | None = None) -> Limits:
        """Limits from ``NAME=VALUE`` options (``--limit nodes=50000``) over ``base``."""
        bounds: dict[str, int] = {}
        for option in options:
            name, sep, text = option.partition("=")
            name = name.strip()
            if name not in cls.names():
                raise SimError(f"unknown limit {name!r} in --limit {option}; expected one of {', '.join(cls.names())}")
            try:
                value = float(text) if sep else float("nan")
            except ValueError:
                value = float("nan")
            if not sep or value != value or value < 1 or value > 1e15 or value != int(value):
                raise SimError(f"bad --limit {option}: expected {name}=N with N a positive whole number")
            bounds[name] = int(value)
        return (base or cls()).raised(**bounds)


DEFAULT_LIMITS = Limits()
