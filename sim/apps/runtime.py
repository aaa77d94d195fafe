"""Running an :class:`~sim.apps.spec.AppSpec` on a :class:`~sim.world.World`.

One :class:`AppNode` component per node of every app zone holds that node's states. Nodes of a
channel's ``to_zone`` connect to a node of its ``from_zone`` (their provider, round robin),
which issues them a signed session and from then on runs, for each connected subscriber, the
computations whose outputs live in the subscriber's zone. Effects travel as ``app.effect``
messages with their encoded size; a change of a state reruns the computations that depend on
it, in dependency order.

>>> from sim.apps.todo import todo_spec
>>> from sim.world import World
>>> w = World(seed=1)
>>> app = launch(w, todo_spec(), {"db": 1, "server": 1, "client": 2})
>>> app.at(0.5, lambda: app.add_todo("client-1", "milk"))
>>> w.run(duration="1s").ok
True
>>> [t[1][1] for t in app.node("client-1").value("my_todos")], app.node("client-2").value("my_todos")
(['milk'], ())
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crdt import Crdt, Op
from crdt.codec import encode, encode_op, size
from sim.apps.session import Session, issue, secret_for, verify
from sim.apps.spec import AppSpec, DerivedState, SourceState, check_value, split_path
from sim.checks import CheckResult
from sim.errors import ConfigError, SimError

if TYPE_CHECKING:
    from sim.network import Message
    from sim.node import Node
    from sim.world import World

__all__ = ["AppNode", "AppRuntime", "Effect", "EffectTypeError", "Event", "launch", "HEADER_BYTES"]

HEADER_BYTES = 32
Guard = Callable[[str, Any, Session], bool]


class EffectTypeError(SimError):
    """An effect whose message does not fit the CRDT (or value type) of its target."""

    def __init__(self, computation: str, path: str, target: str, found: str) -> None:
        super().__init__(f"computation {computation} sent {found} to {path}, which holds {target}")
        self.computation, self.path, self.target, self.found = computation, path, target, found


@dataclass(frozen=True)
class Effect:
    """A message for the CRDT at ``path``: an op of its type, or a state/delta to merge.

    ``node`` picks the target node; by default the node the event is for.
    """

    path: str
    msg: Crdt[Any] | Op
    node: str | None = None


@dataclass(frozen=True)
class Event:
    """What a computation runs for: the node (subscriber) and its session, the changed path."""

    node: str | None
    session: Session | None
    cause: str = ""
    payload: Any = None

    @property
    def user(self) -> str | None:
        return None if self.session is None else self.session.user


def initial(state: SourceState | DerivedState) -> Crdt[Any]:
    """The CRDT a state starts as: empty, or holding ``init`` written at time 0 by ``"init"``."""
    value = state.type()()
    init = getattr(state, "init", None)
    if init is None:
        return value
    if state.crdt in ("LWWRegister",):
        return value.mutate("set", "init", init, 0)
    if state.crdt == "LWWMap":
        for k, v in init:
            value = value.mutate("set", "init", k, v, 0)
        return value
    for element in init:
        value = value.mutate("add", "init", element)
    return value


def _values_of(msg: Crdt[Any] | Op) -> list[Any]:
    """The application values a message carries (elements, register or map values)."""
    if isinstance(msg, Crdt):
        v = msg.value()
        if isinstance(v, dict):
            return list(v.values())
        if isinstance(v, frozenset | set):
            return sorted(v, key=repr)
        return [v]
    for attr in ("value", "element"):
        if hasattr(msg, attr):
            return [getattr(msg, attr)]
    return []


def describe(msg: Any) -> str:
    if isinstance(msg, Crdt):
        return f"a {msg.type_name} state"
    if isinstance(msg, Op):
        owner = type(msg).__module__.rsplit(".", 1)[-1]
        return f"a {type(msg).__name__} op (of module crdt.{owner})"
    return f"a {type(msg).__name__}"


def encoded(msg: Crdt[Any] | Op, type_name: str) -> Any:
    return encode(msg) if isinstance(msg, Crdt) else encode_op(type_name, msg)


class AppNode:
    """The ``app`` component of one node: its states, sessions and subscribers."""

    def __init__(self, runtime: AppRuntime, node: Node) -> None:
        self.runtime, self.node, self.id, self.zone = runtime, node, node.id, node.zone
        self.spec = runtime.spec
        self.providers: dict[str, str] = {}
        self._dirty: dict[str, None] = {}
        self._flushing = False
        node.add_component("app", self)
        for kind, handler in (("app.connect", self._on_connect), ("app.session", self._on_session),
                              ("app.denied", self._on_denied), ("app.disconnect", self._on_disconnect),
                              ("app.effect", self._on_effect)):
            node.on_message(kind, handler)
        node.on_start(self._start)

    # -- state ------------------------------------------------------------------------------

    @property
    def states(self) -> dict[str, Crdt[Any]]:
        store = self.runtime.store_for(self.zone)
        if store is None:
            return self.node.durable.setdefault("app", {})
        return self.node.volatile.setdefault("app", {})  # RAM in front of the durable store

    def state(self, name: str) -> Crdt[Any]:
        return self.states[name]

    def value(self, name: str) -> Any:
        return self.states[name].value()

    def timestamp(self) -> float:
        return self.node.local_time()

    @property
    def user(self) -> str | None:
        return self.runtime.users.get(self.id)

    @property
    def session(self) -> Session | None:
        """This node's own session (from its first provider), if it has one."""
        sessions = self.node.volatile.get("app.sessions", {})
        return next(iter(sessions.values()), None)

    @property
    def subscribers(self) -> dict[str, Session]:
        return self.node.volatile.setdefault("app.subscribers", {})

    def _start(self) -> None:
        store = self.runtime.store_for(self.zone)
        states = self.states
        loaded = store.load(self.id) if store is not None else {}
        for name, spec in self.spec.states(self.zone).items():
            if name not in states:
                states[name] = loaded.get(name, initial(spec))
        self.node.volatile["app.sessions"] = {}
        if self.runtime.wants_connection(self.id):
            for zone in self.spec.providers_of(self.zone):
                self.connect(zone)

    # -- sessions ---------------------------------------------------------------------------

    def connect(self, zone: str, resume: Session | None = None) -> None:
        provider = self.providers[zone]
        payload = {"user": self.runtime.login_of(self.id), "resume": resume}
        self.node.send(provider, "app.connect", payload, HEADER_BYTES + (resume.size() if resume else 32))

    def disconnect(self) -> None:
        for zone, provider in self.providers.items():
            self.node.volatile.get("app.sessions", {}).pop(zone, None)
            self.node.send(provider, "app.disconnect", None, HEADER_BYTES)

    def _on_connect(self, msg: Message) -> None:
        rt = self.runtime
        resume: Session | None = msg.payload["resume"]
        if resume is not None:
            outcome = rt.verify(resume, self.world_now())
            if outcome == "ok" and resume.claim("node") != msg.src:
                outcome = "stolen"
            if outcome != "ok":
                rt.reject(self.id, msg.src, outcome, resume.claim("user"))
                self.node.send(msg.src, "app.denied", outcome, HEADER_BYTES)
                return
            session = resume
        else:
            claims = {"user": msg.payload["user"], "node": msg.src, "issuer": self.id,
                      "exp": round(self.world_now() + rt.session_ttl, 9)}
            session = issue(claims, rt.secret(self.id))
            rt.count("sessions_issued")
            rt.world.trace.record("app.session", node=msg.src, user=session.user, issuer=self.id)
        self.subscribers[msg.src] = session
        rt.world.trace.record("app.subscribe", node=self.id, subscriber=msg.src)
        self.node.send(msg.src, "app.session", session, HEADER_BYTES + session.size())
        # catch the new subscriber up: every computation with an output in its zone
        zone = self.runtime.world.node(msg.src).zone
        for comp in self._computations():
            if any(split_path(o)[0] == zone for o in self.spec.outputs(comp)):
                self._run(comp, Event(msg.src, session, "connect"))

    def _on_session(self, msg: Message) -> None:
        zone = self.runtime.world.node(msg.src).zone
        self.node.volatile.setdefault("app.sessions", {})[zone] = msg.payload
        # writes made while offline go out now
        for comp in self._computations():
            if any(split_path(o)[0] in self._upstream_zones() for o in self.spec.outputs(comp)):
                self._run(comp, Event(self.id, msg.payload, "session"))

    def _on_denied(self, msg: Message) -> None:
        self.runtime.count("connections_denied")
        zone = self.runtime.world.node(msg.src).zone
        self.node.volatile.get("app.sessions", {}).pop(zone, None)
        if msg.payload == "expired" and self.runtime.wants_connection(self.id):
            self.connect(zone)  # log in again for a fresh session

    def _on_disconnect(self, msg: Message) -> None:
        if self.subscribers.pop(msg.src, None) is not None:
            self.runtime.world.trace.record("app.unsubscribe", node=self.id, subscriber=msg.src)

    def world_now(self) -> float:
        return self.runtime.world.now

    # -- computations -----------------------------------------------------------------------

    def _computations(self) -> list[str]:
        return [f"/{self.zone}/{n}" for n in sorted(self.spec.computations(self.zone), key=lambda n: self.runtime.rank[
            f"/{self.zone}/{n}"])]

    def _upstream_zones(self) -> set[str]:
        return self.runtime.upstream[self.zone]

    def changed(self, path: str) -> None:
        for comp in self.spec.triggers(path):
            self._dirty[comp] = None
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._dirty:
                comp = min(self._dirty, key=self.runtime.rank.__getitem__)
                del self._dirty[comp]
                self._recompute(comp, path)
        finally:
            self._flushing = False

    def _recompute(self, comp: str, cause: str) -> None:
        zones = {split_path(o)[0] for o in self.spec.outputs(comp)}
        consumers = zones & set(self.spec.consumers_of(self.zone))
        if consumers:
            for sub in sorted(self.subscribers):
                if self.runtime.world.node(sub).zone not in consumers:
                    continue
                session = self.subscribers[sub]
                outcome = self.runtime.verify(session, self.world_now())
                if outcome != "ok":
                    del self.subscribers[sub]
                    self.runtime.reject(self.id, sub, outcome, session.user)
                    self.runtime.world.trace.record("app.unsubscribe", node=self.id, subscriber=sub)
                    self.node.send(sub, "app.denied", outcome, HEADER_BYTES)
                    continue
                self._run(comp, Event(sub, session, cause))
        if zones - consumers:
            self._run(comp, Event(self.id, self.session, cause))

    def _run(self, comp: str, event: Event) -> None:
        rt = self.runtime
        fn = rt.function(comp)
        rt.note_run(comp, self.id, event)
        result = fn(self, event)
        effects = [] if result is None else [result] if isinstance(result, Effect) else list(result)
        for effect in effects:
            self._dispatch(comp, effect, event)

    def _dispatch(self, comp: str, effect: Effect, event: Event) -> None:
        rt = self.runtime
        if not isinstance(effect, Effect):
            raise SimError(f"computation {comp} returned {effect!r}; expected Effect objects")
        if effect.path not in self.spec.outputs(comp):
            raise SimError(f"computation {comp} sent an effect to {effect.path}, which it neither computes nor "
                           f"declares in writes (outputs {self.spec.outputs(comp)})")
        if not rt.check_effect(comp, effect):
            return
        zone = split_path(effect.path)[0]
        if zone == self.zone and effect.node in (None, self.id):
            self.apply(effect.path, effect.msg, comp, self.id)
            return
        if zone in self.spec.consumers_of(self.zone):
            dst = effect.node or event.node
            if dst not in self.subscribers:
                rt.count("effects_unroutable")
                return
            self._send(dst, comp, effect, event.session)
            return
        if event.session is None and self.spec.providers_of(self.zone):
            rt.count("effects_deferred")  # offline: sent again once a session arrives
            return
        self._forward(effect.path, comp, effect, event.session)

    def _forward(self, path: str, comp: str, effect: Effect, session: Session | None) -> None:
        zone = split_path(path)[0]
        for up in self.spec.providers_of(self.zone):
            if up == zone or zone in self.runtime.upstream[up]:
                self._send(self.runtime.write_targets.get(up, self.providers[up]), comp, effect, session)
                return
        raise SimError(f"computation {comp}: no route from zone {self.zone} to {path}")

    def _send(self, dst: str, comp: str, effect: Effect, session: Session | None) -> None:
        type_name = self.spec.state(effect.path).crdt
        n = HEADER_BYTES + size(effect.msg, type_name) + (session.size() if session else 0)
        self.runtime.count("effects_sent")
        self.node.send(dst, "app.effect", {"path": effect.path, "msg": effect.msg, "comp": comp,
                                           "session": session, "node": effect.node}, n)

    def _on_effect(self, msg: Message) -> None:
        p, rt = msg.payload, self.runtime
        path: str = p["path"]
        if msg.src in self.subscribers or rt.world.node(msg.src).zone in self.spec.consumers_of(self.zone):
            # from below: an untrusted write unless its session checks out and the guard allows it
            session: Session | None = p["session"]
            outcome = "missing" if session is None else rt.verify(session, self.world_now())
            src_zone = rt.world.node(msg.src).zone
            if outcome == "ok" and src_zone in self.spec.user_zones() and session is not None \
                    and session.claim("node") != msg.src:
                outcome = "stolen"
            if outcome != "ok":
                rt.reject(self.id, msg.src, outcome, None if session is None else session.user)
                self.node.send(msg.src, "app.denied", outcome, HEADER_BYTES)
                return
            assert session is not None
            if not rt.allowed(path, p["msg"], session):
                rt.count("writes_denied")
                rt.world.trace.record("app.denied", node=self.id, src=msg.src, path=path, user=session.user)
                return
        zone = split_path(path)[0]
        if zone == self.zone:
            self.apply(path, p["msg"], p["comp"], msg.src)
        else:
            self._forward(path, p["comp"], Effect(path, p["msg"], p["node"]), p["session"])

    def apply(self, path: str, msg: Crdt[Any] | Op, comp: str, src: str) -> bool:
        """Apply an effect's message to the local state at ``path``; True if it changed."""
        _, name = split_path(path)
        old = self.states[name]
        new = old.effect(msg) if isinstance(msg, Op) else old.merge(msg)
        if new == old:
            return False
        self._store(name, new)
        rt = self.runtime
        rt.count("effects_applied")
        rt.world.trace.record("app.apply", node=self.id, zone=self.zone, path=path, comp=comp, src=src,
                              data=encoded(msg, old.type_name))
        for hook in rt.write_hooks:
            hook(self, path, msg, comp, src)
        self.changed(path)
        return True

    def _store(self, name: str, value: Crdt[Any]) -> None:
        self.states[name] = value
        store = self.runtime.store_for(self.zone)
        if store is not None:
            store.save(self.id, name, value)

    def mutate(self, path: str, name: str, *args: Any) -> bool:
        zone, key = split_path(path)
        spec = self.spec.state(path)
        if zone != self.zone or not isinstance(spec, SourceState):
            raise ConfigError("local mutation path", f"must be a source state of zone {self.zone}", path)
        old = self.states[key]
        new = old.mutate(name, self.id, *args)
        for value in _values_of(new):
            if not check_value(spec.value_type, value):
                raise EffectTypeError(f"local mutation {name}", path, f"{spec.crdt} of {spec.value_type}",
                                      f"a value {value!r}")
        history = self.runtime.world.history
        op = history.invoke(self.id, "mutation", path, name, args)
        history.complete(op, "ok")  # a local mutation takes effect at once (or changes nothing)
        if new == old:
            return False
        self._store(key, new)
        self.runtime.world.trace.record("app.mutate", node=self.id, path=path, op=name)
        self.changed(path)
        return True


