"""The application model: zones of nodes holding source state, derived state and computations.

An :class:`AppSpec` names zones; each zone has a node spec mapping names to

* :class:`SourceState` — a CRDT of the library holding values of one value type, with an
  initial value; changed by local mutations (and by effects of computations that declare it in
  their ``writes``);
* :class:`DerivedState` — a CRDT produced by a computation (``computer``, a path) from the
  paths it ``depends_on`` (which must live in the computer's zone: computations read local
  state only);
* :class:`Computation` — a Python function ``(node, event) -> Effect | list[Effect] | None``
  registered under a name (see :class:`Registry`), so YAML can refer to it.

Paths are ``/zone/name``. Channels connect zones: nodes of ``to_zone`` connect to a node of
``from_zone`` (their provider), which issues their session.

>>> spec = AppSpec.from_data({
...     "zones": {"server": {"count": {"crdt": "LWWRegister", "value": "number", "init": 0},
...                          "double": {"computation": "double", "depends_on": ["/server/count"],
...                                     "writes": ["/server/twice"]},
...                          "twice": {"crdt": "LWWRegister", "value": "number"}}},
... }, Registry("demo", {"double": lambda node, event: None}))
>>> spec.order()
['/server/count', '/server/double', '/server/twice']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crdt import Crdt
from crdt.codec import registered_types
from sim.deprecation import renamed
from sim.errors import ConfigError, SimError

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "VALUE_TYPES",
    "AppSpec",
    "Channel",
    "Computation",
    "DerivedState",
    "DependencyCycleError",
    "Registry",
    "SourceState",
    "check_value",
    "obj",
    "split_path",
]

VALUE_TYPES: tuple[str, ...] = ("object", "number", "string", "boolean", "array")

ComputationFn = Callable[[Any, Any], Any]


class DependencyCycleError(ConfigError):
    """The dependency graph of an app has a cycle; the message names it."""

    def __init__(self, cycle: Sequence[str]) -> None:
        text = " -> ".join([*cycle, cycle[0]])
        SimError.__init__(self, f"app dependency cycle: {text}")
        self.param, self.expected, self.found = "app", "an acyclic dependency graph", text
        self.cycle = list(cycle)


def obj(**fields: Any) -> tuple[tuple[str, Any], ...]:
    """An ``object`` value: CRDT elements are immutable, so an object is sorted (key, value) pairs.

    >>> obj(title="milk", user="u1")
    (('title', 'milk'), ('user', 'u1'))
    """
    return tuple(sorted(fields.items()))


def is_object(value: Any) -> bool:
    return isinstance(value, tuple) and all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in value
    )


def check_value(value_type: str, value: Any) -> bool:
    """True if ``value`` is a value of ``value_type`` (None, an absent value, always fits)."""
    if value is None:
        return True
    if value_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if value_type == "string":
        return isinstance(value, str)
    if value_type == "boolean":
        return isinstance(value, bool)
    if value_type == "array":
        return isinstance(value, tuple)
    return is_object(value)


def split_path(path: str) -> tuple[str, str]:
    """``"/client/my_todos"`` -> ``("client", "my_todos")``."""
    parts = path.split("/") if isinstance(path, str) else []
    if len(parts) != 3 or parts[0] != "" or not parts[1] or not parts[2]:
        raise ConfigError("app path", "must look like /zone/name", path)
    return parts[1], parts[2]


def _crdt_type(name: str, where: str) -> type[Crdt[Any]]:
    types = registered_types()
    if name not in types:
        raise ConfigError(f"{where}: crdt", f"must be one of {sorted(types)}", name)
    return types[name]


@dataclass(frozen=True)
class SourceState:
    """A state users write: a CRDT of the library by name (``LWWMap``, ``GSet`` …) holding values
    of ``value_type`` (``object``, ``number``, ``string``, ``boolean``, ``array``), starting at ``init``.

    >>> SourceState("LWWRegister", "string").type().__name__
    'LWWRegister'
    """

    crdt: str
    value_type: str
    init: Any = None

    def type(self) -> type[Crdt[Any]]:
        """The CRDT class ``crdt`` names."""
        return registered_types()[self.crdt]


@dataclass(frozen=True)
class DerivedState:
    """A state only a computation writes: the computation at path ``computer`` produces it from
    paths in its own zone (``depends_on`` adds triggers)."""

    crdt: str
    value_type: str
    computer: str
    depends_on: tuple[str, ...] = ()

    def type(self) -> type[Crdt[Any]]:
        """The CRDT class ``crdt`` names."""
        return registered_types()[self.crdt]


@dataclass(frozen=True)
class Computation:
    """A computation by registered name; ``depends_on``/``writes`` add triggers and outputs to
    those implied by the derived states it computes."""

    name: str
    depends_on: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


State = SourceState | DerivedState
Entry = SourceState | DerivedState | Computation


@dataclass(frozen=True)
class Channel:
    """Each node of ``to_zone`` connects to one node of ``from_zone`` (its provider, round robin)
    and logs in; ``type`` names the transport (``websocket``)."""

    from_zone: str
    to_zone: str
    type: str = "websocket"


class Registry:
    """Computations by name (the todo app's are in :mod:`sim.apps.todo`), and the app's write
    guards: ``guards[path](path, msg, session) -> bool`` decides whether a write from below to
    ``path`` is allowed."""

    def __init__(self, name: str, functions: Mapping[str, ComputationFn] | None = None) -> None:
        self.name = name
        self.functions: dict[str, ComputationFn] = dict(functions or {})
        self.guards: dict[str, Callable[[str, Any, Any], bool]] = {}

    def guard(self, path: str) -> Callable[[Callable[[str, Any, Any], bool]], Callable[[str, Any, Any], bool]]:
        """Register the write guard of ``path``."""
        def decorate(fn: Callable[[str, Any, Any], bool]) -> Callable[[str, Any, Any], bool]:
            self.guards[path] = fn
            return fn

        return decorate

    def register(self, name: str) -> Callable[[ComputationFn], ComputationFn]:
        """A decorator registering a computation under ``name``."""
        def decorate(fn: ComputationFn) -> ComputationFn:
            self.functions[name] = fn
            return fn

        return decorate

    def get(self, name: str, where: str) -> ComputationFn:
        """The computation ``name``; a :class:`ConfigError` at ``where`` if none is registered so."""
        if name not in self.functions:
            raise ConfigError(f"{where}: computation", f"must be registered in {self.name!r} "
                              f"(one of {sorted(self.functions)})", name)
        return self.functions[name]


@dataclass
class AppSpec:
    """Zones of node specs, channels between zones, and the computations' registry."""

    zones: dict[str, dict[str, Entry]]
    channels: list[Channel] = field(default_factory=list)
    registry: Registry = field(default_factory=lambda: Registry("empty"))
    name: str = "app"

    def __post_init__(self) -> None:
        self.validate()

    # -- lookups ----------------------------------------------------------------------------

    def entry(self, path: str) -> Entry:
        """The state or computation at ``path`` (``zone/name``)."""
        zone, name = split_path(path)
        try:
            return self.zones[zone][name]
        except KeyError:
            raise ConfigError("app path", f"must name a declared state or computation (zones {sorted(self.zones)})",
                              path) from None

    def state(self, path: str) -> State:
        """The state at ``path``; a :class:`ConfigError` if the path names a computation."""
        entry = self.entry(path)
        if isinstance(entry, Computation):
            raise ConfigError("app path", "must name a state, not a computation", path)
        return entry

    def states(self, zone: str) -> dict[str, State]:
        """The source and derived states of ``zone`` by name."""
        return {n: e for n, e in self.zones[zone].items() if not isinstance(e, Computation)}

    def computations(self, zone: str) -> dict[str, Computation]:
        """The computations of ``zone`` by name."""
        return {n: e for n, e in self.zones[zone].items() if isinstance(e, Computation)}

    def function(self, path: str) -> ComputationFn:
        """The registered function of the computation at ``path``."""
        entry = self.entry(path)
        assert isinstance(entry, Computation)
        return self.registry.get(entry.name, path)

    # -- validation and the dependency graph ------------------------------------------------

    def validate(self) -> None:
        """Check the spec before any node exists: known CRDT and value types, computers and
        dependencies in reach, channels between known zones, no dependency cycle."""
        if not self.zones:
            raise ConfigError("app zones", "must name at least one zone", self.zones)
        for zone, entries in self.zones.items():
            for name, entry in entries.items():
                where = f"/{zone}/{name}"
                if isinstance(entry, SourceState | DerivedState):
                    _crdt_type(entry.crdt, where)
                    if entry.value_type not in VALUE_TYPES:
                        raise ConfigError(f"{where}: value", f"must be one of {list(VALUE_TYPES)}", entry.value_type)
                if isinstance(entry, DerivedState):
                    computer = self.entry(entry.computer)
                    if not isinstance(computer, Computation):
                        raise ConfigError(f"{where}: computer", "must name a computation", entry.computer)
                    czone, _ = split_path(entry.computer)
                    if czone != zone and not self.adjacent(czone, zone):
                        raise ConfigError(f"{where}: computer", f"must live in zone {zone!r} or a zone with a "
                                          "channel to it", entry.computer)
                    for dep in entry.depends_on:
                        self._check_local_dep(where, entry.computer, dep)
                elif isinstance(entry, Computation):
                    self.registry.get(entry.name, where)
                    for dep in entry.depends_on:
                        self._check_local_dep(where, where, dep)
                    for target in entry.writes:
                        self.state(target)
                elif not isinstance(entry, SourceState):
                    raise ConfigError(f"{where}", "must be a SourceState, DerivedState or Computation", entry)
        for channel in self.channels:
            for z in (channel.from_zone, channel.to_zone):
                if z not in self.zones:
                    raise ConfigError("app channel zone", f"must be one of {sorted(self.zones)}", z)
        self.graph()

    def _check_local_dep(self, where: str, computer: str, dep: str) -> None:
        self.state(dep)
        if split_path(dep)[0] != split_path(computer)[0]:
            raise ConfigError(f"{where}: depends_on", f"must be paths in the zone of its computer {computer} "
                              "(computations read local state only)", dep)

    def adjacent(self, a: str, b: str) -> bool:
        """Whether a channel joins zones ``a`` and ``b`` (either way)."""
        return any({c.from_zone, c.to_zone} == {a, b} for c in self.channels)

    def graph(self) -> nx.DiGraph:
        """Paths as vertices; edges dependency -> computation -> state it produces or writes."""
        import networkx as nx  # on first use: a run without an app never needs it

        g = nx.DiGraph()
        for zone, entries in self.zones.items():
            for name in entries:
                g.add_node(f"/{zone}/{name}")
        for zone, entries in self.zones.items():
            for name, entry in entries.items():
                path = f"/{zone}/{name}"
                if isinstance(entry, DerivedState):
                    for dep in entry.depends_on:
                        g.add_edge(dep, entry.computer)
                    g.add_edge(entry.computer, path)
                elif isinstance(entry, Computation):
                    for dep in entry.depends_on:
                        g.add_edge(dep, path)
                    for target in entry.writes:
                        g.add_edge(path, target)
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            return g
        raise DependencyCycleError([a for a, _ in cycle])

    def order(self) -> list[str]:
        """Every path in dependency order (ties broken by name)."""
        import networkx as nx

        return list(nx.lexicographical_topological_sort(self.graph()))

    def outputs(self, computation: str) -> list[str]:
        """The states ``computation`` may send effects to, sorted."""
        return sorted(self.graph().successors(computation))

    def triggers(self, path: str) -> list[str]:
        """Computations that rerun when the state at ``path`` changes, sorted."""
        return sorted(self.graph().successors(path))

    def providers_of(self, zone: str) -> list[str]:
        """Zones whose nodes serve ``zone``'s nodes (channels ``from_zone -> zone``)."""
        return [c.from_zone for c in self.channels if c.to_zone == zone]

    def consumers_of(self, zone: str) -> list[str]:
        """The zones whose nodes connect to nodes of ``zone`` (its channels' consumers)."""
        return [c.to_zone for c in self.channels if c.from_zone == zone]

    def user_zones(self) -> list[str]:
        """Zones that only consume (clients): their sessions are end users', never trusted."""
        return sorted(z for z in self.zones if self.providers_of(z) and not self.consumers_of(z))

    # -- from YAML-shaped data ----------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], registry: Registry, name: str = "app") -> AppSpec:
        """Deprecated name of :meth:`from_data`."""
        renamed("AppSpec.from_dict", "AppSpec.from_data")
        return cls.from_data(data, registry, name)

    @classmethod
    def from_data(cls, data: Mapping[str, Any], registry: Registry, name: str = "app") -> AppSpec:
        """``{zones: {zone: {name: {crdt, value, init} | {crdt, value, computer, depends_on} |
        {computation, depends_on, writes}}}, channels: [{from, to, type}]}``."""
        zones: dict[str, dict[str, Entry]] = {}
        for zone, entries in dict(data.get("zones", {})).items():
            zones[zone] = {}
            for key, e in dict(entries).items():
                where = f"/{zone}/{key}"
                if not isinstance(e, Mapping):
                    raise ConfigError(where, "must be a mapping", e)
                if "computation" in e:
                    zones[zone][key] = Computation(e["computation"], tuple(e.get("depends_on", ())),
                                                   tuple(e.get("writes", ())))
                elif "computer" in e:
                    zones[zone][key] = DerivedState(e["crdt"], e["value"], e["computer"],
                                                    tuple(e.get("depends_on", ())))
                else:
                    zones[zone][key] = SourceState(e["crdt"], e["value"], _init(e.get("init")))
        channels = [Channel(c["from"], c["to"], c.get("type", "websocket")) for c in data.get("channels", [])]
        return cls(zones, channels, registry, name)


def _init(value: Any) -> Any:
    """YAML lists become tuples (arrays), mappings become objects."""
    if isinstance(value, list):
        return tuple(_init(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((k, _init(v)) for k, v in value.items()))
    return value
