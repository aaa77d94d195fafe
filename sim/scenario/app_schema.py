"""The schema of a scenario's ``app:`` section, in one place so new app fields merge easily.

To add a field to ``app:``, add it to :data:`APP_PROPERTIES` (its JSON Schema) and, if its
meaning needs more than structure (a value that must fit a CRDT type), a check to
:func:`app_problems`. What needs the built world (that a node is in an app zone) is checked by
``sim.apps.scenario`` before the run, with the same file/line reporting.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from crdt.registry import listed_types, type_named
from sim.scenario.schema_parts import CRDT_TYPE, ID, LINK, NAMES, POSITIVE_DURATION, RATE, TEXT, TIME, obj

__all__ = ["APP_SCHEMA", "app_problems"]

VALUE_TYPES = ["object", "number", "string", "boolean", "array"]
APP_PATH = {"type": "string", "pattern": r"^/[A-Za-z0-9_.-]{1,64}/[A-Za-z0-9_.-]{1,64}$",
            "description": "a path /zone/name"}
_PATHS = {"type": "array", "items": APP_PATH, "maxItems": 100}

_ENTRY = {
    "description": "a source state {crdt, value, init}, a derived state {crdt, value, computer, depends_on}, "
                   "or a computation {computation, depends_on, writes}",
    "anyOf": [
        obj({"crdt": CRDT_TYPE, "value": {"enum": VALUE_TYPES}, "init": {}}, ["crdt", "value"]),
        obj({"crdt": CRDT_TYPE, "value": {"enum": VALUE_TYPES}, "computer": APP_PATH,
             "depends_on": _PATHS}, ["crdt", "value", "computer"]),
        obj({"computation": ID, "depends_on": _PATHS, "writes": _PATHS}, ["computation"]),
    ],
}
_AT_NODE = {"at": TIME, "node": ID}
#: each attack kind of ``sim.apps.attacks.ATTACKS`` and the argument it takes
_ATTACK_ARGS: dict[str, Any] = {
    "impersonate": ID, "forge": ID, "alter": ID, "replay": ID, "expired": {"const": True}, "removed": ID,
    "malformed": {"enum": ["issuer_list", "claims_none", "nan_exp", "bytes_signature", "not_a_session"]},
    "peer_effect": ID, "write_foreign": ID, "delete_foreign": ID, "fake_derived": ID,
}

#: every key of ``app:`` and its schema; ``sim.apps.scenario`` reads each of them
APP_PROPERTIES: dict[str, Any] = {
    "spec": {**ID, "description": "a bundled app (todo), or the name of the app given inline by zones"},
    "registry": {**ID, "description": "the registry of computations an inline app uses (todo)"},
    "zones": {"type": "object", "minProperties": 1, "maxProperties": 100,
              "propertyNames": ID,
              "additionalProperties": {"type": "object", "minProperties": 1, "maxProperties": 200,
                                       "propertyNames": ID, "additionalProperties": _ENTRY}},
    "channels": {"type": "array", "maxItems": 100,
                 "items": obj({"from": ID, "to": ID, "type": ID}, ["from", "to"])},
    "variant": obj({"filter_rule": ID, "user_count": ID}),
    "users": {"type": "object", "propertyNames": ID, "additionalProperties": ID, "maxProperties": 10_000},
    "workload": obj({"rate": RATE, "nodes": NAMES}),
    "todos": {"type": "array", "maxItems": 100_000, "items": obj({**_AT_NODE, "title": TEXT}, ["at", "node", "title"])},
    "sessions": {"type": "array", "maxItems": 100_000, "items": {
        "description": "{at, disconnect: node} or {at, reconnect: node}",
        "anyOf": [obj({"at": TIME, "disconnect": ID}, ["at", "disconnect"]),
                  obj({"at": TIME, "reconnect": ID}, ["at", "reconnect"])]}},
    "attacks": {"type": "array", "maxItems": 100_000, "items": {
        "description": "{at, node, KIND: ARG} with exactly one attack kind (see sim.apps.attacks)",
        "anyOf": [obj({**_AT_NODE, kind: arg}, ["at", "node", kind]) for kind, arg in _ATTACK_ARGS.items()]}},
    "session_ttl": {**POSITIVE_DURATION, "description": "a positive duration with a unit (how long a session lasts, "
                                                        "at least one tick)"},
    "on_incompatible": {"enum": ["raise", "reject"]},
    "channel": LINK,
    "storage": {"type": "object", "propertyNames": ID, "additionalProperties": {"enum": ["sqlite", "memory"]}},
    "replicas": obj({"zone": ID, "primary": ID}),
    "login": {"enum": ["password", "trust_claim"],
              "description": "password (default), or trust_claim: the broken variant that believes the claimed user"},
    "delivery": {"enum": ["reliable", "once"],
                 "description": "reliable (default), or once: the broken variant that never re-sends"},
    "eager": {"type": "boolean", "description": "true: the broken variant that computes and sends everything"},
    "exports": {"type": "array", "maxItems": 100_000, "items": obj(_AT_NODE, ["at", "node"])},
}

APP_SCHEMA: dict[str, Any] = {
    **obj(APP_PROPERTIES),
    "description": "an application model (see docs/apps.md)",
}


def _fits(value_type: str, value: Any) -> bool:
    if value_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if value_type == "string":
        return isinstance(value, str)
    if value_type == "boolean":
        return isinstance(value, bool)
    if value_type == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def app_problems(app: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
    """What the schema cannot say: that ``init`` fits its state's CRDT type and value type."""
    zones = app.get("zones") or {}
    if not zones:
        return  # no app: the app model (and networkx under it) is not imported
    from sim.apps.effects import INIT_SHAPES

    for zone, entries in zones.items():
        for name, entry in entries.items():
            if "init" not in entry or entry["init"] is None:
                continue
            where, init = ("app", "zones", zone, name, "init"), entry["init"]
            shape, value_type = INIT_SHAPES.get(type_named(entry["crdt"]).kind), entry["value"]
            if shape is None:
                fits = sorted(name for name, cls in listed_types().items() if cls.kind in INIT_SHAPES)
                yield where, f"no init for a {entry['crdt']} (init fits {fits})", init
            elif shape == "value" and not _fits(value_type, init):
                yield where, f"a {value_type} value (the state's value type)", init
            elif shape == "mapping" and not (isinstance(init, dict) and all(_fits(value_type, v)
                                                                            for v in init.values())):
                yield where, f"a mapping of keys to {value_type} values", init
            elif shape == "list" and not (isinstance(init, list) and all(_fits(value_type, v) for v in init)):
                yield where, f"a list of {value_type} values", init
