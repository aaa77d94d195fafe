"""Running an :class:`~sim.apps.spec.AppSpec` on a :class:`~sim.world.World`.

One :class:`AppNode` component per node of every app zone holds that node's states. Nodes of a
channel's ``to_zone`` connect to a node of its ``from_zone`` (their provider, round robin): they
log in with their user's password, the provider verifies it and issues a signed session, and
from then on it runs, for each connected subscriber, the computations whose outputs live in the
subscriber's zone. Effects travel over the connection reliably (:mod:`sim.apps.delivery`):
numbered, acknowledged, re-sent on ticks until acknowledged, applied once, and never re-sent
when the other side already has the value. A change of a state reruns the computations that
depend on it, in dependency order. The runtime knows no particular app: guards come with the
spec's registry, everything else (storage, replicas, progress) is an :class:`Extension`.

>>> from sim.apps.todo import add_todo, todo_spec
>>> from sim.world import World
>>> w = World(seed=1)
>>> app = launch(w, todo_spec(), {"db": 1, "server": 1, "client": 2})
>>> app.at(0.5, lambda: add_todo(app, "client-1", "milk"))
>>> w.run(duration="1s").ok
True
>>> [dict(t)["title"] for t in app.node("client-1").value("my_todos")], app.node("client-2").value("my_todos")
(['milk'], ())
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from crdt import Crdt
from crdt.codec import size
from sim.apps.delivery import Connection, plain
from sim.apps.effects import HEADER_BYTES, Effect, EffectTypeError, Event, Guard, describe, values_of
from sim.apps.effects import field_of as _get
from sim.apps.node import AppNode
from sim.apps.session import Credentials, Keyring, Session
from sim.apps.spec import AppSpec, DerivedState, SourceState, check_value
from sim.checks import CheckResult
from sim.errors import ConfigError, SimError

if TYPE_CHECKING:
    from sim.network import Message
    from sim.world import World

# Effect, Event and friends are re-exported: callers know them as part of the runtime
__all__ = ["AppNode", "AppRuntime", "Effect", "EffectTypeError", "Event", "Extension", "launch", "HEADER_BYTES"]


class Extension(Protocol):
    """An app extension (storage, replicas, progress …), attached when the runtime is built."""

    name: str

    def attach(self, runtime: AppRuntime) -> None:
        """Register hooks, handlers and checks on ``runtime`` (called once, from its constructor)."""


_E = TypeVar("_E", bound=Extension)


class AppRuntime:
    """An app running on ``world``: one :class:`AppNode` per node of every app zone.

    ``login`` is ``"password"`` (the provider checks the user's password before it signs a
    session) or ``"trust_claim"``, the deliberately broken variant that believes the user a node
    claims. ``send_once`` (no re-send) and ``eager`` (compute for every node of a consumer zone,
    send every value even unchanged) are broken variants the checks must catch.
    """

    def __init__(self, world: World, spec: AppSpec, *, users: Mapping[str, str] | None = None,
                 strict: bool = True, session_ttl: float = 3600.0, guards: Mapping[str, Guard] | None = None,
                 leak_check: bool = True,
                 extensions: Sequence[Extension] = (), login: str = "password", send_once: bool = False,
                 eager: bool = False, retransmit: float = 0.3, keepalive: int = 10,
                 durable: Iterable[str] | None = None) -> None:
        if login not in ("password", "trust_claim"):
            raise ConfigError("login", "one of 'password', 'trust_claim'", login)
        self.world, self.spec, self.strict, self.session_ttl = world, spec, strict, session_ttl
        self.login, self.send_once, self.eager = login, send_once, eager
        self.retransmit, self.keepalive = retransmit, keepalive
        self.rank = {p: i for i, p in enumerate(spec.order())}
        self.guards: dict[str, Guard] = {**spec.registry.guards, **dict(guards or {})}
        #: zone -> the durable store behind its RAM (set by the storage extension)
        self.stores: dict[str, Any] = {}
        #: zones whose states survive a crash without a store: by default the top zones (the db)
        self.durable_zones = set(durable) if durable is not None else {
            z for z in spec.zones if not spec.providers_of(z)}
        self.counters: dict[str, int] = {}
        self.runs: dict[str, int] = {}
        self.runs_for: dict[str, int] = {}
        self.rejected: list[str] = []
        #: ground truth from the workload: datum id (a todo key) -> the user who created it, and
        #: every datum created, with the fields it must still have at the top zone
        self.truth: dict[str, str] = {}
        self.created: list[tuple[str, dict[str, Any]]] = []
        self.restarts: list[dict[str, Any]] = []
        #: per node: writes applied from elsewhere, reads served (runs for subscribers), data bytes
        self.load: dict[str, dict[str, int]] = {}
        #: nodes refused for good (bad credentials, a removed user) -> the reason
        self.locked_out: dict[str, str] = {}
        self.removed: set[str] = set()
        #: extension points: where writes to a zone go instead of the provider, hooks called on
        #: every applied effect and every computation run, handlers of peer bodies, summary parts
        self.write_targets: dict[str, str] = {}
        self.write_hooks: list[Callable[[AppNode, str, Any, str, str], None]] = []
        self.run_hooks: list[Callable[[str, str, Event], None]] = []
        self.receive_hooks: list[Callable[[str, Message], None]] = []
        self.body_handlers: dict[str, Callable[[AppNode, Connection, dict[str, Any]], None]] = {}
        self.summary_parts: dict[str, Callable[[], Any]] = {}
        self.extensions: dict[str, Extension] = {}
        self._functions = {f"/{z}/{n}": spec.registry.get(c.name, f"/{z}/{n}")
                           for z in spec.zones for n, c in spec.computations(z).items()}
        self._keys = Keyring()
        self._credentials = Credentials()
        self._offline: set[str] = set()
        self.logins: dict[str, str] = {}
        self.upstream: dict[str, set[str]] = {z: self._above(z) for z in spec.zones}
        self.nodes: dict[str, AppNode] = {}
        for zone in spec.zones:
            for node_id in sorted(world.topology.nodes_in(zone)):
                self.nodes[node_id] = AppNode(self, world.node(node_id))
        self.users: dict[str, str] = {}
        passwords: dict[str, str] = {}  # handed to the users' nodes, then forgotten
        for zone in spec.user_zones():
            for i, node_id in enumerate(sorted(world.topology.nodes_in(zone)), 1):
                self.users[node_id] = (users or {}).get(node_id, f"u{i}")
                user = self.users[node_id]
                if user not in passwords:
                    passwords[user] = secrets.token_urlsafe(12)
                    self._credentials.register(user, passwords[user])
                self.nodes[node_id].set_password(passwords[user])
        for channel in spec.channels:
            providers = sorted(world.topology.nodes_in(channel.from_zone))
            for i, node_id in enumerate(sorted(world.topology.nodes_in(channel.to_zone))):
                self.nodes[node_id].providers[channel.from_zone] = providers[i % len(providers)]
        world.add_pending(self.busy)
        world.add_check("app.effects", self._effects_check)
        from sim.apps import checks

        world.add_check("app.convergence", checks.convergence_check(self))
        world.add_check("app.durability", checks.durability_check(self))
        if leak_check and world.trace.mode == "full":
            world.add_check("app.leaks", checks.leak_check(self))
            world.add_check("app.on_demand", checks.on_demand_check(self))
        for ext in extensions:
            self.extend(ext)

    def extend(self, extension: Extension) -> Extension:
        """Attach ``extension`` (one per name)."""
        if extension.name in self.extensions:
            raise ConfigError("app extension", "one of each kind", extension.name)
        self.extensions[extension.name] = extension
        extension.attach(self)
        return extension

    def extension(self, kind: type[_E]) -> _E:
        """The attached extension of ``kind``, attached now (built with no arguments) if none was declared."""
        ext = self.extensions.get(kind.name)
        if ext is None:
            ext = self.extend(kind())
        assert isinstance(ext, kind)
        return ext

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

    def on_message(self, node_id: str, kind: str, handler: Callable[[Message], None]) -> None:
        """Route app messages of ``kind`` at ``node_id`` to ``handler``, through the receive hooks
        (the leak oracle sees every message a node receives)."""
        def receive(msg: Message) -> None:
            for hook in self.receive_hooks:
                hook(node_id, msg)
            handler(msg)

        self.world.node(node_id).on_message(kind, receive)

    # -- authentication ---------------------------------------------------------------------

    def authenticate(self, provider: AppNode, sub: str, login: Any, resume: Any) -> tuple[Session | None, str]:
        """A session for ``sub``: resumed (valid, bound to ``sub``, user not removed) or newly
        issued after the login's password checks out; else None and the reason."""
        if resume is not None:
            reason = self.check_session(resume, sub)
            return (resume, "ok") if reason == "ok" else (None, reason)
        user, password = _get(login, "user"), _get(login, "password")
        if not isinstance(user, str):
            return None, "malformed"
        if user.startswith("service:"):
            if user != f"service:{sub}" or self.nodes[sub].zone in self.spec.user_zones():
                return None, "bad_credentials"
        elif self.login == "password" and not self._credentials.check(user, password):
            return None, "removed" if not self._credentials.exists(user) else "bad_credentials"
        claims = {"user": user, "node": sub, "exp": round(self.world.now + self.session_ttl, 9)}
        session = self._keys.issue(provider.id, claims)
        self.count("sessions_issued")
        self.world.trace.record("app.session", node=sub, user=user, issuer=provider.id)
        return session, "ok"

    def check_session(self, session: Any, holder: str, service: bool = False, at: float | None = None) -> str:
        """``ok`` if ``session`` verifies (unexpired ``at`` that time, by default now), is bound to
        ``holder`` and its user still exists."""
        reason = self._keys.verify(session, self.world.now if at is None else at)
        if reason != "ok":
            return reason
        issuer = session.claim("issuer")
        if issuer not in self.nodes or self.nodes[issuer].zone in self.spec.user_zones():
            return "forged"
        if session.claim("node") != holder:
            return "stolen"
        user = session.user
        if user.startswith("service:"):
            return "ok" if user == f"service:{holder}" and (not service or issuer == holder) else "forged"
        if service:
            return "forged"
        if self.login == "password" and not self._credentials.exists(user):
            return "removed"
        return "ok"

    def record(self, datum: str, owner: str, **fields: Any) -> None:
        """Ground truth: ``owner``'s node created ``datum`` with ``fields`` (an object's values)."""
        self.truth.setdefault(datum, owner)
        self.created.append((datum, fields))

    def remove_user(self, user: str) -> None:
        """Delete ``user`` from the credential store: no login, and their sessions stop working."""
        self._credentials.remove(user)
        self.removed.add(user)
        self.world.trace.record("app.remove_user", user=user)

    def writable_from(self, zone: str, path: str) -> bool:
        """Whether nodes of ``zone`` may write ``path`` upward (a computation of theirs writes it)."""
        return any(path in self.spec.outputs(f"/{zone}/{c}") for c in self.spec.computations(zone))

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
        self.world.schedule(t, fn)

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

    def busy(self) -> bool:
        """The quiescence hook: a node still waits for an ack, a login or a connection."""
        return any(n.busy() for n in self.nodes.values() if n.node.up)

    # -- accounting -------------------------------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def note_load(self, node_id: str, what: str, n: int = 1) -> None:
        load = self.load.setdefault(node_id, {"writes": 0, "reads": 0, "bytes_in": 0, "bytes_out": 0})
        load[what] += n

    def note_run(self, comp: str, node_id: str, event: Event) -> None:
        self.runs[comp] = self.runs.get(comp, 0) + 1
        if event.node is not None and event.node != node_id:
            self.runs_for[event.node] = self.runs_for.get(event.node, 0) + 1
            self.note_load(node_id, "reads")
        self.world.trace.record("app.compute", comp=comp, node=node_id, subscriber=event.node, conn=event.conn)
        for hook in self.run_hooks:
            hook(comp, node_id, event)

    def note_restart(self, node: AppNode, loaded: Mapping[str, Crdt[Any]]) -> None:
        """A node came back: what it recovered locally (fetches are counted as they arrive)."""
        self.restarts.append({"node": node.id, "t": round(self.world.now, 9), "loaded_states": len(loaded),
                              "loaded_bytes": sum(size(v) for v in loaded.values()),
                              "fetched_messages": 0, "fetched_bytes": 0})

    def note_fetch(self, node_id: str, n: int) -> None:
        """A restarted node received ``n`` bytes of catch-up from its provider."""
        for record in reversed(self.restarts):
            if record["node"] == node_id:
                record["fetched_messages"] += 1
                record["fetched_bytes"] += n
                return

    def reject(self, node_id: str, src: str, reason: str, user: str | None) -> None:
        self.count(f"sessions_rejected_{reason}")
        self.world.trace.record("app.reject", node=node_id, src=src, reason=reason, user=user)

    def check_effect(self, comp: str, effect: Effect) -> bool:
        """True if the effect fits its target; otherwise raise (strict) or count and drop it."""
        target = self.spec.state(effect.path)
        cls = target.type()
        msg = effect.msg
        found = None if cls.accepts(msg) else describe(msg)
        if found is None:
            for value in values_of(msg):
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

    def misfits(self) -> tuple[int, list[dict[str, Any]]]:
        """How many states the live nodes hold, and each one whose type or a value in it is not
        what the spec declares (something applied past :meth:`check_effect`)."""
        held, bad = 0, []
        for node_id, app in self.nodes.items():
            if not app.node.up:
                continue
            declared = self.spec.states(app.zone)
            for name, state in sorted(app.states.items()):
                spec = declared.get(name)
                if not isinstance(spec, SourceState | DerivedState):
                    continue
                held += 1
                if not isinstance(state, spec.type()):
                    bad.append({"node": node_id, "path": f"/{app.zone}/{name}", "found": describe(state)})
                    continue
                wrong = next((v for v in values_of(state) if not check_value(spec.value_type, v)), None)
                if wrong is not None:
                    bad.append({"node": node_id, "path": f"/{app.zone}/{name}",
                                "found": f"a value {wrong!r:.60} where {spec.value_type} is declared"})
        return held, bad

    def _effects_check(self, world: World) -> CheckResult:
        # A strict run raises at the first incompatible effect, a lenient one drops it: either
        # way what matters is that no state ends up holding what its type does not allow.
        held, bad = self.misfits()
        n = len(self.rejected)
        details = {"rejected": list(self.rejected[:10]), "misfits": bad[:10], "states": held}
        if not held:
            return CheckResult.not_checked("app.effects", "no live node holds a state", details)
        if bad:
            return CheckResult("app.effects", False, f"{len(bad)} states hold a value of the wrong type: "
                               + ", ".join(f"{b['path']}@{b['node']}" for b in bad[:3]), details)
        rejected = f"{n} incompatible effects rejected" if n else "every effect fit its target"
        return CheckResult("app.effects", True, f"{rejected}; all {held} states hold values of their declared types",
                           details)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures: runs per computation and per subscriber, counters, final values."""
        values: dict[str, Any] = {}
        for zone in self.spec.zones:
            nodes = self.zone_nodes(zone)
            for name, state in self.spec.states(zone).items():
                if isinstance(state, SourceState | DerivedState) and nodes:
                    first = self.nodes[nodes[0]]
                    if name in first.states:
                        values[f"/{zone}/{name}@{nodes[0]}"] = plain(first.value(name))
        return {
            "computations": dict(sorted(self.runs.items())),
            "runs_for": dict(sorted(self.runs_for.items())),
            "counters": dict(sorted(self.counters.items())),
            "restarts": list(self.restarts),
            "load": {n: dict(self.load[n]) for n in sorted(self.load) if not self.spec.providers_of(
                self.nodes[n].zone)},
            "values": values,
            **{name: part() for name, part in sorted(self.summary_parts.items())},
        }


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
    return AppRuntime(world, spec, **options)
