"""A hunt target for every registered broken variant: one key of the kind that exposes it,
three replicas, a few writes, rare faults (the scenario a random sweep is compared on).

>>> target_scenario("first-writer-wins")["data"]
{'variant': 'first-writer-wins', 'keys': {'k': {'type': 'LWWRegister', 'protocol': 'state'}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.replication.variants import variant

__all__ = ["UNBUNDLED", "target_scenario"]

#: variants without a bundled target in scenarios/hunt/, and why: every bundled scenario runs at
#: its own seed as a test of what it shows, and these make the run die instead of failing a check
UNBUNDLED = {
    "unrouted-requests": "its first majority write makes the run die (the engine refuses a message "
                         "to a node it has no link to): `crdtsim run` exits 2 with that error, and "
                         "a hunt reports the failing check `error`",
}


def target_scenario(name: str, nemesis_rate: float = 0.03) -> dict[str, Any]:
    """The plain-data scenario that hunts variant ``name`` (see ``scenarios/hunt/``)."""
    v = variant(name)
    return _merged({
        "name": f"hunt-{name}",
        "description": f"hunt target: {v.description}",
        "seed": 1,
        "tick": "100ms",
        "duration": "3s",
        "quiet_max": 100,
        "zones": {"dc": 3},
        "links": {"default": {"latency": {"exponential": {"mean": "20ms", "min": "1ms"}}}},
        "data": {"variant": name, "keys": {"k": dict(v.target)}},
        "workload": {"rate": "2/s"},
        "nemesis": {"rate": nemesis_rate, "kinds": ["partition", "crash", "loss_burst"], "mean_fault": "500ms"},
        "hunt": {"faults": {"max": 3, "longest": "1s"}, "writes": {"max": 8}},
    }, v.scenario)


def _merged(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` on top, mappings merged key by key."""
    out = dict(base)
    for key, value in patch.items():
        out[key] = _merged(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out
