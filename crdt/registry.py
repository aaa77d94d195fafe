"""The registry of CRDT types: every type by name, and what kind of value each one is.

This is the one place that knows which types exist. :mod:`crdt.codec` decodes by it; the
simulator's scenario schema, scenario builder, workloads, checks and app model ask it which
types there are and dispatch on each type's :attr:`~crdt.base.Crdt.kind`, never on its name.
A type joins with the :func:`register` class decorator; what it accepts comes with the class:
its mutations (:attr:`~crdt.base.Crdt.operations`, each in a state, delta and op form), its
deltas (values of the type itself) and its op records (:attr:`~crdt.base.Crdt.op_types`),
together :meth:`~crdt.base.Crdt.accepts`.

>>> from crdt import GCounter
>>> type_named("GCounter") is GCounter, GCounter.kind, KINDS[GCounter.kind].family
(True, 'counter', 'counter')
>>> [(t.kind, KINDS[t.kind].family) for t in map(type_named, ["TwoPSet", "ORSet"])]
[('two-phase set', 'set'), ('observed-remove set', 'set')]

A new type registers like the library's own, and is then offered wherever types are:

>>> from crdt.gset import GSet
>>> @register
... class TagSet(GSet):
...     type_name = "TagSet"
>>> "TagSet" in listed_types(), TagSet.kind
(True, 'grow-only set')
>>> unregister(TagSet)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from crdt.base import Crdt
from crdt.errors import DecodeError, RegistrationError

__all__ = ["KINDS", "Kind", "listed_types", "register", "registered_types", "type_named", "unregister"]


@dataclass(frozen=True, slots=True)
class Kind:
    """What kind of value a type holds: the simulator drives and checks a type by its kind."""

    name: str
    #: the broader family (counter, set, register, map, flag): types of one family can stand
    #: in for each other (ORMap advises a causal type of the same family)
    family: str
    description: str


def _kinds(*kinds: Kind) -> dict[str, Kind]:
    return {k.name: k for k in kinds}


#: every kind a type may declare, by name
KINDS: dict[str, Kind] = _kinds(
    Kind("counter", "counter", "an integer moved by increment (and, where offered, decrement) amounts"),
    Kind("grow-only set", "set", "a set whose elements, once added, stay"),
    Kind("two-phase set", "set", "a set whose removed elements never return"),
    Kind("observed-remove set", "set", "a set whose elements come and go; an add wins over a concurrent remove"),
    Kind("lww register", "register", "one value: the write with the highest (timestamp, replica) wins"),
    Kind("multi-value register", "register", "concurrent writes side by side; a write replaces what it saw"),
    Kind("lww map", "map", "keys to last-writer-wins values; a delete writes a tombstone"),
    Kind("map of crdts", "map", "keys to nested CRDT values; an update wins over a concurrent remove"),
    Kind("flag", "flag", "a boolean, enabled and disabled"),
)

_TYPES: dict[str, type[Crdt[Any]]] = {}
_UNLISTED: set[str] = set()

#: the decorated class keeps its own type
T = TypeVar("T", bound=type[Crdt[Any]])


@overload
def register(cls: T, /) -> T: ...
@overload
def register(*, listed: bool = True) -> Callable[[T], T]: ...


def register(cls: T | None = None, /, *, listed: bool = True) -> T | Callable[[T], T]:
    """Class decorator: register ``cls`` under its ``type_name`` (``@register`` or
    ``@register(listed=False)``).

    Every registered type can be decoded. A *listed* type is also offered by name to users
    (scenario keys, app states); a broken variant that stands in for a listed type registers
    with ``listed=False``. Refuses, with a :class:`~crdt.errors.RegistrationError`, a name
    another class holds, a declared operation that lacks its state (``name``), delta
    (``name_delta``) or op (``prepare_name``) form, and an unknown :attr:`~crdt.base.Crdt.kind`,
    so an incomplete type fails where it is defined, not mid-run.
    """
    if cls is None:
        return lambda c: _register(c, listed)
    return _register(cls, listed)


def _register(cls: T, listed: bool) -> T:
    name = getattr(cls, "type_name", None)
    if not isinstance(name, str) or not name:
        raise RegistrationError(cls, f"expected a type_name string, found {name!r}")
    holder = _TYPES.get(name)
    if holder is not None and holder is not cls:
        raise RegistrationError(
            cls, f"type name {name!r} is taken by {holder.__module__}.{holder.__qualname__}; choose another"
        )
    missing = [
        method
        for operation in cls.operations
        for method in (operation, f"{operation}_delta", f"prepare_{operation}")
        if not callable(getattr(cls, method, None))
    ]
    if missing:
        raise RegistrationError(cls, f"operations {list(cls.operations)} need the methods {missing}")
    kind = getattr(cls, "kind", "")
    if kind not in KINDS:
        raise RegistrationError(cls, f"kind must be one of {list(KINDS)}, found {kind!r}")
    _TYPES[name] = cls
    if not listed:
        _UNLISTED.add(name)
    return cls


def unregister(cls: type[Crdt[Any]]) -> None:
    """Remove ``cls`` (a type registered for a while, as in a test); unknown classes are ignored."""
    if _TYPES.get(cls.type_name) is cls:
        del _TYPES[cls.type_name]
        _UNLISTED.discard(cls.type_name)


def registered_types() -> dict[str, type[Crdt[Any]]]:
    """Every registered type by name, in name order (listed or not: each can be decoded)."""
    return dict(sorted(_TYPES.items()))


def listed_types() -> dict[str, type[Crdt[Any]]]:
    """The types offered to users by name, in name order."""
    return {name: cls for name, cls in sorted(_TYPES.items()) if name not in _UNLISTED}


def type_named(name: str) -> type[Crdt[Any]]:
    """The registered type called ``name``; an unknown name raises :class:`~crdt.errors.DecodeError`."""
    try:
        return _TYPES[name]
    except KeyError:
        raise DecodeError("codec", f"unknown CRDT type; expected one of {sorted(_TYPES)}", name) from None
