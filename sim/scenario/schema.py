"""The JSON Schema of scenario files (``crdtsim schema`` prints it for editors).

The schema checks structure: known keys only, types, enumerations, the shape of durations,
rates and probabilities. Meaning (that a node exists, that a fault restarts a node that is
down) is checked when the world is built, before the run, with the same file/line reporting.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from crdt import Crdt
from crdt.registry import listed_types
from sim.replication.protocol import Protocol, protocols
from sim.scenario.app_schema import APP_SCHEMA
from sim.scenario.schema_parts import (
    CRDT_TYPE,
    DURATION,
    ID,
    KEY_NAME,
    LINK,
    NAMES,
    OPERATION,
    POSITIVE_DURATION,
    PROBABILITY,
    PROTOCOL,
    PROTOCOL_OPTIONS,
    RATE,
    TEXT,
    TIME,
    TOPOLOGY_KIND,
    obj,
)
from sim.topology import KINDS

__all__ = ["FAULT_KINDS", "scenario_schema"]

_DURATION, _RATE, _PROBABILITY, _NAMES, _LINK, _object = DURATION, RATE, PROBABILITY, NAMES, LINK, obj


def _int(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


_PAIR = {"type": "array", "items": ID, "minItems": 2, "maxItems": 2}
_PARAMS = obj({"cols": _int(1, 1_000_000), "d": _int(1, 1_000_000), "k": _int(2, 1_000_000),
               "m": _int(1, 1_000_000), "p": PROBABILITY})
_CONSISTENCY = {
    "description": "local, majority, all, or {to: N} / {majority: {timeout, min_cap}} / {all: {timeout}}",
    "anyOf": [
        {"enum": ["local", "majority", "all"]},
        _object({"to": _int(1, 100_000), "timeout": _DURATION}, ["to"]),
        _object({"majority": _object({"timeout": _DURATION, "min_cap": _int(0, 100_000)})},
                ["majority"]),
        _object({"all": _object({"timeout": _DURATION})}, ["all"]),
    ],
}
_KEY = {
    "anyOf": [
        CRDT_TYPE,
        _object({"type": CRDT_TYPE, "protocol": PROTOCOL}, ["type"]),
    ],
    "description": "a CRDT type name, or {type, protocol}",
}
_CONNECTION = {
    "description": "a generator over a zone or a list of nodes, explicit edges, or a channel between zones",
    "anyOf": [
        _object({"zone": ID, "kind": TOPOLOGY_KIND, "params": _PARAMS, "channel": ID}, ["zone", "kind"]),
        _object({"nodes": _NAMES, "kind": TOPOLOGY_KIND, "params": _PARAMS, "channel": ID},
                ["nodes", "kind"]),
        _object({"edges": {"type": "array", "items": _PAIR, "maxItems": 1_000_000}, "channel": ID}, ["edges"]),
        _object({"between": _PAIR, "channel": ID}, ["between"]),
    ],
}
_FAULT = _object(
    {
        "at": TIME, "duration": TIME,
        "partition": {"type": "array", "items": _NAMES, "minItems": 1, "maxItems": 1_000},
        "one_way": _NAMES, "to": {"anyOf": [_NAMES, ID]},
        "isolate": ID, "heal": {"const": True}, "crash": ID,
        "restart": ID, "clock": ID, "skew": {"type": "number", "minimum": -86_400, "maximum": 86_400,
                                             "description": "seconds, within a day either way"},
        "drift": {"type": "number", "minimum": -0.5, "maximum": 0.5, "description": "a rate offset in [-0.5, 0.5]"},
        "loss_burst": ID, "loss": _PROBABILITY,
    },
    ["at"],
    minProperties=2,
)

_WRITE = _object(
    {"at": TIME, "node": ID, "key": KEY_NAME,
     "op": OPERATION,
     "args": {"type": "array", "description": "the mutation's arguments after the replica id"}},
    ["at", "node", "key"],
)
_BOUNDS = _object({"min": {"type": "number", "minimum": 0}, "max": {"type": "number", "minimum": 0}})
FAULT_KINDS = ["partition", "one_way", "crash", "loss_burst", "clock"]
_HUNT = _object({
    "faults": _object({"max": _int(0, 10_000),
                       "kinds": {"type": "array", "items": {"enum": FAULT_KINDS}, "minItems": 1},
                       "longest": TIME}),
    "writes": _object({"min": _int(0, 1_000_000), "max": _int(0, 1_000_000), "keys": _NAMES, "nodes": _NAMES}),
    "nodes": _BOUNDS,
    "topology": {"type": "array", "items": TOPOLOGY_KIND, "minItems": 1},
    "loss": _BOUNDS,
}, description="what `crdtsim hunt` may vary, and within which bounds")

#: the schema without the registries' names (its $defs, which scenario_schema adds)
_SCENARIO: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://crdtsim.invalid/scenario.schema.json",
    "title": "crdtsim scenario",
    **_object(
        {
            "name": TEXT,
            "description": {"type": "string", "maxLength": 10_000},
            "seed": {"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
            "tick": POSITIVE_DURATION,
            "warmup": TIME,
            "duration": {**TIME, "description": "length of the workload phase: a time with a unit or seconds"},
            "quiet_max": {**_int(0, 10_000_000), "description": "ticks allowed for the network to go quiet"},
            "trace": {"enum": ["off", "digest", "full"]},
            "zones": {
                "type": "object", "minProperties": 1, "maxProperties": 1_000, "propertyNames": ID,
                "additionalProperties": {"anyOf": [_int(1, 10_000_000), _NAMES]},
                "description": "zone name -> number of nodes (named zone-1, zone-2, …) or a list of node ids",
            },
            "topology": {"type": "array", "items": _CONNECTION, "maxItems": 10_000},
            "links": _object({
                "draws": {"enum": ["sequential", "keyed"],
                          "description": "where links draw loss, latency and duplicates: the sender's stream in "
                                         "send order (sequential, the default), or a hash of the pair, the send "
                                         "time and the draw's ordinal at that time (keyed: removing a message "
                                         "leaves every other message's draws as they were)"},
                "default": _LINK,
                "channels": {"type": "object", "propertyNames": ID, "additionalProperties": _LINK},
                "zones": {"type": "array", "items": _object({"between": _PAIR, "model": _LINK}, ["between", "model"])},
                "nodes": {"type": "array", "items": _object({"between": _PAIR, "model": _LINK}, ["between", "model"])},
            }),
            "data": _object({
                "protocol": PROTOCOL,
                "options": PROTOCOL_OPTIONS,
                "durable": {"type": "boolean"},
                "nodes": _NAMES,
                "notify_every": _int(1, 1_000_000),
                "keys": {"type": "object", "minProperties": 1, "maxProperties": 10_000, "propertyNames": KEY_NAME,
                         "additionalProperties": _KEY},
                "variant": {**ID, "description": "a deliberately broken variant, by name"},
            }, ["keys"]),
            "workload": _object({
                "rate": _RATE,
                "mode": {"enum": ["poisson", "tick"]},
                "keys": {"type": "array", "items": KEY_NAME, "minItems": 1},
                "nodes": _NAMES,
                "write": _CONSISTENCY,
                "read": _CONSISTENCY,
                "reads": {**_PROBABILITY, "description": "the fraction of operations that are reads"},
                "once": {"type": "boolean", "description": "each node makes one update at t=0, instead of a rate"},
                "writes": {"type": "array", "items": _WRITE, "maxItems": 1_000_000,
                           "description": "explicit writes, instead of a rate"},
            }),
            "faults": {"type": "array", "items": _FAULT, "maxItems": 100_000},
            "nemesis": _object({
                # faults per unit of time (0.5/s, 2/m); a bare number here has always meant per second
                "rate": {"description": "faults per unit of time: 0.5/s, 2/m (a bare number: per second)",
                         "anyOf": [{"type": "number", "minimum": 0, "maximum": 1_000_000}, _RATE]},
                "kinds": {"type": "array", "minItems": 1,
                          "items": {"enum": ["partition", "isolate", "crash", "clock", "loss_burst"]}},
                "mean_fault": _DURATION,
                "max_down": _int(0, 10_000_000),
            }),
            "entities": {"type": "array", "items": _object({
                "id": ID,
                "example": {"enum": ["counter"], "description": "the built-in behaviour: a replicated counter"},
                "replicas": _NAMES,
                "journal": {"enum": ["memory", "sqlite"]},
                "rate": _RATE,
            }, ["id", "example"]), "maxItems": 1_000},
            "hunt": _HUNT,
            "app": APP_SCHEMA,
            "checks": _object({
                "convergence": {"type": "boolean"},
                "invariants": {"type": "boolean"},
            }),
        },
        ["zones"],
    ),
}


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, naming the CRDT types, protocols and topology kinds
    registered now (a type registered later is in the next call's schema).

    >>> schema = scenario_schema()
    >>> schema["$defs"]["protocol"]["enum"], "ORSet" in schema["$defs"]["crdt_type"]["enum"]
    (['state', 'delta', 'op'], True)
    """
    return _schema(tuple(listed_types().items()), tuple(protocols().items()), tuple(KINDS))


@lru_cache(maxsize=8)
def _schema(types: tuple[tuple[str, type[Crdt[Any]]], ...], protocols: tuple[tuple[str, type[Protocol]], ...],
            kinds: tuple[str, ...]) -> dict[str, Any]:
    operations = "; ".join(f"{name}: {', '.join(cls.operations)}" for name, cls in types)
    defs = {
        "crdt_type": {"enum": [name for name, _ in types]},
        "operation": {"type": "string", "description": f"a mutation of the key's type ({operations})"},
        "protocol": {"enum": [name for name, _ in protocols]},
        "protocol_options": _object({name: _object(dict(cls.option_schema)) for name, cls in protocols}),
        "topology_kind": {"enum": list(kinds)},
    }
    return {**_SCENARIO, "$defs": defs}
