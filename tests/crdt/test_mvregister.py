"""MVRegister: laws, concurrent values kept, superseded by a later write, encoding."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.clocks import Dot
from crdt.codec import decode, decode_op, encode, encode_op
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.mvregister import MVRegister
from crdt.testing import CrdtSpec, check_laws, elements


def test_laws() -> None:
    spec = CrdtSpec(MVRegister, {"set": st.tuples(elements)})
    check_laws(spec, max_examples=min(settings.default.max_examples, 150))


def test_concurrent_writes_are_both_kept() -> None:
    a, b = MVRegister().set("a", "tea"), MVRegister().set("b", 3)
    assert a.merge(b).value() == ("tea", 3)  # canonical-JSON order: strings before numbers
    assert a.merge(b).entries() == [(Dot("a", 1), "tea"), (Dot("b", 1), 3)]


def test_a_write_that_saw_both_replaces_them() -> None:
    a, b = MVRegister().set("a", "tea"), MVRegister().set("b", "milk")
    later = a.merge(b).set("c", "jam")
    assert later.merge(a).merge(b).value() == ("jam",)


def test_equal_concurrent_values_show_once() -> None:
    a, b = MVRegister().set("a", "tea"), MVRegister().set("b", "tea")
    assert a.merge(b).value() == ("tea",)
    assert len(a.merge(b).entries()) == 2


def test_empty_register_and_bad_values() -> None:
    assert MVRegister().value() == ()
    with pytest.raises(InvalidOperationError):
        MVRegister().set("a", {"not": "an element"})


def test_ops_and_encoding() -> None:
    r = MVRegister().set("a", ("x", 1)).merge(MVRegister().set("b", None))
    op = r.prepare_set("c", 2.5)
    assert r.effect(op) == r.set("c", 2.5)
    assert decode_op(encode_op("MVRegister", op)) == op
    assert decode(encode(r)) == r and decode(encode(r)).value() == r.value()


def test_merge_with_another_type_raises() -> None:
    from crdt.orset import ORSet

    with pytest.raises(TypeMismatchError):
        MVRegister().merge(ORSet())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        {"context": {"vv": {}, "cloud": []}, "store": [[["a", 1], "x"]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [[["a", 1], "x"], [["a", 1], "y"]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [[["a", 1], {"x": 1}]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [["a", 1]]},
    ],
)
def test_malformed_data_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError):
        MVRegister.from_data(data)
