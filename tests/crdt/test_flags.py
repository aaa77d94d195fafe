"""EWFlag and DWFlag: laws, which action wins, no-ops, encoding and errors."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt.codec import decode, decode_op, encode, encode_op
from crdt.errors import DecodeError, InvalidOperationError, TypeMismatchError
from crdt.flags import DWFlag, EWFlag
from crdt.gcounter import Increment
from crdt.testing import CrdtSpec, check_laws

EXAMPLES = min(settings.default.max_examples, 150)
OPS = {"enable": st.just(()), "disable": st.just(())}


@pytest.mark.slow
@pytest.mark.parametrize("flag", [EWFlag, DWFlag])
def test_laws(flag: type) -> None:
    check_laws(CrdtSpec(flag, OPS), max_examples=EXAMPLES)


def test_ewflag_concurrent_enable_and_disable_is_enabled() -> None:
    on = EWFlag().enable("a")
    off, again = on.disable("a"), on.enable("b")
    assert off.merge(again).value() is True
    assert again.merge(off).value() is True


def test_ewflag_disable_that_saw_the_enable_wins() -> None:
    on = EWFlag().enable("a")
    off = on.merge(EWFlag().enable("b")).disable("c")
    assert off.merge(on).value() is False


def test_dwflag_concurrent_enable_and_disable_is_disabled() -> None:
    off = DWFlag().disable("a")
    enabled, disabled = off.enable("a"), off.disable("b")
    assert enabled.value() is True
    assert enabled.merge(disabled).value() is False
    assert disabled.merge(enabled).value() is False


def test_initial_values_and_no_ops() -> None:
    assert EWFlag().value() is False and DWFlag().value() is True
    assert EWFlag().disable_delta("a") is None and EWFlag().prepare_disable("a") is None
    assert DWFlag().enable_delta("a") is None and DWFlag().prepare_enable("a") is None
    on = EWFlag().enable("a")
    assert on.enable("a") != on  # repeating the winning action makes a new dot


def test_effect_matches_state_form_and_ops_round_trip() -> None:
    on = EWFlag().enable("a").merge(EWFlag().enable("b"))
    op = on.prepare_disable("c")
    assert op is not None and on.effect(op) == on.disable("c")
    assert decode_op(encode_op("EWFlag", op)) == op
    assert decode(encode(on)) == on


def test_merge_with_other_flag_type_raises() -> None:
    with pytest.raises(TypeMismatchError):
        EWFlag().merge(DWFlag())  # type: ignore[arg-type]


def test_effect_of_foreign_op_raises() -> None:
    with pytest.raises(InvalidOperationError):
        EWFlag().effect(Increment("a", 1))


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"context": {"vv": {}, "cloud": []}, "store": [["a", 1]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": [["a", 1], ["a", 1]]},
        {"context": {"vv": {"a": 1}, "cloud": []}, "store": "a1"},
    ],
)
def test_malformed_data_raises_decode_error(data: object) -> None:
    with pytest.raises(DecodeError):
        EWFlag.from_data(data)
    with pytest.raises(DecodeError):
        DWFlag.op_from_data(data)
