"""What differs between the distinct states replicas hold of one key, in words a person reads.

:func:`difference` takes the distinct states (each with the replicas holding it) and says what
sets them apart, in the terms of the key's type:

* sets: the elements that are only on some replicas;
* counters: the per-replica entries that differ;
* LWW registers: the competing writes (value, timestamp, writer);
* LWW maps: the map keys whose winning writes differ;
* anything else: the parts of the canonical encoding that differ.

>>> from crdt import ORSet
>>> a, b = ORSet().add("a", "milk"), ORSet().add("a", "milk").add("b", "eggs")
>>> difference([(["dc-1"], a), (["dc-2", "dc-3"], b)])["lines"]
["'eggs' on dc-2, dc-3; missing on dc-1"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crdt import GCounter, LWWMap, LWWRegister, PNCounter
from sim.history import plain
from sim.replication.values import Deletion, StoredValue, encode_value

__all__ = ["difference"]

#: at most this many differing parts are listed per key
MAX_LINES = 20

Group = tuple[list[str], StoredValue]


def _nodes(groups: Sequence[Group], indices: Sequence[int]) -> list[str]:
    return sorted(n for i in indices for n in groups[i][0])


def _join(nodes: Sequence[str]) -> str:
    return ", ".join(nodes)


def _sets(groups: Sequence[Group]) -> dict[str, Any]:
    values = [frozenset(state.value()) for _, state in groups]  # type: ignore[union-attr]
    everywhere = frozenset.intersection(*values)
    elements = sorted(frozenset.union(*values) - everywhere, key=repr)
    parts: list[dict[str, Any]] = []
    for element in elements:
        on = _nodes(groups, [i for i, v in enumerate(values) if element in v])
        missing = _nodes(groups, [i for i, v in enumerate(values) if element not in v])
        parts.append({"element": plain(element), "on": on, "missing_on": missing})
    lines = [f"{p['element']!r} on {_join(p['on'])}; missing on {_join(p['missing_on'])}" for p in parts]
    return {"kind": "elements", "elements": parts, "lines": lines}


def _counts(state: Any) -> dict[str, int]:
    if isinstance(state, PNCounter):
        return {**{f"+{r}": c for r, c in state.p.counts.items()}, **{f"-{r}": c for r, c in state.n.counts.items()}}
    return dict(state.counts)


def _by_value(groups: Sequence[Group], values: Sequence[Any]) -> list[dict[str, Any]]:
    """Each distinct value in ``values`` (one per group) with the replicas holding it."""
    out: list[dict[str, Any]] = []
    for i, value in enumerate(values):
        for entry in out:
            if entry["value"] == value:
                entry["nodes"] = sorted(entry["nodes"] + groups[i][0])
                break
        else:
            out.append({"value": value, "nodes": sorted(groups[i][0])})
    return out


def _counters(groups: Sequence[Group]) -> dict[str, Any]:
    counts = [_counts(state) for _, state in groups]
    names = sorted({name for c in counts for name in c})
    parts: list[dict[str, Any]] = []
    for name in names:
        held = [c.get(name, 0) for c in counts]
        if len(set(held)) > 1:
            parts.append({"entry": name, "values": _by_value(groups, held)})
    lines = [f"entry {p['entry']}: " + "; ".join(f"{v['value']} on {_join(v['nodes'])}" for v in p["values"])
             for p in parts]
    return {"kind": "entries", "entries": parts, "lines": lines}


def _write(register: LWWRegister) -> dict[str, Any] | None:
    if register.timestamp is None:
        return None
    return {"value": plain(register.value()), "timestamp": plain(register.timestamp), "by": register.replica}


def _describe_write(write: dict[str, Any] | None) -> str:
    if write is None:
        return "no write"
    return f"{write['value']!r} written by {write['by']} at {write['timestamp']}"


def _registers(groups: Sequence[Group]) -> dict[str, Any]:
    writes = _by_value(groups, [_write(state) for _, state in groups])  # type: ignore[arg-type]
    lines = [f"{_describe_write(w['value'])} on {_join(w['nodes'])}" for w in writes]
    return {"kind": "writes", "writes": writes, "lines": lines}


def _maps(groups: Sequence[Group]) -> dict[str, Any]:
    entries = [state.entries for _, state in groups]  # type: ignore[union-attr]
    keys = sorted({k for e in entries for k in e}, key=repr)
    parts: list[dict[str, Any]] = []
    for key in keys:
        writes = [_write(e[key]) if key in e else None for e in entries]
        if len({repr(w) for w in writes}) > 1:
            parts.append({"key": plain(key), "writes": _by_value(groups, writes)})
    lines = [f"[{p['key']!r}]: " + "; ".join(f"{_describe_write(w['value'])} on {_join(w['nodes'])}"
                                             for w in p["writes"]) for p in parts]
    return {"kind": "map entries", "entries": parts, "lines": lines}


def _pairs(data: Any) -> bool:
    """Whether ``data`` is an encoded mapping: a list of [key, value] pairs with scalar keys."""
    return isinstance(data, list) and bool(data) and all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str | int) for p in data)


def _leaves(data: Any, path: str = "") -> dict[str, Any]:
    if _pairs(data) and path:
        data = {str(k): v for k, v in data}
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_leaves(v, f"{path}.{k}" if path else str(k)))
        return out
    return {path: data}


def _encoded(groups: Sequence[Group]) -> dict[str, Any]:
    leaves = [_leaves(encode_value(state)) for _, state in groups]
    paths = sorted({p for leaf in leaves for p in leaf})
    parts: list[dict[str, Any]] = []
    for path in paths:
        held = [leaf.get(path) for leaf in leaves]
        if len({repr(h) for h in held}) > 1:
            parts.append({"path": path, "values": _by_value(groups, held)})
    lines = [f"{p['path']}: " + "; ".join(f"{'absent' if v['value'] is None else repr(v['value'])} on "
                                          f"{_join(v['nodes'])}" for v in p["values"]) for p in parts]
    return {"kind": "encoding", "parts": parts, "lines": lines}


def difference(groups: Sequence[Group]) -> dict[str, Any]:
    """What sets the distinct states apart: ``kind``, structured parts, and ``lines`` of text."""
    deleted = [i for i, (_, state) in enumerate(groups) if isinstance(state, Deletion)]
    states = [state for _, state in groups]
    if deleted:
        kept = [i for i in range(len(groups)) if i not in deleted]
        out: dict[str, Any] = {"kind": "deletion", "deleted_on": _nodes(groups, deleted),
                               "present_on": _nodes(groups, kept)}
        out["lines"] = [f"deleted on {_join(out['deleted_on'])}; still present on {_join(out['present_on'])}"]
        return out
    if all(isinstance(s, LWWMap) for s in states):
        out = _maps(groups)
    elif all(isinstance(s, LWWRegister) for s in states):
        out = _registers(groups)
    elif all(isinstance(s, GCounter | PNCounter) for s in states):
        out = _counters(groups)
    elif all(isinstance(s.value(), frozenset) for s in states):  # type: ignore[union-attr]
        out = _sets(groups)
    else:
        out = _encoded(groups)
    if not out["lines"]:  # equal values, different metadata (dots, causal context …)
        encoded = _encoded(groups)
        lines = ["the same value everywhere, but the metadata differs:"] + encoded["lines"]
        out = {**out, "lines": lines, "encoding": encoded["parts"]}
    if len(out["lines"]) > MAX_LINES:
        out["lines"] = out["lines"][:MAX_LINES] + [f"… and {len(out['lines']) - MAX_LINES} more"]
    return out
