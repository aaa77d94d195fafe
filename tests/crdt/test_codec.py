"""Canonical encoding: stable bytes, sizes and clear decode errors."""

import subprocess
import sys

import pytest

from crdt import DecodeError, GCounter, decode, from_bytes, size, to_bytes
from crdt.codec import decode_element, element_sort_key, encode_element


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
