"""The ``app`` component of one node: its states, connections, sessions and subscribers.

An :class:`AppNode` logs in to its providers, serves its subscribers, sends and receives
effects over reliable connections (:mod:`sim.apps.delivery`) and reruns the computations that
depend on a state when it changes. The :class:`~sim.apps.runtime.AppRuntime` creates one per
node of every app zone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crdt import Crdt, Op
from crdt.codec import size
from sim.apps.delivery import Connection, value_digest
from sim.apps.effects import HEADER_BYTES, Effect, EffectTypeError, Event, encoded, initial, values_of
from sim.apps.effects import field_of as _get
from sim.apps.session import Session
from sim.apps.spec import DerivedState, SourceState, check_value, split_path
from sim.errors import ConfigError, SimError

if TYPE_CHECKING:
    from sim.apps.runtime import AppRuntime
    from sim.network import Message
    from sim.node import Node

__all__ = ["AppNode"]


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
        self.node.send(sub, "app.session", {"conn": conn.id, "session": conn.session, "epoch": self.node.incarnation},
                       HEADER_BYTES + conn.session.size())

    def _provider_restarted(self, conn: Connection, payload: Any) -> bool:
        """True (and a fresh connection started) if my provider restarted since this connection
        began: it forgot what it acknowledged and numbers its messages from 1 again."""
        epoch = _get(payload, "epoch")
        if conn.role != "up" or not isinstance(epoch, int):
            return False
        if conn.peer_epoch is None:
            conn.peer_epoch = epoch
            return False
        if epoch == conn.peer_epoch:
            return False
        self.runtime.count("provider_restarts_seen")
        self.connect(self.runtime.world.node(conn.peer).zone)
        return True

    def _on_session(self, msg: Message) -> None:
        conn = self.conns.get(_get(msg.payload, "conn"))
        if conn is None or conn.open or conn.peer != msg.src or self._provider_restarted(conn, msg.payload):
            return
        conn.open, conn.session = True, _get(msg.payload, "session")
        self.node.volatile.setdefault("app.first_session", conn.session)
        if conn.role == "attack":
            self.runtime.count("attacks_accepted")
            return
        for seq, out in sorted(conn.unacked.items()):  # queued while connecting
            out.sent_at = self.runtime.world.now
            self.node.send(conn.peer, "app.data", {"conn": conn.id, "seq": seq, "body": out.body,
                                                   "epoch": self.node.incarnation}, out.size)
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
                self.node.send(conn.peer, "app.data", {"conn": conn.id, "seq": seq, "body": out.body,
                                                   "epoch": self.node.incarnation}, out.size)
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
        self.node.send(conn.peer, "app.data", {"conn": conn.id, "seq": seq, "body": body,
                                               "epoch": self.node.incarnation}, n)

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
        if self._provider_restarted(conn, p):
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
        for value in values_of(new):
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

    def expected(self, comp: str, event: Event) -> list[Effect]:
        """What ``comp`` would send for ``event`` now (run without dispatching or counting)."""
        result = self.runtime.function(comp)(self, event)
        return [] if result is None else [result] if isinstance(result, Effect) else list(result)


