"""Attacks on an app (challenge 6), made through the same messages a node can send.

Each attack is attempted by one node (the attacker) and counted as ``attacks_<kind>``; the
providers' rejections are counted as ``sessions_rejected_<reason>`` and traced (``app.reject``).

* ``impersonate: <user>`` — log in as another user with a guessed password;
* ``forge: <user>`` — a session with made-up claims and a signature made without the key;
* ``alter: <user>`` — the attacker's own genuine session with its user claim changed;
* ``replay: <node>`` — another client's genuine session, presented from the attacker's node;
* ``expired: true`` — the attacker's first session, replayed after it expired;
* ``removed: <user>`` — the user is removed from the credential store; their node then tries
  its session and a fresh login;
* ``malformed: <shape>`` — a session of a broken shape (see :func:`sim.apps.session.malformed`);
* ``peer_effect: <node>`` — an effect sent straight to another node, outside any connection;
* ``write_foreign: <user>`` / ``delete_foreign: <user>`` — a write (a new todo, a tombstone) of
  another user's key pushed under the attacker's own session;
* ``fake_derived: <node>`` — an effect for another client's derived state pushed up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crdt import LWWMap, LWWRegister
from sim.apps.runtime import HEADER_BYTES, AppNode, Effect
from sim.apps.session import Session, forge, malformed
from sim.apps.spec import obj
from sim.errors import ConfigError

if TYPE_CHECKING:
    from sim.apps.runtime import AppRuntime

__all__ = ["ATTACKS", "attack"]

ATTACKS = ("impersonate", "forge", "alter", "replay", "expired", "removed", "malformed", "peer_effect",
           "write_foreign", "delete_foreign", "fake_derived")


def kind_of(spec: Mapping[str, Any]) -> str:
    kinds = [k for k in ATTACKS if k in spec]
    if len(kinds) != 1:
        raise ConfigError("attack", f"exactly one of {list(ATTACKS)}", sorted(spec))
    return kinds[0]


def attack(runtime: AppRuntime, node_id: str, spec: Mapping[str, Any]) -> None:
    """Attempt the attack ``spec`` from ``node_id`` now (nothing if the node is down)."""
    node = runtime.node(node_id)
    kind = kind_of(spec)
    if not node.node.up:
        return
    runtime.count(f"attacks_{kind}")
    runtime.world.trace.record("app.attack", node=node_id, attack=kind)
    arg = spec[kind]
    zone = runtime.spec.providers_of(node.zone)[0]
    own = node.session
    if kind == "impersonate":
        node.attack_connect(zone, login={"user": arg, "password": "guess"})
    elif kind == "forge":
        node.attack_connect(zone, resume=forge({"user": arg, "node": node_id, "issuer": node.providers[zone],
                                                "exp": runtime.world.now + 60.0}))
    elif kind == "alter" and own is not None:
        claims = tuple((k, arg if k == "user" else v) for k, v in own.claims)
        node.attack_connect(zone, resume=Session(claims, own.signature))
    elif kind == "replay":
        stolen = runtime.node(arg).session
        if stolen is not None:
            node.attack_connect(zone, resume=stolen)
    elif kind == "expired":
        first = node.node.volatile.get("app.first_session")
        if first is not None:
            node.attack_connect(zone, resume=first)
    elif kind == "removed":
        runtime.remove_user(arg)
        victim = next((n for n, u in sorted(runtime.users.items()) if u == arg), None)
        if victim is not None and runtime.node(victim).node.up:
            v = runtime.node(victim)
            if v.session is not None:
                v.attack_connect(zone, resume=v.session)
            v.attack_connect(zone, login=v._login())
    elif kind == "malformed":
        node.attack_connect(zone, resume=malformed(str(arg)))
    elif kind == "peer_effect":
        msg = LWWRegister().prepare_set(node_id, (obj(id="x/1", title="fake", user="x"),), node.timestamp())
        body = {"kind": "effect", "path": "/client/my_todos", "msg": msg, "comp": "attack", "session": own,
                "node": arg, "cause": "attack"}
        node.node.send(arg, "app.data", {"conn": f"{node_id}>{arg}#forged", "seq": 1, "body": body}, HEADER_BYTES)
    elif kind in ("write_foreign", "delete_foreign"):
        key = f"{arg}/1"
        if kind == "write_foreign":
            delta = LWWMap().set(node_id, key, obj(done=False, id=key, title="planted", user=arg), node.timestamp())
        else:
            delta = LWWMap().delete(node_id, key, node.timestamp())
        _push(node, zone, Effect("/db/all_todos", delta), own)
    elif kind == "fake_derived":
        fake = LWWRegister().set(node_id, (), node.timestamp())
        _push(node, zone, Effect("/client/my_todos", fake, arg), own)


def _push(node: AppNode, zone: str, effect: Effect, session: Session | None) -> None:
    """Send ``effect`` up the attacker's own connection as it is (no computation made it)."""
    conn = node.conns.get(node.up.get(zone, ""))
    if conn is not None and conn.open:
        body = {"kind": "effect", "path": effect.path, "msg": effect.msg, "comp": "attack", "session": session,
                "node": effect.node, "cause": "attack"}
        node.send_body(conn, body, HEADER_BYTES * 4)