class AppRuntime:
    """An app running on ``world``: one :class:`AppNode` per node of every app zone."""

    def __init__(self, world: World, spec: AppSpec, *, users: Mapping[str, str] | None = None,
                 strict: bool = True, session_ttl: float = 3600.0, guards: Mapping[str, Guard] | None = None,
                 stores: Mapping[str, Any] | None = None, leak_check: bool = True) -> None:
        self.world, self.spec, self.strict, self.session_ttl = world, spec, strict, session_ttl
        self.rank = {p: i for i, p in enumerate(spec.order())}
        self.guards = dict(guards or {})
        self.stores = dict(stores or {})
        self.counters: dict[str, int] = {}
        self.runs: dict[str, int] = {}
        self.runs_for: dict[str, int] = {}
        self.rejected: list[str] = []
        #: extension points (sim.apps.replicas): where writes to a zone go instead of the provider,
        #: hooks called on every applied effect and every computation run, extra summary parts
        self.write_targets: dict[str, str] = {}
        self.write_hooks: list[Callable[[AppNode, str, Any, str, str], None]] = []
        self.run_hooks: list[Callable[[str, str, Event], None]] = []
        self.summary_parts: dict[str, Callable[[], Any]] = {}
        self._functions = {f"/{z}/{n}": spec.registry.get(c.name, f"/{z}/{n}")
                           for z in spec.zones for n, c in spec.computations(z).items()}
        self._secrets: dict[str, bytes] = {}
        self._offline: set[str] = set()
        self.logins: dict[str, str] = {}
        user_zones = spec.user_zones()
        self.upstream: dict[str, set[str]] = {z: self._above(z) for z in spec.zones}
        self.nodes: dict[str, AppNode] = {}
        for zone in spec.zones:
            for node_id in sorted(world.topology.nodes_in(zone)):
                self.nodes[node_id] = AppNode(self, world.node(node_id))
        self.users: dict[str, str] = {}
        for zone in user_zones:
            for i, node_id in enumerate(sorted(world.topology.nodes_in(zone)), 1):
                self.users[node_id] = (users or {}).get(node_id, f"u{i}")
        for channel in spec.channels:
            providers = sorted(world.topology.nodes_in(channel.from_zone))
            for i, node_id in enumerate(sorted(world.topology.nodes_in(channel.to_zone))):
                self.nodes[node_id].providers[channel.from_zone] = providers[i % len(providers)]
        world.add_check("app.effects", self._effects_check)
        if leak_check and world.trace.mode == "full":
            from sim.apps.checks import leak_check as leaks
            from sim.apps.checks import on_demand_check

            world.add_check("app.leaks", leaks(self))
            world.add_check("app.on_demand", on_demand_check(self))

    def _above(self, zone: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out: set[str] = set()
        for up in self.spec.providers_of(zone):
            if up not in seen:
                out |= {up} | self._above(up, seen | {zone})
        return out

    # -- lookups ----------------------------------------------------------------------------

    def node(self, node_id: str) -> AppNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise SimError(f"node {node_id!r} runs no app zone") from None

    def zone_nodes(self, zone: str) -> list[str]:
        return sorted(n for n, a in self.nodes.items() if a.zone == zone)

    def function(self, comp: str) -> Callable[[Any, Any], Any]:
        return self._functions[comp]

    def store_for(self, zone: str) -> Any:
        return self.stores.get(zone)

    def login_of(self, node_id: str) -> str:
        return self.logins.get(node_id) or self.users.get(node_id) or f"service:{node_id}"

    def secret(self, node_id: str) -> bytes:
        if node_id not in self._secrets:
            self._secrets[node_id] = secret_for(self.world, node_id)
        return self._secrets[node_id]

    def verify(self, session: Session, now: float) -> str:
        """Check ``session`` against its issuer's secret (trusted zones share a key registry)."""
        issuer = session.claim("issuer")
        if issuer not in self.nodes or self.nodes[issuer].zone in self.spec.user_zones():
            return "forged"
        return verify(session, self.secret(issuer), now)

    def allowed(self, path: str, msg: Any, session: Session) -> bool:
        guard = self.guards.get(path)
        return True if guard is None else bool(guard(path, msg, session))

    # -- the user API -----------------------------------------------------------------------

    def inject_local_mutation(self, node_id: str, path: str, name: str, *args: Any) -> bool:
        """Mutate the source state at ``path`` on ``node_id`` (its replica id); True if it changed."""
        node = self.node(node_id)
        if not node.node.up:
            return False
        return node.mutate(path, name, *args)

    def at(self, t: float, fn: Callable[[], Any]) -> None:
        """Call ``fn`` at simulated time ``t`` (from now)."""
        self.world.schedule(t, lambda: None if fn() else None)

    def wants_connection(self, node_id: str) -> bool:
        return node_id not in self._offline

    def disconnect(self, node_id: str) -> None:
        self._offline.add(node_id)
        self.world.trace.record("app.disconnect", node=node_id)
        if self.world.node(node_id).up:
            self.node(node_id).disconnect()

    def reconnect(self, node_id: str) -> None:
        self._offline.discard(node_id)
        self.world.trace.record("app.reconnect", node=node_id)
        node = self.node(node_id)
        if node.node.up:
            for zone in self.spec.providers_of(node.zone):
                node.connect(zone)

    def add_todo(self, node_id: str, title: str) -> bool:
        from sim.apps.todo import add_todo

        return add_todo(self, node_id, title)

    # -- accounting -------------------------------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def note_run(self, comp: str, node_id: str, event: Event) -> None:
        self.runs[comp] = self.runs.get(comp, 0) + 1
        if event.node is not None and event.node != node_id:
            self.runs_for[event.node] = self.runs_for.get(event.node, 0) + 1
        self.world.trace.record("app.compute", comp=comp, node=node_id, subscriber=event.node)
        for hook in self.run_hooks:
            hook(comp, node_id, event)

    def reject(self, node_id: str, src: str, reason: str, user: str | None) -> None:
        self.count(f"sessions_rejected_{reason}")
        self.world.trace.record("app.reject", node=node_id, src=src, reason=reason, user=user)

    def check_effect(self, comp: str, effect: Effect) -> bool:
        """True if the effect fits its target; otherwise raise (strict) or count and drop it."""
        target = self.spec.state(effect.path)
        cls = target.type()
        msg = effect.msg
        found = None
        if isinstance(msg, Crdt):
            if type(msg) is not cls:
                found = describe(msg)
        elif isinstance(msg, Op):
            if type(msg).__module__ != cls.__module__:
                found = describe(msg)
        else:
            found = describe(msg)
        if found is None:
            for value in _values_of(msg):
                if not check_value(target.value_type, value):
                    found = f"{describe(msg)} with a value {value!r:.60}"
                    break
        if found is None:
            return True
        error = EffectTypeError(comp, effect.path, f"a {target.crdt} of {target.value_type}", found)
        if self.strict:
            raise error
        self.rejected.append(str(error))
        self.count("effects_rejected")
        self.world.trace.record("app.incompatible", comp=comp, path=effect.path, message=str(error))
        return False

    def _effects_check(self, world: World) -> CheckResult:
        n = len(self.rejected)
        return CheckResult("app.effects", n == 0 or not self.strict,
                           f"{n} incompatible effects rejected" if n else "every effect fit its target",
                           {"rejected": list(self.rejected[:10])})

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures: runs per computation and per subscriber, counters, final values."""
        values: dict[str, Any] = {}
        for zone in self.spec.zones:
            nodes = self.zone_nodes(zone)
            for name, state in self.spec.states(zone).items():
                if isinstance(state, SourceState | DerivedState) and nodes:
                    first = self.nodes[nodes[0]]
                    if name in first.states:
                        values[f"/{zone}/{name}@{nodes[0]}"] = _plain(first.value(name))
        return {
            "computations": dict(sorted(self.runs.items())),
            "runs_for": dict(sorted(self.runs_for.items())),
            "counters": dict(sorted(self.counters.items())),
            "values": values,
            **{name: part() for name, part in sorted(self.summary_parts.items())},
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))}
    if isinstance(value, frozenset | set):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def launch(world: World, spec: AppSpec, counts: Mapping[str, int], channel: Mapping[str, Any] | None = None,
           **options: Any) -> AppRuntime:
    """Add ``counts[zone]`` nodes per zone, connect the spec's channels, start the runtime."""
    for zone, count in counts.items():
        if zone not in spec.zones:
            raise ConfigError("app zone", f"must be one of {sorted(spec.zones)}", zone)
        world.add_nodes(zone, count)
    for zone in counts:
        if counts[zone] > 1:
            world.connect(zone, "complete")
    link_types = sorted({c.type for c in spec.channels})
    for name in link_types:
        if not world.network.has_channel(name):
            world.define_channel(name, channel or {"latency": {"exponential": {"mean": "10ms", "min": "2ms"}}})
    for c in spec.channels:
        world.connect_zones(c.from_zone, c.to_zone, c.type)
    from sim.apps.todo import todo_guards

    options.setdefault("guards", todo_guards() if spec.name == "todo" else {})
    return AppRuntime(world, spec, **options)

