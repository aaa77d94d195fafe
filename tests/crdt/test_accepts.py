"""Which messages each type accepts (``Crdt.accepts``): its states and deltas, and the op of
every one of its ``prepare_*`` methods; nothing of any other type."""

from __future__ import annotations

from typing import Any

import pytest

from crdt import Crdt, Op
from crdt.codec import registered_types
from crdt.errors import CrdtError


def _library_types() -> dict[str, type[Crdt[Any]]]:
    """The library's own types (tests elsewhere register types of their own)."""
    return {n: c for n, c in registered_types().items() if c.__module__.startswith("crdt.")}


#: arguments after the replica id for each (type, operation); a state to prepare on when the
#: operation needs one (a remove needs something to remove)
ARGS: dict[str, dict[str, tuple[Any, ...]]] = {
    "GCounter": {"increment": (2,)},
    "PNCounter": {"increment": (2,), "decrement": (1,)},
    "CausalCounter": {"increment": (2,), "decrement": (1,)},
    "GSet": {"add": ("x",)},
    "TwoPSet": {"add": ("x",), "remove": ("x",)},
    "ORSet": {"add": ("x",), "remove": ("x",), "clear": ()},
    "LWWRegister": {"set": ("x", 1.0)},
    "MVRegister": {"set": ("x",)},
    "LWWMap": {"set": ("k", "x", 1.0), "delete": ("k", 2.0)},
    "ORMap": {"update": ("k", "ORSet", "add", "x"), "remove": ("k",)},
    "EWFlag": {"enable": (), "disable": ()},
    "DWFlag": {"enable": (), "disable": ()},
}


def _before(cls: type[Crdt[Any]], name: str) -> Crdt[Any]:
    """A state on which ``name`` changes something (a remove needs an add first, a DWFlag's
    enable a disable)."""
    state = cls()
    try:
        if state.prepare(name, "a", *ARGS[cls.type_name][name]) is not None:
            return state
    except CrdtError:
        pass
    other = next(o for o in cls.operations if o != name)
    return state.mutate(other, "a", *ARGS[cls.type_name][other])


def _prepared(cls: type[Crdt[Any]], name: str) -> Op:
    op = _before(cls, name).prepare(name, "a", *ARGS[cls.type_name][name])
    assert op is not None, (cls.type_name, name)
    return op


def test_every_registered_type_has_its_operations_listed() -> None:
    assert sorted(ARGS) == sorted(_library_types())
    for name, cls in _library_types().items():
        assert sorted(ARGS[name]) == sorted(cls.operations), name


@pytest.mark.parametrize("name", sorted(_library_types()))
def test_a_type_accepts_its_states_and_the_op_of_every_prepare(name: str) -> None:
    cls = _library_types()[name]
    assert cls.accepts(cls())
    for operation in cls.operations:
        op = _prepared(cls, operation)
        assert cls.accepts(op), (name, operation, type(op).__name__)
        assert type(op) in cls.op_types
        delta = _before(cls, operation).mutate_delta(operation, "a", *ARGS[name][operation])
        if delta is not None:
            assert cls.accepts(delta)
    assert not cls.accepts(None) and not cls.accepts("x")


@pytest.mark.parametrize("name", sorted(_library_types()))
def test_a_type_accepts_nothing_of_another_type_unless_it_applies_it(name: str) -> None:
    cls = _library_types()[name]
    for other_name, other in _library_types().items():
        if other is cls:
            continue
        assert not cls.accepts(other()), (name, other_name)
        for operation in other.operations:
            op = _prepared(other, operation)
            if cls.accepts(op):  # a shared op record (PNCounter applies GCounter's Increment)
                cls().effect(op)
