"""The ``app`` section of a scenario: which app, its users, workload, sessions, attacks, extensions.

.. code-block:: yaml

    app:
      spec: todo                 # a bundled app; or inline `zones`/`channels` with `registry: todo`
      variant: {filter_rule: filter_todos_broken}
      workload: {rate: 4/s}
      todos: [{at: 0.5s, node: client-1, title: milk}]
      sessions: [{at: 1s, disconnect: client-2}, {at: 3s, reconnect: client-2}]
      attacks: [{at: 1s, node: client-3, impersonate: u1}, {at: 1.2s, node: client-3, steal: client-1}]
      session_ttl: 2s
      login: password            # or trust_claim: the broken variant that believes the claimed user
      delivery: reliable         # or once: the broken variant that never re-sends
      eager: false               # true: the broken variant that computes and sends everything
      on_incompatible: raise     # or reject: count and drop incompatible effects
      storage: {client: sqlite}  # RAM in front of a durable store per node (sqlite or memory)
      replicas: {zone: db}       # its first node (or `primary`) takes the writes, the others serve reads
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from sim.apps.attacks import attack, kind_of
from sim.apps.external import External
from sim.apps.runtime import AppRuntime, Extension
from sim.apps.spec import AppSpec
from sim.apps.storage import Storage, build_stores
from sim.apps.todo import TODO, add_todo, todo_spec, todo_workload
from sim.errors import ConfigError
from sim.units import parse_duration

if TYPE_CHECKING:
    from pathlib import Path

    from sim.scenario.load import Scenario
    from sim.world import World

__all__ = ["build_app", "APPS", "REGISTRIES"]

APPS = {"todo": todo_spec}
REGISTRIES = {"todo": TODO}
_KEYS = {"spec", "registry", "zones", "channels", "variant", "users", "workload", "todos", "sessions", "attacks",
         "session_ttl", "on_incompatible", "channel", "storage", "replicas", "exports", "login", "delivery", "eager"}


def _spec(app: dict[str, Any]) -> AppSpec:
    if "zones" in app:
        name = app.get("registry", "todo")
        if name not in REGISTRIES:
            raise ConfigError("registry", f"must be one of {sorted(REGISTRIES)}", name)
        return AppSpec.from_data(app, REGISTRIES[name], name=app.get("spec", name))
    name = app.get("spec", "todo")
    if name not in APPS:
        raise ConfigError("spec", f"must be one of {sorted(APPS)} (or give zones and channels)", name)
    return APPS[name](**app.get("variant", {}))


def _programs(spec: AppSpec) -> list[str]:
    """The programs the spec's external computations run (their first word)."""
    found = []
    for zone in spec.zones:
        for comp in spec.computations(zone).values():
            fn = spec.registry.functions.get(comp.name)
            if isinstance(fn, External) and fn.argv[0] not in found:
                found.append(fn.argv[0])
    return found


def _choice(scenario: Scenario, app: dict[str, Any], key: str, choices: tuple[Any, ...]) -> Any:
    value = app.get(key, choices[0])
    if value not in choices:
        raise scenario.error(("app", key), f"one of {', '.join(repr(c) for c in choices)}", value)
    return value


