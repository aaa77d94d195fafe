"""The app checks run after the quiet phase.

* ``app.convergence`` — every node that should be connected is; every replica of a replicated
  source state equals the others; every write a node's computations would send upward is
  already in the state it targets (no acknowledged write lost); every derived state equals what
  its computation gives from the settled sources (each connected client's ``my_todos`` is the
  database's todos for its user). The computations are run again, without sending anything.
* ``app.durability`` — every datum the workload created (the ground truth in
  ``runtime.truth``) reached the top zone's state, unless its user was removed or its node
  left for good.
* ``app.leaks`` — the leak oracle: every message a node of a user zone receives is scanned, and
  any datum id in it whose owner (from the ground truth: who created it) is not the node's own
  user is a leak. It trusts neither sessions nor tags in the data.
* ``app.on_demand`` — from the trace: no computation ran for a subscriber not connected to
  that provider, and no value was sent twice in a row unchanged on one connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crdt import Crdt, Op
from sim.apps.delivery import plain
from sim.apps.effects import Effect, Event
from sim.apps.spec import SourceState, split_path
from sim.checks import CheckResult

if TYPE_CHECKING:
    from sim.apps.runtime import AppNode, AppRuntime
    from sim.network import Message
    from sim.trace import TraceEvent
    from sim.world import World

__all__ = ["LeakOracle", "convergence_check", "durability_check", "find_leaks", "leak_check", "on_demand_check",
           "redundant_sends", "strings_in", "work_for_disconnected"]


def _applied(state: Crdt[Any], msg: Crdt[Any] | Op) -> Crdt[Any]:
    return state.effect(msg) if isinstance(msg, Op) else state.merge(msg)


def _home(rt: AppRuntime, node_id: str, zone: str) -> str | None:
    """The node of ``zone`` that applies writes from ``node_id`` (through its providers)."""
    current = rt.nodes[node_id]
    while current.zone != zone:
        up = [z for z in rt.spec.providers_of(current.zone) if z == zone or zone in rt.upstream[z]]
        if not up or up[0] not in current.providers:
            return None
        current = rt.nodes[current.providers[up[0]]]
    return rt.write_targets.get(zone, current.id)


def divergences(rt: AppRuntime) -> list[dict[str, Any]]:
    """Everything the convergence check finds wrong, as records."""
    bad: list[dict[str, Any]] = []
    live = {n: a for n, a in rt.nodes.items() if a.node.up}
    for node_id, app in live.items():
        if rt.wants_connection(node_id) and node_id not in rt.locked_out:
            for zone in rt.spec.providers_of(app.zone):
                conn = app.conns.get(app.up.get(zone, ""))
                if conn is None or not conn.open:
                    bad.append({"node": node_id, "problem": f"not connected to its provider in {zone}"})
    for zone in rt.spec.zones:
        nodes = [n for n in rt.zone_nodes(zone) if n in live]
        if rt.spec.providers_of(zone) or len(nodes) < 2:
            continue
        for name, st in rt.spec.states(zone).items():
            if isinstance(st, SourceState):
                first = live[nodes[0]].state(name)
                bad += [{"node": n, "path": f"/{zone}/{name}", "problem": f"differs from {nodes[0]}"}
                        for n in nodes[1:] if live[n].state(name) != first]

    def compare(app: AppNode, comp: str, effects: list[Effect], target_of: Any) -> None:
        for effect in effects:
            target = target_of(effect)
            if target is None or target not in live:
                continue
            _, name = split_path(effect.path)
            state = live[target].state(name)
            if not type(state).accepts(effect.msg):
                continue  # an incompatible effect: app.effects reports it
            if _applied(state, effect.msg).value() != state.value():
                bad.append({"node": target, "path": effect.path, "comp": comp, "for": app.id,
                            "problem": "differs from what its computation gives"})

    for node_id, app in live.items():
        if node_id in rt.locked_out or not rt.wants_connection(node_id):
            continue
        for comp in app._computations():
            outputs = rt.spec.outputs(comp)
            zones = {split_path(o)[0] for o in outputs}
            consumers = zones & set(rt.spec.consumers_of(app.zone))
            for sub, session in sorted(app.subscribers.items()):
                if rt.world.node(sub).zone in consumers:
                    effects = [e for e in app.expected(comp, Event(sub, session, "check"))
                               if split_path(e.path)[0] in consumers]
                    compare(app, comp, effects, lambda e, s=sub: e.node or s)
            if zones - consumers:
                effects = [e for e in app.expected(comp, Event(node_id, app.session, "check"))
                           if split_path(e.path)[0] not in consumers]
                compare(app, comp, effects, lambda e, a=app: a.id if split_path(e.path)[0] == a.zone
                        else _home(rt, a.id, split_path(e.path)[0]))
    return bad


def convergence_check(runtime: AppRuntime) -> Any:
    def check(world: World) -> CheckResult:
        bad = divergences(runtime)
        nodes = sum(1 for a in runtime.nodes.values() if a.node.up)
        message = f"{len(bad)} divergences" if bad else \
            f"{nodes} nodes: sources agree, every write arrived, every derived state is up to date"
        return CheckResult("app.convergence", not bad, message, {"divergences": bad[:10], "count": len(bad)})

    return check


def lost_data(rt: AppRuntime) -> list[str]:
    """Created data missing from the top zone or overwritten there (users removed and nodes
    gone offline excepted), as datum ids."""
    tops = [z for z in rt.spec.zones if not rt.spec.providers_of(z)]
    held: dict[str, Any] = {}
    for zone in tops:
        for node_id in rt.zone_nodes(zone):
            for st in rt.nodes[node_id].states.values():
                value = st.value()
                if isinstance(value, dict):
                    held.update((str(k), v) for k, v in value.items())
    excused = {rt.users[n] for n in rt.users if not rt.wants_connection(n)} | rt.removed
    lost = []
    for datum, fields in rt.created:
        if rt.truth.get(datum) in excused:
            continue
        value = held.get(datum)
        have = dict(value) if isinstance(value, tuple) else {}
        if value is None or any(have.get(k) != v for k, v in fields.items()):
            lost.append(datum)
    return sorted(set(lost))


def durability_check(runtime: AppRuntime) -> Any:
    def check(world: World) -> CheckResult:
        n = len(runtime.created)
        if not n:
            return CheckResult.not_checked("app.durability", "the workload created no data", {"lost": [], "count": 0})
        lost = lost_data(runtime)
        message = f"{len(lost)} of {n} created data lost" if lost else f"all {n} created data reached the top zone"
        return CheckResult("app.durability", not lost, message, {"lost": lost[:10], "count": len(lost)})

    return check


def strings_in(data: Any) -> set[str]:
    """Every string anywhere in plain JSON data (keys included)."""
    found: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.add(item)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return found


class LeakOracle:
    """Scans every message a user-zone node receives for data another user created."""

    def __init__(self, runtime: AppRuntime) -> None:
        self.runtime = runtime
        self.zones = set(runtime.spec.user_zones())
        self.leaks: list[dict[str, Any]] = []
        self.messages = 0
        self.bytes = 0
        runtime.receive_hooks.append(self.observe)

    def observe(self, node_id: str, msg: Message) -> None:
        rt = self.runtime
        if rt.nodes[node_id].zone not in self.zones:
            return
        self.messages += 1
        self.bytes += msg.size
        own = rt.users.get(node_id)
        foreign = sorted(d for d in strings_in(plain(msg.payload)) if d in rt.truth and rt.truth[d] != own)
        if foreign:
            self.leaks.append({"t": round(rt.world.now, 9), "node": node_id, "user": own, "kind": msg.kind,
                               "src": msg.src, "foreign": foreign[:5]})

    def check(self, world: World) -> CheckResult:
        details = {"leaks": self.leaks[:10], "count": len(self.leaks), "messages": self.messages}
        if not self.leaks and (not self.messages or not self.runtime.truth):
            # with no message received, or no datum anyone owns, nothing could leak
            why = "no message reached a user zone" if not self.messages else "the workload created no data"
            return CheckResult.not_checked("app.leaks", why, details)
        message = f"{len(self.leaks)} leaks" if self.leaks else \
            f"no leak in {self.messages} messages ({self.bytes} bytes) received by clients"
        return CheckResult("app.leaks", not self.leaks, message, details)


def leak_check(runtime: AppRuntime) -> Any:
    return LeakOracle(runtime).check


def find_leaks(runtime: AppRuntime) -> list[dict[str, Any]]:
    """The leaks the runtime's oracle saw."""
    for _, fn in runtime.world.checks:
        oracle = getattr(fn, "__self__", None)
        if isinstance(oracle, LeakOracle) and oracle.runtime is runtime:
            return list(oracle.leaks)
    return []


