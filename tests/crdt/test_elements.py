"""The one element check: what it accepts and refuses, and that every type refuses alike."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdt import CausalCounter, GSet, LWWMap, LWWRegister, MVRegister, ORMap, ORSet, TwoPSet
from crdt.codec import canonical_json, decode_element, encode_element
from crdt.elements import ELEMENT_RULE, check_element, decode_element_checked
from crdt.errors import DecodeError, InvalidOperationError

ACCEPTED = [
    None, True, False, 0, -7, 2**200, 10**4000, 1.5, -0.0, 1e308, "", "milk", "café", "emoji 🙂",
    (), ("a", 1), (("nested", (1, (2.5, None))), True),
]
REFUSED = [
    float("inf"), float("-inf"), float("nan"), "lone \ud800 surrogate", 10**4300, -(10**4300),
    ["a", "list"], {"a": 1}, {1, 2}, frozenset({1}), object(), b"bytes", 1j,
    ("a", float("inf")), ("a", ["list", "inside"]), (("deep", ("\udfff",)),),
]


def _id(element: object) -> str:
    if isinstance(element, int) and element.bit_length() > 1000:
        return f"int-of-{element.bit_length()}-bits"  # repr of such an int raises
    text = repr(element)
    # an id must be the same in every process (xdist workers compare them): no addresses
    return f"{type(element).__name__}()" if " at 0x" in text else text[:30]


@pytest.mark.parametrize("element", ACCEPTED, ids=_id)
def test_accepted_elements_come_back_equal_from_their_encoding(element: object) -> None:
    assert check_element("GSet", "add", element) is element
    text = canonical_json(encode_element(element))
    back = decode_element(json.loads(text.encode("utf-8")))
    assert back == element and type(back) is type(element)


@pytest.mark.parametrize("element", REFUSED, ids=_id)
def test_refused_elements_name_the_type_the_operation_and_the_rule(element: object) -> None:
    with pytest.raises(InvalidOperationError) as info:
        check_element("GSet", "add", element)
    message = str(info.value)
    assert message.startswith(f"GSet.add: {ELEMENT_RULE}, found ")
    assert message.endswith(" bits") if _id(element).endswith("bits") else repr(element)[:20] in message


def test_the_rule_says_what_is_allowed() -> None:
    for allowed in ("None", "bool", "int (up to 4300 digits)", "a finite float", "valid Unicode", "tuple"):
        assert allowed in ELEMENT_RULE


def test_decoding_a_refused_element_is_a_decode_error_with_the_same_rule() -> None:
    assert decode_element_checked("GSet", ["a", [1, 2.5]]) == ("a", (1, 2.5))
    with pytest.raises(DecodeError, match="GSet.from_data: elements must be None, bool"):
        decode_element_checked("GSet", {"a": 1})
    with pytest.raises(DecodeError, match="GSet.from_data: elements must be None, bool"):
        decode_element_checked("GSet", "\ud800")


_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text()
            | st.sampled_from(["\ud800", "a\udc00b"]))
_candidates = st.recursive(_scalars, lambda inner: st.tuples(inner, inner) | st.lists(inner, max_size=2), max_leaves=6)


def _round_trips(value: Any) -> bool:
    """An oracle sharing nothing with the check: does the value survive UTF-8 JSON unchanged?"""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, list):
            raise TypeError("a list is not hashable")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("no JSON spelling")
        return v

    try:
        raw = json.dumps(plain(value), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        return False
    return bool(json.loads(raw) == plain(value))


@given(_candidates)
def test_accepted_exactly_when_the_value_survives_utf8_json(value: Any) -> None:
    try:
        check_element("ORSet", "add", value)
    except InvalidOperationError:
        accepted = False
    else:
        accepted = True
    assert accepted == _round_trips(value)


ADDS: dict[str, Callable[[Any], object]] = {
    "GSet.add": lambda e: GSet().add("a", e),
    "ORSet.add": lambda e: ORSet().add("a", e),
    "TwoPSet.add": lambda e: TwoPSet().add("a", e),
    "LWWRegister.set": lambda e: LWWRegister().set("a", e, 1.0),
    "MVRegister.set": lambda e: MVRegister().set("a", e),
    "LWWMap.set": lambda e: LWWMap().set("a", e, 1, 1.0),
    "ORMap.update": lambda e: ORMap().update("a", e, CausalCounter, "increment", 1),
}


@pytest.mark.parametrize("where", sorted(ADDS))
@pytest.mark.parametrize("element", [float("inf"), "\ud800", ["list"]], ids=_id)
def test_every_element_holding_type_refuses_with_the_one_rule(where: str, element: object) -> None:
    with pytest.raises(InvalidOperationError) as info:
        ADDS[where](element)
    assert str(info.value).startswith(f"{where}: {ELEMENT_RULE}, found ")
