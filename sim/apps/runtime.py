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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from crdt import Crdt, Op
from crdt.codec import encode, encode_op, size
from sim.apps.delivery import Connection, plain, value_digest
from sim.apps.session import Credentials, Keyring, Session
from sim.apps.spec import AppSpec, DerivedState, SourceState, check_value, split_path
from sim.checks import CheckResult
from sim.errors import ConfigError, SimError

if TYPE_CHECKING:
    from sim.network import Message
    from sim.node import Node
    from sim.world import World

__all__ = ["AppNode", "AppRuntime", "Effect", "EffectTypeError", "Event", "Extension", "launch", "HEADER_BYTES"]

HEADER_BYTES = 32
Guard = Callable[[str, Any, Session], bool]
#: reasons a provider refuses a login or a session
REJECTIONS = ("bad_credentials", "expired", "forged", "malformed", "removed", "rotated", "stolen", "unconnected",
              "path", "guard")


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
    #: the subscriber's connection the event is for (a node may hold one per user)
    conn: str | None = None

    @property
    def user(self) -> str | None:
        return None if self.session is None else self.session.user


class Extension(Protocol):
    """An app extension (storage, replicas, progress …), attached when the runtime is built."""

    name: str

    def attach(self, runtime: AppRuntime) -> None:
        """Register hooks, handlers and checks on ``runtime`` (called once, from its constructor)."""


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


def _get(payload: Any, name: str) -> Any:
    """A field of a message payload that may come from an attacker: anything goes."""
    return payload.get(name) if isinstance(payload, dict) else None