def build_app(scenario: Scenario, world: World, workdir: Path | None = None) -> AppRuntime:
    app = scenario.get("app")
    for key in app:
        if key not in _KEYS:
            raise scenario.error(("app", key), f"a known key (one of {sorted(_KEYS)})", key)
    try:
        spec = _spec(app)
    except ConfigError as error:
        raise _at_app_path(scenario, error) from None
    for program in _programs(spec):
        if shutil.which(program) is None:
            where = ("app", "variant") if "variant" in app else ("app",)
            raise scenario.error(where, f"the program {program!r} of its external computations on PATH "
                                        f"(install Node.js for {program!r})", "none")
    for zone in spec.zones:
        if not world.topology.has_zone(zone):
            raise scenario.error(("app",), f"zones to include the app zone {zone!r}", sorted(scenario.get("zones")))
    with scenario.at("app", "channel"):
        for name in sorted({c.type for c in spec.channels}):
            if not world.network.has_channel(name):
                world.define_channel(name, app.get("channel", {"latency": {"exponential": {"mean": "10ms",
                                                                                            "min": "2ms"}}}))
    for c in spec.channels:
        world.connect_zones(c.from_zone, c.to_zone, c.type)
    on_incompatible = _choice(scenario, app, "on_incompatible", ("raise", "reject"))
    login = _choice(scenario, app, "login", ("password", "trust_claim"))
    delivery = _choice(scenario, app, "delivery", ("reliable", "once"))
    eager = _choice(scenario, app, "eager", (False, True))
    with scenario.at("app", "session_ttl"):
        ttl = parse_duration(app.get("session_ttl", 3600.0), "session_ttl")
    with scenario.at("app", "storage"):
        stores = build_stores(app.get("storage", {}), spec, world, workdir)
    extensions: list[Extension] = [Storage(stores)] if stores else []
    if _programs(spec):
        from sim.apps.external import ExternalPrograms

        extensions.append(ExternalPrograms())
    if "replicas" in app:
        from sim.apps.replicas import Replication

        replicas = app["replicas"]
        if not isinstance(replicas, dict) or set(replicas) - {"zone", "primary"}:
            raise scenario.error(("app", "replicas"), "a mapping with zone and primary", replicas)
        extensions.append(Replication(replicas.get("zone", "db"), replicas.get("primary")))
    if "exports" in app:  # long-running exports with progress (sim.apps.progress)
        from sim.apps.progress import Progress

        extensions.append(Progress())
    with scenario.at("app", "replicas" if "replicas" in app else "extensions"):
        runtime = AppRuntime(world, spec, users=app.get("users"), strict=on_incompatible == "raise",
                             session_ttl=ttl, extensions=extensions, login=login,
                             send_once=delivery == "once", eager=eager)
    if "workload" in app:
        with scenario.at("app", "workload"):
            world.add_workload(todo_workload(runtime, app["workload"].get("rate", "2/s"),
                                             app["workload"].get("nodes")))
    for i, t in enumerate(app.get("todos", [])):
        _node_holding(scenario, runtime, ("app", "todos", i, "node"), t["node"], "edits")
        with scenario.at("app", "todos", i):
            world.schedule(parse_duration(t["at"], "at"),
                           lambda t=t: None if add_todo(runtime, t["node"], t["title"]) else None)  # type: ignore[misc]
    if "exports" in app:
        from sim.apps.progress import schedule_exports

        for i, e in enumerate(app["exports"]):
            _node_holding(scenario, runtime, ("app", "exports", i, "node"), e["node"], "export_request")
        with scenario.at("app", "exports"):
            schedule_exports(runtime, [(parse_duration(e["at"], "at"), e["node"]) for e in app["exports"]])
    for i, s in enumerate(app.get("sessions", [])):
        kind = "disconnect" if "disconnect" in s else "reconnect"
        node = s[kind]
        _node_holding(scenario, runtime, ("app", "sessions", i, kind), node, None)
        with scenario.at("app", "sessions", i):
            action = runtime.disconnect if "disconnect" in s else runtime.reconnect
            world.schedule(parse_duration(s["at"], "at"), lambda a=action, n=node: a(n))  # type: ignore[misc]
    for i, a in enumerate(app.get("attacks", [])):
        _node_holding(scenario, runtime, ("app", "attacks", i, "node"), a["node"], None)
        if "replay" in a:
            _node_holding(scenario, runtime, ("app", "attacks", i, "replay"), a["replay"], None)
        with scenario.at("app", "attacks", i):
            runtime.node(a["node"])
            kind_of({k: v for k, v in a.items() if k not in ("at", "node")})
            world.schedule(parse_duration(a["at"], "at"),
                           lambda a=a: attack(runtime, a["node"], a))  # type: ignore[misc]
    return runtime


def _at_app_path(scenario: Scenario, error: ConfigError) -> Exception:
    """An app-spec error at its YAML path: ``/db/x: computer`` is ``app.zones.db.x.computer``."""
    param = str(error.param)
    where: tuple[str | int, ...] = ("app",)
    head, _, field = param.partition(": ")
    parts = head.split("/")
    if len(parts) == 3 and not parts[0] and parts[1] in (app := scenario.get("app")).get("zones", {}):
        where = ("app", "zones", parts[1], parts[2])
        entry = app["zones"][parts[1]].get(parts[2])
        if isinstance(entry, dict) and field.split()[0:1] and field.split()[0] in entry:
            where = (*where, field.split()[0])
    elif param.startswith("app channel"):
        where = ("app", "channels")
    elif param in ("spec", "registry"):
        where = ("app", param)
    elif param == "app path" and isinstance(error.found, str):
        where = _find_path_value(scenario.get("app"), error.found) or where
    expected = str(error.expected)
    expected = expected.removeprefix("must be ") if expected.startswith("must be ") else \
        "to " + expected.removeprefix("must ") if expected.startswith("must ") else expected
    return scenario.error(where, f"{expected} ({param})", error.found)


def _find_path_value(app: dict[str, Any], value: str) -> tuple[str | int, ...] | None:
    """Where in ``app.zones`` the path text ``value`` is used (``computer``, ``depends_on``, ``writes``)."""
    for zone, entries in app.get("zones", {}).items():
        for name, entry in entries.items():
            for field in ("computer", "depends_on", "writes"):
                used = entry.get(field)
                if used == value:
                    return ("app", "zones", zone, name, field)
                if isinstance(used, list) and value in used:
                    return ("app", "zones", zone, name, field, used.index(value))
    return None


def _node_holding(scenario: Scenario, runtime: AppRuntime, where: tuple[str | int, ...], node: str,
                  state: str | None) -> None:
    """Refuse ``node`` unless it is an app node (whose zone holds ``state``, where the action writes)."""
    zones = sorted(z for z in runtime.spec.zones if state is None or state in runtime.spec.zones[z])
    nodes = sorted(n for z in zones for n in runtime.zone_nodes(z))
    if node not in nodes:
        shown = nodes if len(nodes) <= 8 else [*nodes[:8], "…"]
        what = "an app node" if state is None else f"a node of an app zone holding {state!r}"
        raise scenario.error(where, f"{what} (one of {shown})", node)
