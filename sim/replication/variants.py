"""Deliberately broken variants of the replication protocols and types, selectable by name.

A check is only as good as the bug it is shown to catch. Each variant here is wrong in a way
real implementations have been; a scenario selects one with ``data: {variant: NAME}``, the
tests assert the checks catch it, and ``crdtsim hunt`` searches for a schedule that exposes it.
A variant is a small switch: protocol options merged over the scenario's ``data.options``,
arguments of :class:`~sim.replication.ddata.DistributedData` the scenario cannot set (``group``),
and/or a CRDT type replaced by a broken subclass. Adding one is one :func:`register_variant`
call; the hunt benchmark picks every registered variant up by name.

>>> v = variant("op-unreliable")
>>> v.options, v.target
({'op': {'reliable': False}}, {'type': 'ORSet', 'protocol': 'op'})
>>> sorted(VARIANTS)[:2]
['cut-off-replicas', 'delta-acausal']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crdt import Crdt, GCounter
from crdt.codec import register
from crdt.lwwregister import LWWRegister
from sim.errors import ConfigError

__all__ = ["FirstWriterWins", "SummingCounter", "VARIANTS", "Variant", "register_variant", "variant"]


@register(listed=False)  # decodable, but it stands in for a library type rather than being offered
class SummingCounter(GCounter):
    """Broken: merge adds counts instead of taking their maximum, so it is not idempotent."""

    type_name = "SummingCounter"

    def merge(self, other: GCounter) -> GCounter:  # type: ignore[override]
        keys = sorted(self.counts.keys() | other.counts.keys())
        return self._of({k: self.get(k) + other.get(k) for k in keys})


@register(listed=False)
class FirstWriterWins(LWWRegister):
    """Broken: keeps the oldest write. Still a join (so replicas agree), but it loses writes."""

    type_name = "FirstWriterWins"

    def merge(self, other: LWWRegister) -> LWWRegister:  # type: ignore[override]
        return self if other.wins_over(self) or other.timestamp is None else other


@dataclass(frozen=True)
class Variant:
    """A broken variant: what it switches, and the kind of key that exposes it."""

    name: str
    description: str
    #: protocol name -> options, merged over the scenario's own ``data.options``
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: library type name -> the broken type that replaces it on every key of that type
    types: Mapping[str, type[Crdt[Any]]] = field(default_factory=dict)
    #: keyword arguments of DistributedData (``route_requests``, ``check_connected``)
    group: Mapping[str, Any] = field(default_factory=dict)
    #: a key spec (``{type, protocol}``) on which the variant can show; hunt targets use it
    target: Mapping[str, str] = field(default_factory=dict)
    #: what else its hunt target needs (merged over the template): a ring, a write level, …
    scenario: Mapping[str, Any] = field(default_factory=dict)

    def protocol_options(self, scenario_options: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
        """The scenario's protocol options with this variant's switches on top."""
        merged = {name: dict(opts) for name, opts in (scenario_options or {}).items()}
        for name, opts in self.options.items():
            merged.setdefault(name, {}).update(opts)
        return merged

    def key_type(self, type_: type[Crdt[Any]]) -> type[Crdt[Any]]:
        """The type a key declared as ``type_`` holds under this variant."""
        return self.types.get(type_.type_name, type_)


VARIANTS: dict[str, Variant] = {}


def register_variant(v: Variant) -> Variant:
    """Make ``v`` selectable as ``data.variant`` (a name may be registered once)."""
    if v.name in VARIANTS:
        raise ValueError(f"variant {v.name!r} is already registered")
    VARIANTS[v.name] = v
    return v


def variant(name: str) -> Variant:
    """The registered variant called ``name``; a ConfigError naming the known ones otherwise."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ConfigError("variant", f"must be a known variant (one of {sorted(VARIANTS)})", name) from None


register_variant(Variant("op-unreliable", "op broadcast without retransmission",
                         options={"op": {"reliable": False}}, target={"type": "ORSet", "protocol": "op"}))
register_variant(Variant("delta-acausal", "delta gossip ignoring the causal condition",
                         options={"delta": {"causal": False}}, target={"type": "ORSet", "protocol": "delta"}))
