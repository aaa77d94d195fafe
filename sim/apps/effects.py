"""What computations produce and what travels: effects, events, and the checks on them.

An :class:`Effect` is a message for the CRDT at a path (an op of its type, or a state or delta
to merge); an :class:`Event` is what a computation runs for. :func:`initial` gives the value a
state starts as.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crdt import Crdt, Op
from crdt.codec import encode, encode_op
from sim.apps.session import Session
from sim.apps.spec import DerivedState, SourceState
from sim.errors import SimError

__all__ = ["HEADER_BYTES", "INIT_SHAPES", "REJECTIONS", "Effect", "EffectTypeError", "Event", "Guard", "describe",
           "encoded", "initial"]

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
        """The user of the event's session (``None`` without one)."""
        return None if self.session is None else self.session.user



#: the shape of a state's ``init`` by the kind of its CRDT (crdt.registry.KINDS): one value
#: (written with ``set``), key/value pairs (``set`` each) or a list of elements (``add`` each)
INIT_SHAPES = {"lww register": "value", "lww map": "mapping", "grow-only set": "list", "two-phase set": "list",
               "observed-remove set": "list"}


def initial(state: SourceState | DerivedState) -> Crdt[Any]:
    """The CRDT a state starts as: empty, or holding ``init`` written at time 0 by ``"init"``."""
    value = state.type()()
    init = getattr(state, "init", None)
    if init is None:
        return value
    shape = INIT_SHAPES.get(value.kind)
    if shape == "value":
        return value.mutate("set", "init", init, 0)
    if shape == "mapping":
        for k, v in init:
            value = value.mutate("set", "init", k, v, 0)
        return value
    for element in init:
        value = value.mutate("add", "init", element)
    return value


def values_of(msg: Crdt[Any] | Op) -> list[Any]:
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


def field_of(payload: Any, name: str) -> Any:
    """A field of a message payload that may come from an attacker: anything goes."""
    return payload.get(name) if isinstance(payload, dict) else None