def work_for_disconnected(events: Iterable[TraceEvent]) -> list[dict[str, Any]]:
    """Computations a provider ran for a subscriber that was not connected to it at the time."""
    subscribed: set[tuple[str, str, str | None]] = set()
    bad = []
    for e in events:
        f = e.fields
        if e.kind == "app.subscribe":
            subscribed.add((f["node"], f["subscriber"], f.get("conn")))
        elif e.kind == "app.unsubscribe":
            subscribed.discard((f["node"], f["subscriber"], f.get("conn")))
        elif e.kind == "app.compute" and f["subscriber"] not in (None, f["node"]):
            if (f["node"], f["subscriber"], f.get("conn")) not in subscribed:
                bad.append({"t": e.t, "node": f["node"], "subscriber": f["subscriber"], "comp": f["comp"]})
    return bad


def redundant_sends(events: Iterable[TraceEvent]) -> list[dict[str, Any]]:
    """Values sent on a connection that left the receiver's value as the previous send did."""
    last: dict[tuple[str, str], str] = {}
    bad = []
    for e in events:
        if e.kind == "app.send":
            f = e.fields
            key = (f["conn"], f["path"])
            if last.get(key) == f["digest"]:
                bad.append({"t": e.t, "node": f["node"], "dst": f["dst"], "path": f["path"]})
            last[key] = f["digest"]
    return bad


def on_demand_check(runtime: AppRuntime) -> Any:
    def check(world: World) -> CheckResult:
        bad = work_for_disconnected(world.trace.events)
        again = redundant_sends(world.trace.events)
        runs = sum(runtime.runs_for.values())
        sent = runtime.counters.get("effects_sent", 0)
        details = {"bad": bad[:10], "resent_unchanged": again[:10], "resent_count": len(again)}
        if not bad and not again and not any(e.kind in ("app.compute", "app.send") for e in world.trace.events):
            return CheckResult.not_checked("app.on_demand", "the trace holds no computation run and no send", details)
        if bad or again:
            message = f"{len(bad)} runs for disconnected nodes, {len(again)} unchanged values re-sent"
        else:
            message = f"all {runs} per-subscriber runs were for connected nodes; {sent} effects sent, none unchanged"
        return CheckResult("app.on_demand", not bad and not again, message, details)

    return check
