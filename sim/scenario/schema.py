"""The JSON Schema of scenario files (``crdtsim schema`` prints it for editors).

The schema checks structure: known keys only, types, enumerations, the shape of durations,
rates and probabilities. Meaning (that a node exists, that a fault restarts a node that is
down) is checked when the world is built, before the run, with the same file/line reporting.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCENARIO_SCHEMA", "CRDT_TYPES", "FAULT_KINDS", "PROTOCOLS", "TOPOLOGY_KINDS"]

CRDT_TYPES = [
    "GCounter", "PNCounter", "GSet", "TwoPSet", "ORSet", "LWWRegister", "MVRegister", "LWWMap", "ORMap",
    "EWFlag", "DWFlag", "CausalCounter",
]
PROTOCOLS = ["state", "delta", "op"]
TOPOLOGY_KINDS = [
    "complete", "ring", "star", "line", "grid", "random_regular", "watts_strogatz", "barabasi_albert",
]

_DURATION = {
    "description": "seconds, or a string with a unit: 250us, 5ms, 2s, 1.5m",
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^\s*[0-9.eE+-]+\s*(us|ms|s|m|h)\s*$"}],
}
_RATE = {
    "description": "per second, or a string like 100/s",
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*[0-9.eE+-]+\s*/\s*(us|ms|s|m|h)\s*$"},
    ],
}
_PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}
_NAMES = {"type": "array", "items": {"type": "string"}, "minItems": 1}


def _object(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False,
            **extra}


_DISTRIBUTION = {
    "description": "a constant duration, or one distribution: {exponential: {mean, min}}, {uniform: {low, high}}…",
    "anyOf": [
        _DURATION,
        _object({"constant": _DURATION}, ["constant"]),
        _object({"uniform": _object({"low": _DURATION, "high": _DURATION}, ["low", "high"])}, ["uniform"]),
        _object({"exponential": _object({"mean": _DURATION, "min": _DURATION}, ["mean"])}, ["exponential"]),
        _object({"normal": _object({"mean": _DURATION, "std": _DURATION}, ["mean", "std"])}, ["normal"]),
        _object({"lognormal": _object({"median": _DURATION, "mu": {"type": "number"}, "sigma": {"type": "number"}},
                                      ["sigma"])}, ["lognormal"]),
        _object({"pareto": _object({"scale": _DURATION, "shape": {"type": "number"}}, ["scale", "shape"])},
                ["pareto"]),
    ],
}
_LINK = _object({
    "latency": _DISTRIBUTION,
    "loss": _PROBABILITY,
    "duplicate": _PROBABILITY,
    "fifo": {"type": "boolean"},
    "bandwidth": {"description": "bytes per second, or a string like 1Mbps or 10MB/s",
                  "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string"}]},
})
_CONSISTENCY = {
    "description": "local, majority, all, or {to: N} / {majority: {timeout, min_cap}} / {all: {timeout}}",
    "anyOf": [
        {"enum": ["local", "majority", "all"]},
        _object({"to": {"type": "integer", "minimum": 1}, "timeout": _DURATION}, ["to"]),
        _object({"majority": _object({"timeout": _DURATION, "min_cap": {"type": "integer", "minimum": 0}})},
                ["majority"]),
        _object({"all": _object({"timeout": _DURATION})}, ["all"]),
    ],
}
_KEY = {
    "anyOf": [
        {"enum": CRDT_TYPES},
        _object({"type": {"enum": CRDT_TYPES}, "protocol": {"enum": PROTOCOLS}}, ["type"]),
    ]
}
_CONNECTION = {
    "description": "a generator over a zone or a list of nodes, explicit edges, or a channel between zones",
    "anyOf": [
        _object({"zone": {"type": "string"}, "kind": {"enum": TOPOLOGY_KINDS}, "params": {"type": "object"},
                 "channel": {"type": "string"}}, ["zone", "kind"]),
        _object({"nodes": _NAMES, "kind": {"enum": TOPOLOGY_KINDS}, "params": {"type": "object"},
                 "channel": {"type": "string"}}, ["nodes", "kind"]),
        _object({"edges": {"type": "array", "items": {"type": "array", "items": {"type": "string"},
                                                      "minItems": 2, "maxItems": 2}},
                 "channel": {"type": "string"}}, ["edges"]),
        _object({"between": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                 "channel": {"type": "string"}}, ["between"]),
    ],
}
_FAULT = _object(
    {
        "at": _DURATION, "duration": _DURATION,
        "partition": {"type": "array", "items": _NAMES, "minItems": 1},
        "one_way": _NAMES, "to": {"anyOf": [_NAMES, {"type": "string"}]},
        "isolate": {"type": "string"}, "heal": {"const": True}, "crash": {"type": "string"},
        "restart": {"type": "string"}, "clock": {"type": "string"}, "skew": {"type": "number"},
        "drift": {"type": "number"}, "loss_burst": {"type": "string"}, "loss": _PROBABILITY,
    },
    ["at"],
    minProperties=2,
)
_WRITE = _object(
    {"at": _DURATION, "node": {"type": "string"}, "key": {"type": "string"},
     "op": {"type": "string", "description": "a mutation of the key's type (add, remove, increment, set…)"},
     "args": {"type": "array", "description": "the mutation's arguments after the replica id"}},
    ["at", "node", "key"],
)
_BOUNDS = _object({"min": {"type": "number", "minimum": 0}, "max": {"type": "number", "minimum": 0}})
FAULT_KINDS = ["partition", "one_way", "crash", "loss_burst", "clock"]
_HUNT = _object({
    "faults": _object({"max": {"type": "integer", "minimum": 0},
                       "kinds": {"type": "array", "items": {"enum": FAULT_KINDS}, "minItems": 1},
                       "longest": _DURATION}),
    "writes": _object({"min": {"type": "integer", "minimum": 0}, "max": {"type": "integer", "minimum": 0},
                       "keys": _NAMES, "nodes": _NAMES}),
    "nodes": _BOUNDS,
    "topology": {"type": "array", "items": {"enum": TOPOLOGY_KINDS}, "minItems": 1},
    "loss": _BOUNDS,
}, description="what `crdtsim hunt` may vary, and within which bounds")

SCENARIO_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://crdtsim.invalid/scenario.schema.json",
    "title": "crdtsim scenario",
    **_object(
        {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "seed": {"type": "integer"},
            "tick": _DURATION,
            "warmup": _DURATION,
            "duration": {**_DURATION, "description": "length of the workload phase"},
            "quiet_max": {"type": "integer", "minimum": 0, "description": "ticks allowed for the network to go quiet"},
            "trace": {"enum": ["off", "digest", "full"]},
            "zones": {
                "type": "object", "minProperties": 1,
                "additionalProperties": {"anyOf": [{"type": "integer", "minimum": 1}, _NAMES]},
                "description": "zone name -> number of nodes (named zone-1, zone-2, …) or a list of node ids",
            },
            "topology": {"type": "array", "items": _CONNECTION},
            "links": _object({
                "default": _LINK,
                "channels": {"type": "object", "additionalProperties": _LINK},
                "zones": {"type": "array", "items": _object(
                    {"between": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                     "model": _LINK}, ["between", "model"])},
                "nodes": {"type": "array", "items": _object(
                    {"between": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                     "model": _LINK}, ["between", "model"])},
            }),
            "data": _object({
                "protocol": {"enum": PROTOCOLS},
                "options": _object({p: {"type": "object"} for p in PROTOCOLS}),
                "durable": {"type": "boolean"},
                "nodes": _NAMES,
                "notify_every": {"type": "integer", "minimum": 1},
                "keys": {"type": "object", "minProperties": 1, "additionalProperties": _KEY},
                "variant": {"type": "string", "description": "a deliberately broken variant, by name"},
            }, ["keys"]),
            "workload": _object({
                "rate": _RATE,
                "mode": {"enum": ["poisson", "tick"]},
                "keys": _NAMES,
                "nodes": _NAMES,
                "write": _CONSISTENCY,
                "read": _CONSISTENCY,
                "reads": {**_PROBABILITY, "description": "the fraction of operations that are reads"},
                "once": {"type": "boolean", "description": "each node makes one update at t=0, instead of a rate"},
                "writes": {"type": "array", "items": _WRITE, "description": "explicit writes, instead of a rate"},
            }),
            "faults": {"type": "array", "items": _FAULT},
            "nemesis": _object({
                "rate": {"type": "number", "exclusiveMinimum": 0},
                "kinds": {"type": "array", "items": {"enum": ["partition", "isolate", "crash", "clock", "loss_burst"]}},
                "mean_fault": _DURATION,
                "max_down": {"type": "integer", "minimum": 0},
            }),
            "entities": {"type": "array", "items": _object({
                "id": {"type": "string"},
                "example": {"enum": ["counter"], "description": "the built-in behaviour: a replicated counter"},
                "replicas": _NAMES,
                "journal": {"enum": ["memory", "sqlite"]},
                "rate": _RATE,
            }, ["id", "example"])},
            "hunt": _HUNT,
            "app": {"type": "object", "description": "an application model (see docs/apps.md); checked by sim.apps"},
            "checks": _object({
                "convergence": {"type": "boolean"},
                "invariants": {"type": "boolean"},
            }),
        },
        ["zones"],
    ),
}
