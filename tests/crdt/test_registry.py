"""The registry of CRDT types (``crdt.registry``): names, kinds, listing, and ORMap's advice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crdt import GCounter, GSet, LWWRegister, ORMap
from crdt.codec import decode, encode
from crdt.errors import DecodeError, InvalidOperationError, RegistrationError
from crdt.registry import KINDS, listed_types, register, registered_types, type_named, unregister


def test_every_library_type_is_listed_with_a_known_kind_and_every_kind_is_used() -> None:
    library = {n: c for n, c in registered_types().items() if c.__module__.startswith("crdt.")}
    assert len(library) == 12 and library.items() <= listed_types().items()
    assert {c.kind for c in library.values()} == set(KINDS)
    assert {KINDS[c.kind].family for c in library.values()} == {"counter", "set", "register", "map", "flag"}


@pytest.fixture
def tally() -> Iterator[type[GCounter]]:
    @register
    class Tally(GCounter):
        type_name = "Tally"

    yield Tally
    unregister(Tally)


def test_a_registered_type_is_listed_decodable_and_gone_once_unregistered(tally: type[GCounter]) -> None:
    value = tally().increment("a", 3)
    assert listed_types()["Tally"] is tally and type_named("Tally") is tally
    assert decode(encode(value)) == value and type(decode(encode(value))) is tally
    unregister(tally)
    assert "Tally" not in registered_types()
    with pytest.raises(DecodeError, match="unknown CRDT type"):
        decode(encode(value))


def test_an_unlisted_type_decodes_but_is_not_offered() -> None:
    @register(listed=False)
    class Sloppy(GSet):
        type_name = "Sloppy"

    try:
        assert type_named("Sloppy") is Sloppy and "Sloppy" in registered_types()
        assert "Sloppy" not in listed_types()
    finally:
        unregister(Sloppy)


def test_register_refuses_a_type_without_a_known_kind() -> None:
    class Shapeless(GCounter):
        type_name = "Shapeless"
        kind = "heap"

    with pytest.raises(RegistrationError, match=r"kind must be one of \['counter'.*found 'heap'"):
        register(Shapeless)
    assert "Shapeless" not in registered_types()


@pytest.mark.parametrize(("nested", "advice"), [
    (GCounter, "use CausalCounter instead"),
    (GSet, "use ORSet instead"),
    (LWWRegister, "use MVRegister instead"),
])
def test_ormap_advises_the_causal_type_of_the_same_family(nested: type[Any], advice: str) -> None:
    with pytest.raises(InvalidOperationError, match=f"{nested.type_name} cannot nest in an ORMap.*{advice}"):
        ORMap().update("a", "k", nested, "add" if nested is GSet else "set", "x")


def test_ormap_names_every_listed_causal_type_for_an_unknown_one() -> None:
    with pytest.raises(InvalidOperationError,
                       match="nest one of CausalCounter, DWFlag, EWFlag, MVRegister, ORMap or ORSet"):
        ORMap().update("a", "k", "Heap", "add", 1)


def test_ormap_advice_follows_the_registry(tally: type[GCounter]) -> None:
    # a newly registered non-causal counter is advised like the library's own
    with pytest.raises(InvalidOperationError, match="Tally cannot nest.*use CausalCounter instead"):
        ORMap().update("a", "k", "Tally", "increment", 1)
