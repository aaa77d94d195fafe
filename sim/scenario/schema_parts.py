"""Building blocks of the scenario schema: durations, rates, ids, links (shared by every section).

Latencies, timeouts, the tick and rates carry a unit: ``20ms``, ``2s``, ``100/s``. A bare number
is refused there (``20`` could mean seconds or milliseconds), except ``0``, which means the same
in every unit. Times on the scenario's clock (``at``, a fault's ``duration``, the phases) may also
be a bare number of seconds (:data:`TIME`), which is what generated scenarios write.
Numbers have stated ranges; sizes that depend on the whole scenario (nodes x ticks, rate x
duration) are bounded by :mod:`sim.scenario.limits`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CRDT_TYPE", "DURATION", "ID", "KEY_NAME", "LINK", "NAMES", "OPERATION", "POSITIVE_DURATION", "PROBABILITY",
    "PROTOCOL", "PROTOCOL_OPTIONS", "RATE", "TEXT", "TIME", "TOPOLOGY_KIND", "obj",
]

# What the registries hold is referred to, not copied: sim.scenario.schema.scenario_schema()
# fills in these $defs from crdt.registry, sim.replication.protocol and sim.topology.
#: a CRDT type offered by name (crdt.registry.listed_types)
CRDT_TYPE: dict[str, Any] = {"$ref": "#/$defs/crdt_type"}
#: a mutation of a key's type (each type's operations are listed in the description)
OPERATION: dict[str, Any] = {"$ref": "#/$defs/operation"}
#: a propagation protocol (sim.replication.protocol.protocols)
PROTOCOL: dict[str, Any] = {"$ref": "#/$defs/protocol"}
#: each protocol's options (Protocol.option_schema)
PROTOCOL_OPTIONS: dict[str, Any] = {"$ref": "#/$defs/protocol_options"}
#: a topology kind (sim.topology.KINDS)
TOPOLOGY_KIND: dict[str, Any] = {"$ref": "#/$defs/topology_kind"}

# A number with at most a two-digit exponent: always finite; no sign, so never negative.
_NUMBER = r"\s*(?:\d{1,15}(?:\.\d{0,15})?|\.\d{1,15})(?:[eE][+-]?\d{1,2})?\s*"
_TIME_UNITS = r"(?:ns|us|µs|ms|s|sec|m|min|h)"
_ZERO = {"type": "number", "minimum": 0, "maximum": 0}

DURATION: dict[str, Any] = {
    "description": "a duration with a unit: 250us, 5ms, 2s, 1.5m, 1h (a bare number is refused, except 0)",
    "anyOf": [_ZERO, {"type": "string", "pattern": f"^{_NUMBER}{_TIME_UNITS}\\s*$"}],
}
#: a time on the scenario's clock (``at``, a fault's ``duration``, the phases): a bare number is seconds,
#: the unit a generated scenario (``crdtsim hunt``) writes
TIME: dict[str, Any] = {
    "description": "a time with a unit (250ms, 2s, 1.5m) or a number of seconds",
    "anyOf": [{"type": "number", "minimum": 0, "maximum": 1e9}, DURATION],
}
POSITIVE_DURATION: dict[str, Any] = {
    "description": "a positive duration with a unit: 250us, 5ms, 2s, 1.5m, 1h",
    "type": "string", "pattern": f"^{_NUMBER}{_TIME_UNITS}\\s*$", "not": {"pattern": r"^[\s0.]*(?:[eE].*)?[a-zµ]+\s*$"},
}
RATE: dict[str, Any] = {
    "description": "a rate with a unit: 100/s, 5/ms, 30/m (a bare number is refused, except 0)",
    "anyOf": [_ZERO, {"type": "string", "pattern": f"^{_NUMBER}/\\s*{_TIME_UNITS}\\s*$"}],
}
PROBABILITY: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}
#: an id that may become part of a file name (node, zone, entity, channel): safe characters only
ID: dict[str, Any] = {
    "type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    "description": "an id: a letter or digit, then up to 63 letters, digits, '_', '.' or '-'",
}
#: a replicated data key or a title: printable text without control characters
KEY_NAME: dict[str, Any] = {
    "type": "string", "pattern": r"^[^\x00-\x1f\x7f]{1,200}$",
    "description": "1 to 200 characters, no control characters",
}
TEXT: dict[str, Any] = {"type": "string", "maxLength": 200, "pattern": r"^[^\x00-\x1f\x7f]*$",
                        "description": "at most 200 characters, no control characters"}
NAMES: dict[str, Any] = {"type": "array", "items": ID, "minItems": 1, "maxItems": 100_000}


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A mapping with exactly these keys (unknown keys are errors)."""
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False,
            **extra}


def _number(low: float, high: float) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high}


DISTRIBUTION: dict[str, Any] = {
    "description": "a constant duration, or one distribution: {exponential: {mean, min}}, {uniform: {low, high}}…",
    "anyOf": [
        DURATION,
        obj({"constant": DURATION}, ["constant"]),
        obj({"uniform": obj({"low": DURATION, "high": DURATION}, ["low", "high"])}, ["uniform"]),
        obj({"exponential": obj({"mean": DURATION, "min": DURATION}, ["mean"])}, ["exponential"]),
        obj({"normal": obj({"mean": DURATION, "std": DURATION}, ["mean", "std"])}, ["normal"]),
        obj({"lognormal": obj({"median": DURATION, "mu": _number(-20, 20), "sigma": _number(0, 5)},
                              ["sigma"])}, ["lognormal"]),
        obj({"pareto": obj({"scale": DURATION, "shape": _number(0.1, 100)}, ["scale", "shape"])}, ["pareto"]),
    ],
}
LINK: dict[str, Any] = obj({
    "latency": DISTRIBUTION,
    "loss": PROBABILITY,
    "duplicate": PROBABILITY,
    "fifo": {"type": "boolean"},
    "bandwidth": {"description": "bytes per second with a unit: 1Mbps, 10MB/s, 500KiB/s",
                  "type": "string", "pattern": f"^{_NUMBER}(?i:bps|kbps|mbps|gbps|(?:b|kb|mb|gb|kib|mib|gib)/s)\\s*$"},
})