class AppNode:
    """The ``app`` component of one node: its states, connections, sessions and subscribers."""

    def __init__(self, runtime: AppRuntime, node: Node) -> None:
        self.runtime, self.node, self.id, self.zone = runtime, node, node.id, node.zone
        self.spec = runtime.spec
        self.providers: dict[str, str] = {}
        self._dirty: dict[str, None] = {}
        self._flushing = False
        self.__password: str | None = None
        node.add_component("app", self)
        for kind, handler in (("app.connect", self._on_connect), ("app.session", self._on_session),
                              ("app.denied", self._on_denied), ("app.disconnect", self._on_disconnect),
                              ("app.data", self._on_data), ("app.ack", self._on_ack),
                              ("app.close", self._on_close), ("app.ping", self._on_ping)):
            runtime.on_message(self.id, kind, handler)
        node.on_start(self._start)
        node.every(1, self._tick)

    def set_password(self, password: str) -> None:
        """The user's password, known to this node only (it logs in with it)."""
        self.__password = password

    # -- state ------------------------------------------------------------------------------

    @property
    def states(self) -> dict[str, Crdt[Any]]:
        if self.runtime.store_for(self.zone) is None and self.zone in self.runtime.durable_zones:
            return self.node.durable.setdefault("app", {})
        return self.node.volatile.setdefault("app", {})  # RAM, in front of a store if the zone has one

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
    def conns(self) -> dict[str, Connection]:
        return self.node.volatile.setdefault("app.conns", {})

    @property
    def up(self) -> dict[str, str]:
        """Zone -> id of my connection to my provider there."""
        return self.node.volatile.setdefault("app.up", {})

    @property
    def session(self) -> Session | None:
        """This node's own session (from its first provider), if it has one."""
        for conn_id in self.up.values():
            conn = self.conns.get(conn_id)
            if conn is not None and conn.open:
                return conn.session
        return None

    @property
    def subscribers(self) -> dict[str, Session]:
        """Subscriber node -> its session (its latest connection), for every connection from below."""
        return {sub: self.conns[c].session for c, sub in self._subs().items()}

    def subscriptions(self) -> list[tuple[str, str]]:
        """Every (subscriber node, connection id) from below, sorted."""
        return sorted((sub, c) for c, sub in self._subs().items())

    def _subs(self) -> dict[str, str]:
        """Connection id -> subscriber node."""
        return self.node.volatile.setdefault("app.subs", {})

    def _conn_of(self, sub: str) -> str | None:
        return next((c for c, s in reversed(self._subs().items()) if s == sub), None)

    def _start(self) -> None:
        rt = self.runtime
        store = rt.store_for(self.zone)
        states = self.states
        loaded = store.load(self.id) if store is not None else {}
        for name, spec in self.spec.states(self.zone).items():
            if name not in states:
                states[name] = loaded.get(name, initial(spec))
        if self.node.incarnation > 0:
            rt.note_restart(self, loaded)
        if self.zone not in self.spec.user_zones():
            rt._keys.rotate(self.id)  # a restarted issuer's old sessions no longer verify
        if rt.wants_connection(self.id):
            for zone in self.spec.providers_of(self.zone):
                self.connect(zone)

    # -- connections ------------------------------------------------------------------------

    def _new_conn_id(self, dst: str) -> str:
        n = self.node.volatile.get("app.nconn", 0) + 1
        self.node.volatile["app.nconn"] = n
        return f"{self.id}>{dst}#{self.node.incarnation}.{n}"

    def connect(self, zone: str) -> None:
        """Open a connection to my provider in ``zone`` and log in (retried until answered)."""
        old = self.conns.pop(self.up.pop(zone, ""), None)
        provider = self.providers[zone]
        conn = Connection(self._new_conn_id(provider), provider, "up")
        if old is not None and self.zone not in self.spec.user_zones():
            # writes a server forwards for its users carry their sessions: they move to the new
            # connection (a user's node pushes its writes again under its new session instead)
            for out in old.unacked.values():
                conn.push(out.body, out.size, self.runtime.world.now)
        self.conns[conn.id] = conn
        self.up[zone] = conn.id
        self._hello(conn)

    def _login(self) -> dict[str, Any]:
        return {"user": self.runtime.login_of(self.id), "password": self.__password}

    def _digests(self, provider_zone: str) -> dict[str, str]:
        """Digests of my states that my provider's zone computes (what I already have)."""
        out = {}
        for name, st in self.spec.states(self.zone).items():
            if isinstance(st, DerivedState) and split_path(st.computer)[0] == provider_zone:
                out[f"/{self.zone}/{name}"] = value_digest(self.value(name))
        return out

    def _hello(self, conn: Connection) -> None:
        conn.attempted_at = self.runtime.world.now
        zone = self.runtime.world.node(conn.peer).zone
        hello = conn.hello if conn.hello is not None else {"login": self._login(), "resume": None}
        payload = {"conn": conn.id, **hello, "digests": self._digests(zone)}
        self.node.send(conn.peer, "app.connect", payload, HEADER_BYTES + 96 + 24 * len(payload["digests"]))

    def attack_connect(self, zone: str, login: Any = None, resume: Any = None) -> Connection:
        """A side connection an attack opens with a made-up login or someone else's session."""
        provider = self.providers[zone]
        conn = Connection(self._new_conn_id(provider), provider, "attack", hello={"login": login, "resume": resume})
        self.conns[conn.id] = conn
        self._hello(conn)
        return conn

    def disconnect(self) -> None:
        for zone in sorted(self.up):
            conn = self.conns.pop(self.up.pop(zone), None)
            if conn is not None:
                self.node.send(conn.peer, "app.disconnect", {"conn": conn.id}, HEADER_BYTES)

    def _on_connect(self, msg: Message) -> None:
        rt, p, sub = self.runtime, msg.payload, msg.src
        conn_id = _get(p, "conn")
        if not isinstance(conn_id, str):
            rt.reject(self.id, sub, "malformed", None)
            return
        if self._subs().get(conn_id) == sub:  # a re-sent hello: answer again
            conn = self.conns[conn_id]
            self._send_session(sub, conn)
            return
        zone = rt.world.node(sub).zone
        if zone not in self.spec.consumers_of(self.zone):
            rt.reject(self.id, sub, "unconnected", None)
            return
        session, reason = rt.authenticate(self, sub, _get(p, "login"), _get(p, "resume"))
        if session is None:
            rt.reject(self.id, sub, reason, None)
            self.node.send(sub, "app.denied", {"conn": conn_id, "reason": reason}, HEADER_BYTES)
            return
        for old in [c for c, s in self._subs().items() if s == sub and self.conns[c].session.user == session.user]:
            self._drop_conn(old)  # one connection per node and user: the new one replaces it
        conn = Connection(conn_id, sub, "down", open=True, session=session)
        digests = _get(p, "digests")
        if isinstance(digests, dict):
            conn.reported = {k: v for k, v in digests.items() if isinstance(k, str) and isinstance(v, str)}
        self.conns[conn_id] = conn
        self._subs()[conn_id] = sub
        rt.world.trace.record("app.subscribe", node=self.id, subscriber=sub, conn=conn_id)
        self._send_session(sub, conn)
        # catch the new subscriber up: every computation with an output in its zone
        for comp in self._computations():
            if any(split_path(o)[0] == zone for o in self.spec.outputs(comp)):
                self._run(comp, Event(sub, session, "connect", conn=conn_id))

    def _send_session(self, sub: str, conn: Connection) -> None:
        self.node.send(sub, "app.session", {"conn": conn.id, "session": conn.session},
                       HEADER_BYTES + conn.session.size())

    def _on_session(self, msg: Message) -> None:
        conn = self.conns.get(_get(msg.payload, "conn"))
        if conn is None or conn.open or conn.peer != msg.src:
            return
        conn.open, conn.session = True, _get(msg.payload, "session")
        self.node.volatile.setdefault("app.first_session", conn.session)
        if conn.role == "attack":
            self.runtime.count("attacks_accepted")
            return
        for seq, out in sorted(conn.unacked.items()):  # queued while connecting
            out.sent_at = self.runtime.world.now
            self.node.send(conn.peer, "app.data", {"conn": conn.id, "seq": seq, "body": out.body}, out.size)
        # writes made while offline go out now
        for comp in self._computations():
            if any(split_path(o)[0] in self._upstream_zones() for o in self.spec.outputs(comp)):
                self._run(comp, Event(self.id, conn.session, "session"))

    def _on_denied(self, msg: Message) -> None:
        rt = self.runtime
        conn = self.conns.get(_get(msg.payload, "conn"))
        if conn is None or conn.peer != msg.src:
            return
        reason = _get(msg.payload, "reason")
        del self.conns[conn.id]
        if conn.role == "attack":
            return
        rt.count("connections_denied")
        zone = rt.world.node(msg.src).zone
        if self.up.get(zone) == conn.id:
            del self.up[zone]
            if reason in ("expired", "rotated") and rt.wants_connection(self.id):
                self.connect(zone)  # log in again for a fresh session
            else:
                rt.locked_out[self.id] = str(reason)

    def _on_disconnect(self, msg: Message) -> None:
        conn_id = _get(msg.payload, "conn")
        if isinstance(conn_id, str) and self._subs().get(conn_id) == msg.src:
            self._drop_conn(conn_id)

    def _drop_conn(self, conn_id: str) -> None:
        sub = self._subs().pop(conn_id, None)
        self.conns.pop(conn_id, None)
        if sub is not None:
            self.runtime.world.trace.record("app.unsubscribe", node=self.id, subscriber=sub, conn=conn_id)

    def _on_close(self, msg: Message) -> None:
        """The other side does not know this connection (it restarted or dropped it)."""
        conn = self.conns.get(_get(msg.payload, "conn"))
        if conn is None or conn.peer != msg.src:
            return
        if conn.role == "down":
            self._drop_conn(conn.id)
        elif conn.role == "up":
            zone = self.runtime.world.node(msg.src).zone
            if self.up.get(zone) == conn.id and self.runtime.wants_connection(self.id):
                self.connect(zone)
        else:
            del self.conns[conn.id]

    def _on_ping(self, msg: Message) -> None:
        conn_id = _get(msg.payload, "conn")
        if not isinstance(conn_id, str) or self._subs().get(conn_id) != msg.src:
            self.node.send(msg.src, "app.close", {"conn": conn_id}, HEADER_BYTES)

    def _tick(self) -> None:
        """Re-send what is unacknowledged, retry logins, keep connections alive."""
        rt, now = self.runtime, self.runtime.world.now
        for conn in list(self.conns.values()):
            if not conn.open:
                if now - conn.attempted_at >= rt.retransmit - 1e-9:
                    rt.count("connects_resent")
                    self._hello(conn)
                continue
            for seq, out in conn.due(now, rt.retransmit):
                out.sent_at, out.sends = now, out.sends + 1
                rt.count("effects_resent")
                rt.note_load(self.id, "bytes_out", out.size)
                self.node.send(conn.peer, "app.data", {"conn": conn.id, "seq": seq, "body": out.body}, out.size)
            if conn.role == "up" and isinstance(conn.session, Session):
                exp = conn.session.claim("exp")
                if isinstance(exp, int | float) and now >= exp - 0.2 * rt.session_ttl:
                    rt.count("sessions_renewed")  # log in again before the session expires
                    self.connect(rt.world.node(conn.peer).zone)
                    continue
                conn.since_ping += 1
                if conn.since_ping >= rt.keepalive:
                    conn.since_ping = 0
                    self.node.send(conn.peer, "app.ping", {"conn": conn.id}, HEADER_BYTES)

    def busy(self) -> bool:
        """True while something of mine waits for an answer from an up node."""
        world = self.runtime.world
        for conn in self.conns.values():
            if not world.node(conn.peer).up:
                continue
            if conn.unacked or (not conn.open and conn.role != "attack"):
                return True
        return self.runtime.wants_connection(self.id) and self.id not in self.runtime.locked_out and any(
            z not in self.up for z in self.spec.providers_of(self.zone))

    # -- sending and receiving data ---------------------------------------------------------

    def peer_conn(self, dst: str, fresh: bool = False) -> Connection:
        """My connection to ``dst``, a node of my (trusted) zone; opened on first use, or anew
        when ``fresh`` (a resynchronisation: what the old one knew of ``dst`` is void)."""
        peers: dict[str, str] = self.node.volatile.setdefault("app.peers", {})
        if fresh and dst in peers:
            self.conns.pop(peers.pop(dst), None)
        if dst not in peers or peers[dst] not in self.conns:
            conn = Connection(f"peer:{self._new_conn_id(dst)}", dst, "peer", open=True)
            self.conns[conn.id] = conn
            peers[dst] = conn.id
        return self.conns[peers[dst]]

    def send_body(self, conn: Connection, body: dict[str, Any], n: int) -> None:
        """Send ``body`` reliably on ``conn``."""
        rt = self.runtime
        seq = conn.push(body, n, rt.world.now)
        if not conn.open:
            return  # sent when the connection opens
        if rt.send_once:
            conn.unacked.pop(seq)  # the broken variant: no re-send
        rt.note_load(self.id, "bytes_out", n)
        self.node.send(conn.peer, "app.data", {"conn": conn.id, "seq": seq, "body": body}, n)

    def send_effect(self, conn: Connection, comp: str, effect: Effect, session: Session | None,
                    cause: str = "", verified_at: float | None = None) -> None:
        rt = self.runtime
        target = self.spec.state(effect.path)
        msg: Crdt[Any] | Op | None
        if not target.type().accepts(effect.msg):  # only an attack sends this: as it is, unnarrowed
            self.send_body(conn, {"kind": "effect", "path": effect.path, "msg": effect.msg, "comp": comp,
                                  "session": session, "node": effect.node, "cause": cause}, HEADER_BYTES)
            return
        msg, shadow = conn.narrow(effect.path, effect.msg, initial(target))
        if msg is None and not rt.eager:
            rt.count("effects_unchanged")
            conn.shadow[effect.path] = shadow
            return
        if msg is None or rt.eager:
            msg = effect.msg
        conn.shadow[effect.path] = shadow
        n = HEADER_BYTES + size(msg, target.crdt) + (session.size() if session else 0)
        rt.count("effects_sent")
        rt.count("effect_bytes", n)
        rt.world.trace.record("app.send", node=self.id, dst=conn.peer, conn=conn.id, path=effect.path,
                              digest=value_digest(shadow.value()))
        body: dict[str, Any] = {"kind": "effect", "path": effect.path, "msg": msg, "comp": comp,
                                "session": session, "node": effect.node, "cause": cause}
        if verified_at is not None:
            body["verified_at"] = float(verified_at)
        if conn.role == "peer":
            body["service"] = rt._keys.issue(self.id, {"user": f"service:{self.id}", "node": self.id,
                                                       "exp": rt.world.now + rt.session_ttl})
            n += HEADER_BYTES * 4
        self.send_body(conn, body, n)

    def _on_ack(self, msg: Message) -> None:
        conn = self.conns.get(_get(msg.payload, "conn"))
        if conn is not None and conn.peer == msg.src:
            conn.acked(_get(msg.payload, "seq"))

    def _on_data(self, msg: Message) -> None:
        rt, p = self.runtime, msg.payload
        conn_id, seq, body = _get(p, "conn"), _get(p, "seq"), _get(p, "body")
        conn = self.conns.get(conn_id) if isinstance(conn_id, str) else None
        if conn is None and isinstance(conn_id, str) and conn_id.startswith("peer:") and self._trusted_peer(msg.src):
            conn = self.conns[conn_id] = Connection(conn_id, msg.src, "peer", open=True)
        if conn is None or conn.peer != msg.src or not (conn.open or conn.role in ("up", "attack")):
            rt.reject(self.id, msg.src, "unconnected", None)
            self.node.send(msg.src, "app.close", {"conn": conn_id}, HEADER_BYTES)
            return
        self.node.send(msg.src, "app.ack", {"conn": conn_id, "seq": seq}, HEADER_BYTES)
        rt.note_load(self.id, "bytes_in", msg.size)
        if not conn.accept(seq):
            rt.count("duplicates_dropped")
            return
        if conn.role == "up":
            conn.since_ping = 0
            if _get(body, "cause") == "connect":
                rt.note_fetch(self.id, msg.size)
        kind = _get(body, "kind")
        if kind != "effect":
            handler = rt.body_handlers.get(str(kind))
            if handler is None or conn.role != "peer":
                rt.reject(self.id, msg.src, "malformed", None)
                return
            handler(self, conn, body)
            return
        self._receive_effect(conn, body)

    def _trusted_peer(self, src: str) -> bool:
        node = self.runtime.nodes.get(src)
        return node is not None and node.zone == self.zone and self.zone not in self.spec.user_zones()

    def _receive_effect(self, conn: Connection, body: dict[str, Any]) -> None:
        rt = self.runtime
        path, m, comp = body.get("path"), body.get("msg"), str(body.get("comp"))
        try:
            zone, _ = split_path(path)  # type: ignore[arg-type]
            self.spec.state(path)  # type: ignore[arg-type]
        except SimError:
            rt.reject(self.id, conn.peer, "malformed", None)
            return
        assert isinstance(path, str)
        if not isinstance(m, Crdt | Op) or not self.spec.state(path).type().accepts(m):
            rt.reject(self.id, conn.peer, "malformed", None)  # not something its target can apply
            return
        session = body.get("session")
        if conn.role == "down":
            # from below: an untrusted write unless the session checks out. A user's node must
            # use its connection's session; a trusted node (a server) forwards its users' writes
            # with their sessions, each verified here again
            from_users = rt.world.node(conn.peer).zone in self.spec.user_zones()
            if session is None and not from_users:
                session = conn.session
            holder = conn.peer if from_users or session is conn.session else _get(
                dict(session.claims) if isinstance(session, Session) and isinstance(session.claims, tuple) else None,
                "node")
            # a trusted forwarder vouches for when it checked the session (re-sends may come later)
            vouched = body.get("verified_at") if not from_users else None
            at = vouched if isinstance(vouched, float) and vouched <= rt.world.now else None
            reason = rt.check_session(session, holder if isinstance(holder, str) else conn.peer, at=at)
            if reason == "ok" and from_users and session != conn.session:
                reason = "stolen"
            if reason != "ok":
                rt.reject(self.id, conn.peer, reason, None)
                if from_users:
                    self._drop_conn(conn.id)
                    self.node.send(conn.peer, "app.denied", {"conn": conn.id, "reason": reason}, HEADER_BYTES)
                return
            assert isinstance(session, Session)
            origin = rt.nodes.get(str(session.claim("node")))
            if origin is None or not rt.writable_from(origin.zone, path):
                rt.reject(self.id, conn.peer, "path", session.user)
                return
            if not rt.allowed(path, m, session):
                rt.count("writes_denied")
                rt.reject(self.id, conn.peer, "guard", session.user)
                rt.world.trace.record("app.denied", node=self.id, src=conn.peer, path=path, user=session.user)
                return
        elif conn.role == "peer":
            service = body.get("service")
            if rt.check_session(service, conn.peer, service=True) != "ok":
                rt.reject(self.id, conn.peer, "forged", None)
                return
            self.apply(path, m, comp, conn.peer)  # a peer passes on writes its zone already took
            return
        elif conn.role == "attack":
            rt.count("attack_data_received")  # only a broken provider sends data to an attacker
            return
        if zone == self.zone:
            self._apply_here(path, m, comp, conn.peer)
        else:
            self._forward(path, comp, Effect(path, m, body.get("node")), session if isinstance(session, Session)
                          else None, verified_at=rt.world.now if conn.role == "down" else None)

    def _apply_here(self, path: str, msg: Crdt[Any] | Op, comp: str, src: str) -> None:
        """Apply at this node, or pass the write on to the node that takes the zone's writes."""
        target = self.runtime.write_targets.get(self.zone)
        if target is not None and target != self.id and isinstance(self.spec.state(path), SourceState):
            self.send_effect(self.peer_conn(target), comp, Effect(path, msg), None)
            return
        self.apply(path, msg, comp, src)

    # -- computations -----------------------------------------------------------------------

    def _computations(self) -> list[str]:
        comps = [f"/{self.zone}/{n}" for n in self.spec.computations(self.zone)]
        return sorted(comps, key=self.runtime.rank.__getitem__)

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
        rt = self.runtime
        zones = {split_path(o)[0] for o in self.spec.outputs(comp)}
        consumers = zones & set(self.spec.consumers_of(self.zone))
        if consumers:
            targets = [(sub, c) for sub, c in self.subscriptions() if rt.world.node(sub).zone in consumers]
            if rt.eager:  # the broken variant: every node this provider serves, connected or not
                served = [n for z in sorted(consumers) for n in rt.zone_nodes(z) if rt.nodes[n].providers.get(
                    self.zone) == self.id and n not in self.subscribers]
                targets = sorted(targets + [(n, None) for n in served])  # type: ignore[misc]
            for sub, conn_id in targets:
                session = self.conns[conn_id].session if conn_id is not None else None
                if session is not None:
                    reason = rt.check_session(session, sub)
                    if reason != "ok":
                        rt.reject(self.id, sub, reason, session.user)
                        self._drop_conn(str(conn_id))
                        self.node.send(sub, "app.denied", {"conn": conn_id, "reason": reason}, HEADER_BYTES)
                        continue
                self._run(comp, Event(sub, session, cause, conn=conn_id))
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
            self._apply_here(effect.path, effect.msg, comp, self.id)
            return
        if zone in self.spec.consumers_of(self.zone):
            dst = effect.node or event.node
            conn_id = event.conn if event.conn is not None and dst == event.node else self._conn_of(dst or "")
            conn = self.conns.get(conn_id or "")
            if conn is None:
                rt.count("effects_unroutable")
                return
            self.send_effect(conn, comp, effect, None, event.cause)
            return
        if event.session is None and self.spec.providers_of(self.zone):
            rt.count("effects_deferred")  # offline: sent again once a session arrives
            return
        self._forward(effect.path, comp, effect, event.session)

    def _forward(self, path: str, comp: str, effect: Effect, session: Session | None,
                 verified_at: float | None = None) -> None:
        zone = split_path(path)[0]
        for up in self.spec.providers_of(self.zone):
            if up == zone or zone in self.runtime.upstream[up]:
                conn = self.conns.get(self.up.get(up, ""))
                if conn is None or (not conn.open and self.zone in self.spec.user_zones()):
                    self.runtime.count("effects_deferred")  # pushed again once a session arrives
                    return
                self.send_effect(conn, comp, effect, session, verified_at=verified_at)
                return
        raise SimError(f"computation {comp}: no route from zone {self.zone} to {path}")

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
        if src != self.id and isinstance(self.spec.state(path), SourceState):
            rt.note_load(self.id, "writes")
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
        if new == old:
            return False
        self._store(key, new)
        self.runtime.world.trace.record("app.mutate", node=self.id, path=path, op=name)
        self.changed(path)
        return True

    def expected(self, comp: str, event: Event) -> list[Effect]:
        """What ``comp`` would send for ``event`` now (run without dispatching or counting)."""
        result = self.runtime.function(comp)(self, event)
        return [] if result is None else [result] if isinstance(result, Effect) else list(result)


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
