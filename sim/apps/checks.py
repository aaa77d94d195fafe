"""The leak checker: from the trace alone, no client ever received another user's data.

It reads ``app.session`` events (which user each client node was issued a session for) and
``app.apply`` events (every effect applied, with its encoded message). Any ``["user", X]``
pair inside data applied at a node of a user zone must name that node's own user. The checker
does not ask the runtime who owns what: a broken access rule in a computation shows up here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sim.checks import CheckResult

if TYPE_CHECKING:
    from sim.apps.runtime import AppRuntime
    from sim.trace import TraceEvent
    from sim.world import World

__all__ = ["find_leaks", "leak_check", "users_in"]


def users_in(data: Any) -> set[str]:
    """Every user named by a ``["user", X]`` pair anywhere in encoded data."""
    found: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            if len(item) == 2 and item[0] == "user" and isinstance(item[1], str):
                found.add(item[1])
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


def find_leaks(events: Iterable[TraceEvent], user_zones: Iterable[str]) -> list[dict[str, Any]]:
    """Applied effects at user-zone nodes carrying data of a user other than the node's own."""
    zones = set(user_zones)
    owner: dict[str, str] = {}
    leaks = []
    for e in events:
        f = e.fields
        if e.kind == "app.session":
            owner[f["node"]] = f["user"]
        elif e.kind == "app.apply" and f["zone"] in zones:
            foreign = sorted(users_in(f["data"]) - {owner.get(f["node"], "")})
            if foreign:
                leaks.append({"t": e.t, "node": f["node"], "user": owner.get(f["node"]), "path": f["path"],
                              "foreign": foreign})
    return leaks


def leak_check(runtime: AppRuntime) -> Any:
    def check(world: World) -> CheckResult:
        leaks = find_leaks(world.trace.events, runtime.spec.user_zones())
        applied = sum(1 for e in world.trace.events if e.kind == "app.apply")
        message = f"{len(leaks)} leaks" if leaks else f"no leak in {applied} applied effects"
        return CheckResult("app.leaks", not leaks, message, {"leaks": leaks[:10], "count": len(leaks)})

    return check


def work_for_disconnected(events: Iterable[TraceEvent]) -> list[dict[str, Any]]:
    """Computations a provider ran for a subscriber that was not connected to it at the time."""
    subscribed: set[tuple[str, str]] = set()
    bad = []
    for e in events:
        f = e.fields
        if e.kind == "app.subscribe":
            subscribed.add((f["node"], f["subscriber"]))
        elif e.kind == "app.unsubscribe":
            subscribed.discard((f["node"], f["subscriber"]))
        elif e.kind == "app.compute" and f["subscriber"] not in (None, f["node"]):
            if (f["node"], f["subscriber"]) not in subscribed:
                bad.append({"t": e.t, "node": f["node"], "subscriber": f["subscriber"], "comp": f["comp"]})
    return bad


def on_demand_check(runtime: AppRuntime) -> Any:
    def check(world: World) -> CheckResult:
        bad = work_for_disconnected(world.trace.events)
        runs = sum(runtime.runs_for.values())
        message = f"{len(bad)} runs for disconnected nodes" if bad else f"all {runs} per-subscriber runs were for " \
                  "connected nodes"
        return CheckResult("app.on_demand", not bad, message, {"bad": bad[:10]})

    return check
