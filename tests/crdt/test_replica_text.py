"""Replica ids and string elements must encode as UTF-8: a lone surrogate is refused with a
CrdtError when it is given, never a UnicodeEncodeError when a state is later encoded."""

from __future__ import annotations

import pytest

from crdt import (
    CausalCounter,
    EWFlag,
    GCounter,
    GSet,
    LWWMap,
    LWWRegister,
    MVRegister,
    ORMap,
    ORSet,
    PNCounter,
    TwoPSet,
)
from crdt.codec import to_bytes
from crdt.errors import CrdtError

SURROGATE = "\ud800"
CASES = [
    ("GCounter", lambda r, e: GCounter().increment(r)),
    ("PNCounter", lambda r, e: PNCounter().decrement(r)),
    ("CausalCounter", lambda r, e: CausalCounter().increment(r)),
    ("EWFlag", lambda r, e: EWFlag().enable(r)),
    ("GSet", lambda r, e: GSet().add(r, e)),
    ("TwoPSet", lambda r, e: TwoPSet().add(r, e)),
    ("ORSet", lambda r, e: ORSet().add(r, e)),
    ("LWWRegister", lambda r, e: LWWRegister().set(r, e, 1.0)),
    ("MVRegister", lambda r, e: MVRegister().set(r, e)),
    ("LWWMap", lambda r, e: LWWMap().set(r, e, "v", 1.0)),
    ("ORMap", lambda r, e: ORMap().update(r, e, "CausalCounter", "increment", 1)),
]
NEEDS_ELEMENT = {"GSet", "TwoPSet", "ORSet", "LWWRegister", "MVRegister", "LWWMap", "ORMap"}
NEEDS_REPLICA = {n for n, _ in CASES} - {"GSet", "TwoPSet"}  # grow-only sets ignore the replica


@pytest.mark.parametrize("name, mutate", CASES, ids=[c[0] for c in CASES])
def test_valid_text_encodes(name: str, mutate) -> None:  # type: ignore[no-untyped-def]
    assert to_bytes(mutate("r-é", "élément"))


@pytest.mark.parametrize("name, mutate", [c for c in CASES if c[0] in NEEDS_REPLICA],
                         ids=[c[0] for c in CASES if c[0] in NEEDS_REPLICA])
def test_a_lone_surrogate_replica_id_is_a_crdt_error(name: str, mutate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CrdtError, match="replica id must be valid Unicode"):
        mutate(SURROGATE, "x")


@pytest.mark.parametrize("name, mutate", [c for c in CASES if c[0] in NEEDS_ELEMENT],
                         ids=[c[0] for c in CASES if c[0] in NEEDS_ELEMENT])
def test_a_lone_surrogate_element_is_a_crdt_error(name: str, mutate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CrdtError, match="valid Unicode"):
        mutate("r", SURROGATE)
    with pytest.raises(CrdtError, match="valid Unicode"):
        mutate("r", ("ok", SURROGATE))