register_variant(Variant("summing-merge", "non-idempotent merge: counts add up instead of taking the maximum",
                         types={"GCounter": SummingCounter}, target={"type": "GCounter", "protocol": "state"}))
register_variant(Variant("first-writer-wins", "a register that keeps the oldest write",
                         types={"LWWRegister": FirstWriterWins}, target={"type": "LWWRegister", "protocol": "state"}))

# The protocols' switches off the complete graph, the local level and durable state
# (tests/sim/replication/test_broken_variants.py shows the ordinary checks catching each).
register_variant(Variant("op-untracked-senders",
                         "op broadcast forwarding released records only away from the releasing sender",
                         options={"op": {"track_senders": False}}, target={"type": "ORSet", "protocol": "op"},
                         scenario={"zones": {"dc": 8}, "topology": [{"zone": "dc", "kind": "ring"}],
                                   "links": {"default": {"loss": 0.1}}, "workload": {"rate": "10/s"},
                                   "hunt": {"writes": {"max": 30}}}))
register_variant(Variant("op-counter-states", "op counters joining written and repaired full states",
                         options={"op": {"writes_as_records": False}}, target={"type": "PNCounter", "protocol": "op"},
                         scenario={"workload": {"rate": "2/s", "write": "majority"}}))
register_variant(Variant("state-pull-idle", "pull gossip from a replica that holds no key never starting a round",
                         options={"state": {"mode": "pull", "pull_when_empty": False}},
                         target={"type": "ORSet", "protocol": "state"}))
register_variant(Variant("op-wait-for-lost", "op broadcast waiting for records a volatile crash destroyed",
                         options={"op": {"discard_lost": False}}, target={"type": "ORSet", "protocol": "op"},
                         # A volatile crash may lose a write with every copy (the correct protocol
                         # names it too); the variant's own symptom is never going quiet.
                         scenario={"data": {"durable": False}, "links": {"default": {"loss": 0.5}},
                                   "workload": {"rate": "10/s"}, "checks": {"invariants": False},
                                   "hunt": {"writes": {"max": 30}, "faults": {"kinds": ["crash"]}}}))
register_variant(Variant("op-accept-lost",
                         "op broadcast accepting a write of a record already given up as lost",
                         options={"op": {"refuse_lost": False}}, target={"type": "ORSet", "protocol": "op"},
                         # The write must still be in flight when its writer's crash makes the
                         # record lost: slow lossy links and writes sent to every replica. The
                         # replica that accepts it then holds what every other one gave up.
                         scenario={"data": {"durable": False},
                                   "links": {"default": {"loss": 0.3,
                                                         "latency": {"exponential": {"mean": "80ms", "min": "1ms"}}}},
                                   "workload": {"rate": "10/s", "write": "all"}, "checks": {"invariants": False},
                                   "hunt": {"writes": {"max": 30}, "faults": {"kinds": ["crash"]}}}))

# Off the complete graph, majority writes take more than one hop.
_RING = {"zones": {"dc": 8}, "topology": [{"zone": "dc", "kind": "ring"}], "links": {"default": {"loss": 0.1}},
         "workload": {"rate": "10/s", "write": "majority"}, "hunt": {"writes": {"max": 30}}}
register_variant(Variant("delta-unspread-writes", "delta gossip joining written states without spreading them",
                         options={"delta": {"spread_written": False}}, target={"type": "ORSet", "protocol": "delta"},
                         scenario=_RING))
register_variant(Variant("unrouted-requests", "majority requests sent only over direct links",
                         group={"route_requests": False}, target={"type": "ORSet", "protocol": "delta"},
                         scenario=_RING))
# Two replicas whose only path runs through a node without one: the correct build refuses it.
register_variant(Variant("cut-off-replicas", "replicas cut off from each other accepted",
                         group={"check_connected": False}, target={"type": "ORSet", "protocol": "delta"},
                         scenario={"topology": [{"zone": "dc", "kind": "line"}], "data": {"nodes": ["dc-1", "dc-3"]}}))
# Not a variant: a set that takes strings no encoding can carry (UncheckedGSet in
# tests/sim/replication/test_broken_variants.py). Its trigger is a value, not a schedule: the
# workload draws elements from a pool of valid strings and a hunt varies when and where writes
# happen, never their arguments, so no search over schedules can find it; a test passes the value
# from Python.
