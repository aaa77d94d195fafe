"""Canonical encoding: stable bytes, sizes and clear decode errors."""

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdt import DecodeError, GCounter, decode, from_bytes, size, to_bytes
from crdt.codec import canonical_encoder, canonical_json, decode_element, element_sort_key, encode_element


def test_encoding_is_independent_of_insertion_order() -> None:
    one = GCounter().increment("b", 1).increment("a", 2)
    two = GCounter().increment("a", 2).increment("b", 1)
    assert to_bytes(one) == to_bytes(two)
    assert size(one) == len(to_bytes(one))


def test_bytes_are_the_same_in_another_process() -> None:
    code = "from crdt import GCounter, to_bytes; print(to_bytes(GCounter({'z': 1, 'a': 2})).hex())"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], env={"PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True
        ).stdout
        for seed in ("0", "1", "2")
    }
    assert outputs == {to_bytes(GCounter({"z": 1, "a": 2})).hex() + "\n"}


def test_elements_round_trip_including_tuples() -> None:
    for element in ["x", 3, 2.5, True, None, ("a", (1, 2))]:
        assert decode_element(encode_element(element)) == element
    assert sorted([3, None, "a"], key=element_sort_key) == ["a", 3, None]  # by JSON text


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"not json", "not valid JSON"),
        (b'{"type":"Nope","state":{}}', "unknown CRDT type"),
        (b'{"state":{}}', "expected {type: name, state: ...}"),
        (b'{"type":"GCounter","state":[1]}', "GCounter"),
    ],
)
def test_malformed_data_is_a_decode_error(raw: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message.replace("{", r"\{").replace("}", r"\}")):
        from_bytes(raw)


def test_unencodable_element_is_rejected() -> None:
    with pytest.raises(DecodeError, match="elements must be"):
        encode_element(object())
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(DecodeError, match="finite numbers"):
            encode_element(bad)
    assert decode({"type": "GCounter", "state": {"a": 1}}) == GCounter({"a": 1})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(_json)
def test_canonical_json_is_sorted_compact_json(data: object) -> None:
    expected = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert canonical_json(data) == expected


@given(st.text() | st.integers() | st.tuples(st.text(), st.integers()))
def test_element_sort_key_is_the_canonical_json_of_the_element(element: object) -> None:
    assert element_sort_key(element) == canonical_json(encode_element(element))
    if isinstance(element, str):
        assert element_sort_key(element) == json.dumps(element, ensure_ascii=False)


def test_register_refuses_a_name_another_type_holds() -> None:
    from crdt.codec import register, type_named
    from crdt.errors import RegistrationError

    class Impostor(GCounter):
        type_name = "GCounter"

    with pytest.raises(RegistrationError, match="'GCounter' is taken by crdt.gcounter.GCounter; choose another"):
        register(Impostor)
    assert type_named("GCounter") is GCounter
    assert register(GCounter) is GCounter  # registering the same class again changes nothing


def test_register_refuses_an_operation_without_all_three_forms() -> None:
    from crdt.codec import register, registered_types
    from crdt.errors import RegistrationError

    class HalfCounter(GCounter):
        type_name = "HalfCounter"
        operations = ("increment", "double")

        def double(self, replica: str) -> "HalfCounter":
            return self

    with pytest.raises(RegistrationError, match=r"need the methods \['double_delta', 'prepare_double'\]"):
        register(HalfCounter)
    assert "HalfCounter" not in registered_types()


_text_with_surrogates = st.text() | st.sampled_from(["caf\u00e9", "\ud800", "a\udfffb", "\U0001f642"])
_open_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | _text_with_surrogates,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text_with_surrogates, inner, max_size=3),
    max_leaves=8,
)


@given(_open_json)
def test_the_ascii_form_is_the_same_json_spelt_in_ascii(data: object) -> None:
    text = canonical_json(data, ascii=True)
    assert text.isascii() and len(text.encode("ascii")) == len(text)
    assert json.loads(text) == data
    assert canonical_json(json.loads(text), ascii=True) == text  # canonical: parsing and re-encoding is stable
    utf8 = canonical_json(data)
    assert json.loads(utf8) == data and (utf8 == text) == utf8.isascii()


def test_both_forms_refuse_nan_and_infinity_and_the_default_hook_converts() -> None:
    for ascii in (False, True):
        with pytest.raises(ValueError):
            canonical_json({"x": float("nan")}, ascii=ascii)
        with pytest.raises(ValueError):
            canonical_json([float("inf")], ascii=ascii)
    encode_sets = canonical_encoder(ascii=True, default=lambda v: sorted(v))
    assert encode_sets({"b": {3, 1}, "a": "\u00e9"}) == '{"a":"\\u00e9","b":[1,3]}'
    with pytest.raises(TypeError):
        canonical_json({"b": {3, 1}})
