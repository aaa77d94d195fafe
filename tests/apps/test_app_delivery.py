"""Connections: each number applied once whatever the order and the copies; shadows send only
what the other side lacks, and what they send brings it to the same value as sending everything."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crdt import LWWMap, LWWRegister
from sim.apps.delivery import Connection, value_digest


@given(st.integers(1, 30).flatmap(lambda n: st.permutations(list(range(1, n + 1)) * 2)))
def test_every_number_is_accepted_once_in_any_order_with_duplicates(order: list[int]) -> None:
    conn = Connection("a>b#0.1", "a", "down")
    accepted = [seq for seq in order if conn.accept(seq)]
    assert sorted(accepted) == sorted(set(order))
    assert conn.received == max(order) and not conn.above


writes = st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(["x", "y", "z"])), max_size=25)


@given(writes)
def test_narrowed_states_bring_the_other_side_to_the_full_value(ops: list[tuple[str, str]]) -> None:
    sender = Connection("s>r#0.1", "r", "up")
    full = receiver = LWWMap()
    sent = 0
    for t, (key, value) in enumerate(ops, 1):
        full = full.set("s", key, value, float(t))
        msg, shadow = sender.narrow("/z/m", full, LWWMap())
        sender.shadow["/z/m"] = shadow
        if msg is not None:
            sent += 1
            receiver = receiver.merge(msg)  # type: ignore[arg-type]
        assert receiver.value() == full.value()
    assert sent <= len(ops)


@given(st.lists(st.sampled_from(["x", "y"]), min_size=1, max_size=20))
def test_an_op_that_leaves_the_value_as_it_is_is_not_sent(values: list[str]) -> None:
    sender = Connection("s>r#0.1", "r", "down")
    receiver = LWWRegister()
    for t, value in enumerate(values, 1):
        op = LWWRegister().prepare_set("s", value, float(t))
        assert op is not None
        msg, shadow = sender.narrow("/z/r", op, LWWRegister())
        unchanged = "/z/r" in sender.shadow and sender.shadow["/z/r"].value() == value
        sender.shadow["/z/r"] = shadow
        assert (msg is None) == unchanged
        if msg is not None:
            receiver = receiver.effect(msg)  # type: ignore[arg-type]
        assert receiver.value() == value


def test_a_reported_digest_spares_the_first_send() -> None:
    conn = Connection("s>r#0.1", "r", "down", reported={"/z/m": value_digest({"k": "x"})})
    same = LWWMap().set("s", "k", "x", 1.0)
    assert conn.narrow("/z/m", same, LWWMap())[0] is None
    other = LWWMap().set("s", "k", "y", 1.0)
    assert conn.narrow("/z/m", other, LWWMap())[0] == other
