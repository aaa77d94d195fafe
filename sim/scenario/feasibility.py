"""Up-front figures of a scenario's size, each checked against its bound in :class:`Limits`.

A scenario that passed the schema is measured before anything is built: nodes, materialized
links, ticks, nodes x ticks, operations, an estimate of messages and faults. The first figure
over its bound is refused at the path that made it so, with the figure and the limit, e.g.
``zones.dc: expected at most 10,000 nodes in all (raise with --limit nodes=N), found 1,000,000``.

>>> figures({"zones": {"dc": 3}, "duration": "2s", "tick": "100ms", "quiet_max": 10,
...          "data": {"keys": {"k": "GCounter"}}, "workload": {"rate": "10/s"}})["operations"]
20
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from sim.scenario.errors import Shown
from sim.scenario.limits import Limits
from sim.units import parse_duration, parse_rate

__all__ = ["figures", "problems"]

Where = tuple[str | int, ...]
_DEFAULTS = {"tick": "100ms", "duration": "5s", "warmup": 0, "quiet_max": 1000}


def _zone_sizes(data: Mapping[str, Any]) -> dict[str, int]:
    return {zone: spec if isinstance(spec, int) else len(spec) for zone, spec in data.get("zones", {}).items()}


def _edges(kind: str, n: int, params: Mapping[str, Any]) -> int:
    """How many links a generator materializes over ``n`` nodes (an upper bound)."""
    if kind == "complete":
        return n * (n - 1) // 2
    if kind == "grid":
        return 2 * n
    if kind == "random_regular":
        return n * int(params.get("d", 1)) // 2
    if kind == "watts_strogatz":
        return n * int(params.get("k", 2)) // 2
    if kind == "barabasi_albert":
        return n * int(params.get("m", 1))
    return n  # ring, line, star


def _links(data: Mapping[str, Any], sizes: Mapping[str, int]) -> Iterator[tuple[Where, int]]:
    connections = data.get("topology")
    if connections is None:  # the default: each zone a complete graph
        for zone, n in sizes.items():
            yield ("zones", zone), _edges("complete", n, {})
        return
    for index, c in enumerate(connections):
        if "kind" in c:
            n = sizes.get(c["zone"], 0) if "zone" in c else len(c["nodes"])
            yield ("topology", index), _edges(c["kind"], n, c.get("params", {}))
        elif "edges" in c:
            yield ("topology", index, "edges"), len(c["edges"])


def figures(data: Mapping[str, Any]) -> dict[str, int]:
    """The size of a run of ``data`` (already checked against the schema), by limit name."""
    return {name: value for name, (_, value) in _measure(data).items()}


def _measure(data: Mapping[str, Any]) -> dict[str, tuple[Where, int]]:
    sizes = _zone_sizes(data)
    nodes = sum(sizes.values())
    biggest = max(sizes, key=lambda z: sizes[z]) if sizes else None
    tick = parse_duration(data.get("tick", _DEFAULTS["tick"]), "tick")
    span = parse_duration(data.get("duration", _DEFAULTS["duration"]), "duration")
    warmup = parse_duration(data.get("warmup", _DEFAULTS["warmup"]), "warmup")
    quiet_max = int(data.get("quiet_max", _DEFAULTS["quiet_max"]))
    ticks = (math.ceil((warmup + span) / tick) if tick > 0 else 0) + quiet_max
    links = list(_links(data, sizes))
    link_where, _ = max(links, key=lambda item: item[1]) if links else (("topology",), 0)

    operations: list[tuple[Where, float]] = []
    workload = data.get("workload")
    if workload is not None:
        ops = len(workload.get("nodes", ())) or nodes if workload.get("once") else \
            parse_rate(workload.get("rate", "10/s")) * span
        operations.append((("workload", "rate"), ops))
    for index, entity in enumerate(data.get("entities", [])):
        operations.append((("entities", index, "rate"), parse_rate(entity.get("rate", "10/s")) * span))
    app = data.get("app") or {}
    if "workload" in app:
        operations.append((("app", "workload", "rate"), parse_rate(app["workload"].get("rate", "2/s")) * span))
    total_ops = sum(ops for _, ops in operations)
    ops_where = max(operations, key=lambda item: item[1])[0] if operations else ("workload",)

    spec = data.get("data")
    replicas = len(spec.get("nodes", ())) or nodes if spec else 0
    messages = total_ops * max(replicas, 1)
    if spec:
        options = spec.get("options", {})
        default = spec.get("protocol", "delta")
        used = {default if isinstance(k, str) else k.get("protocol", default) for k in spec["keys"].values()}
        for protocol in sorted(used):
            opts = options.get(protocol, {})
            every = opts.get("every", opts.get("retransmit", 2 if protocol == "op" else 1))
            messages += replicas * ticks / every * opts.get("fanout", 1)

    nemesis = data.get("nemesis")
    faults = len(data.get("faults", ())) + (parse_rate(nemesis.get("rate", "0.5/s")) * span if nemesis else 0)
    fault_where: Where = ("nemesis", "rate") if nemesis else ("faults",)
    time_where: Where = ("tick",) if "tick" in data else ("duration",)
    if tick > 0 and "duration" in data and span / tick >= quiet_max:
        time_where = ("duration",)
    elif tick > 0 and quiet_max > (warmup + span) / tick:
        time_where = ("quiet_max",)
    return {
        "nodes": (("zones", biggest) if biggest is not None else ("zones",), nodes),
        "links": (link_where, sum(n for _, n in links)),
        "ticks": (time_where, ticks),
        "node_ticks": (time_where if nodes * ticks > 0 else ("zones",), nodes * ticks),
        "operations": (ops_where, math.ceil(total_ops)),
        "messages": (ops_where if total_ops * replicas >= messages / 2 else time_where, math.ceil(messages)),
        "faults": (fault_where, math.ceil(faults)),
    }


def problems(data: Mapping[str, Any], limits: Limits) -> Iterator[tuple[Where, str, Any]]:
    """Each figure of ``data`` over its bound: (path, expected, found)."""
    units = {"nodes": "nodes in all", "links": "links", "ticks": "ticks ((warmup + duration) / tick + quiet_max)",
             "node_ticks": "node-ticks (nodes x ticks)", "operations": "operations (rate x duration)",
             "messages": "messages (estimated from operations x replicas and gossip rounds)",
             "faults": "faults (including the nemesis' rate x duration)"}
    for name, (where, value) in _measure(data).items():
        bound = getattr(limits, name)
        if value > bound:
            shown = f"{value:,}" if value < 1e18 else f"{value:.3g}"
            yield where, f"at most {bound:,} {units[name]} (raise with --limit {name}=N)", Shown(shown)
    app = data.get("app") or {}
    if "session_ttl" in app:
        tick = parse_duration(data.get("tick", _DEFAULTS["tick"]), "tick")
        if parse_duration(app["session_ttl"], "session_ttl") < tick:
            yield ("app", "session_ttl"), f"a session lifetime of at least one tick ({tick:g}s)", app["session_ttl"]

