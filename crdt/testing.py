"""Hypothesis strategies and law checks for CRDTs: ours and yours.

Describe a type with a :class:`CrdtSpec` (its empty value and a strategy for the arguments of
each mutation) and call :func:`check_laws`. It generates random histories at several replicas
(so the states checked are *reachable*, not arbitrary), and checks:

* state form: merge is idempotent, commutative and associative, never changes its inputs, and
  the encoding round-trips; ``x.merge(x.difference(y)) == x.merge(y)``;
* delta form: ``x.merge(x.m_delta(...)) == x.m(...)`` for every mutation; deltas delivered in
  any order, with duplicates, converge;
* op form: ``x.effect(x.prepare_m(...)) == x.m(...)``; every delivery order that respects
  causality converges;
* what a value knows about itself: along a history in which every state's size and
  fingerprint are asked before it changes (so sizes kept incrementally are exercised), the
  size equals the byte length of a fresh canonical encoding, the cached bytes equal it, and
  the fingerprint equals that of the same value decoded afresh (and differs from a different
  value's).

>>> from hypothesis import strategies as st
>>> from crdt import GCounter
>>> check_laws(CrdtSpec(GCounter, {"increment": st.tuples(st.integers(0, 3))}), max_examples=20)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crdt.base import Crdt, Op
from crdt.codec import canonical_json, decode_op, encode, encode_op, fingerprint, size, to_bytes

__all__ = ["CrdtSpec", "elements", "replica_ids", "states", "check_laws"]

#: Small, collision-prone element values: sets and maps see re-adds and shared keys often.
elements = st.sampled_from(["milk", "eggs", "tea", "jam"]) | st.integers(0, 3)
#: Replica ids used by the histories.
replica_ids = ("a", "b", "c")


@dataclass(frozen=True)
class CrdtSpec:
    """How to drive a CRDT type in generated histories.

    ``operations`` maps a mutation name to a strategy of its arguments after the replica id
    (a tuple). ``op_form`` is False for a type without an op form.
    """

    empty: Callable[[], Crdt[Any]]
    operations: Mapping[str, st.SearchStrategy[tuple[Any, ...]]]
    replicas: tuple[str, ...] = replica_ids
    op_form: bool = True
    name: str = field(default="")

    def label(self) -> str:
        return self.name or getattr(self.empty, "__name__", repr(self.empty))


def _mutation(spec: CrdtSpec) -> st.SearchStrategy[tuple[int, str, tuple[Any, ...]]]:
    return st.one_of(
        *[
            st.tuples(st.integers(0, len(spec.replicas) - 1), st.just(name), args)
            for name, args in sorted(spec.operations.items())
        ]
    )


@st.composite
def states(draw: st.DrawFn, spec: CrdtSpec, steps: int = 12) -> list[Crdt[Any]]:
    """The replicas' states after a random history of mutations and state merges."""
    replicas = [spec.empty() for _ in spec.replicas]
    for _ in range(draw(st.integers(0, steps))):
        if draw(st.booleans()):
            index, name, args = draw(_mutation(spec))
            replicas[index] = replicas[index].mutate(name, spec.replicas[index], *args)
        else:
            dst, src = draw(st.integers(0, len(replicas) - 1)), draw(st.integers(0, len(replicas) - 1))
            replicas[dst] = replicas[dst].merge(replicas[src])
    return replicas


def _same(a: Crdt[Any], b: Crdt[Any], what: str) -> None:
    assert a == b, f"{what}:\n  {a!r}\n  != {b!r}"


def _check_state_laws(spec: CrdtSpec) -> Callable[[], None]:
    @given(states(spec))
    def state_laws(replicas: list[Crdt[Any]]) -> None:
        x, y, z = replicas[0], replicas[1 % len(replicas)], replicas[2 % len(replicas)]
        before = [encode(v) for v in (x, y, z)]
        _same(x.merge(x), x, "merge is not idempotent")
        _same(x.merge(y), y.merge(x), "merge is not commutative")
        _same(x.merge(y).merge(z), x.merge(y.merge(z)), "merge is not associative")
        assert [encode(v) for v in (x, y, z)] == before, "merge changed one of its inputs"
        missing = x.difference(y)
        if missing is None:
            _same(x.merge(y), x, "difference(y) is None but merging y changes x")
        else:
            _same(x.merge(missing), x.merge(y), "x.merge(x.difference(y)) != x.merge(y)")
            assert x.merge(missing) != x, "difference returned a part that changes nothing"
        for v in (x, y, z):
            _same(type(v).from_data(v.to_data()), v, "encoding does not round-trip")
            assert type(v).from_data(v.to_data()).value() == v.value()

    return state_laws


def _check_delta_laws(spec: CrdtSpec) -> Callable[[], None]:
    @given(st.data())
    def delta_laws(data: st.DataObject) -> None:
        replicas = [spec.empty() for _ in spec.replicas]
        deltas: list[Crdt[Any]] = []
        delivered: list[set[int]] = [set() for _ in replicas]
        for _ in range(data.draw(st.integers(0, 12), label="steps")):
            if not deltas or data.draw(st.booleans()):
                index, name, args = data.draw(_mutation(spec))
                x, replica = replicas[index], spec.replicas[index]
                full = x.mutate(name, replica, *args)
                delta = x.mutate_delta(name, replica, *args)
                if delta is None:
                    _same(full, x, f"{name}_delta gave None but {name} changed the state")
                    continue
                assert type(delta) is type(x), "a delta must be a value of the same type"
                _same(x.merge(delta), full, f"x.merge({name}_delta) != {name}(x)")
                _same(type(delta).from_data(delta.to_data()), delta, "delta encoding does not round-trip")
                replicas[index] = full
                delivered[index].add(len(deltas))
                deltas.append(delta)
            else:
                index = data.draw(st.integers(0, len(replicas) - 1))
                which = data.draw(st.integers(0, len(deltas) - 1))  # any delta, even twice
                replicas[index] = replicas[index].merge(deltas[which])
                delivered[index].add(which)
        # Drain: every replica merges every delta in its own order, with duplicates.
        for index in range(len(replicas)):
            order = data.draw(st.permutations(range(len(deltas))))
            dupes = data.draw(st.lists(st.sampled_from(range(len(deltas))), max_size=3)) if deltas else []
            for which in [*order, *dupes]:
                replicas[index] = replicas[index].merge(deltas[which])
        for other in replicas[1:]:
            _same(other, replicas[0], "replicas differ after every delta was delivered")

    return delta_laws


@dataclass(frozen=True)
class _Sent:
    op: Op
    source: int
    deps: frozenset[int]


def _check_op_laws(spec: CrdtSpec) -> Callable[[], None]:
    @given(st.data())
    def op_laws(data: st.DataObject) -> None:
        replicas = [spec.empty() for _ in spec.replicas]
        sent: list[_Sent] = []
        delivered: list[set[int]] = [set() for _ in replicas]

        def deliverable(index: int) -> list[int]:
            return [
                i for i, s in enumerate(sent) if i not in delivered[index] and s.deps <= delivered[index]
            ]

        def deliver(index: int, which: int) -> None:
            replicas[index] = replicas[index].effect(sent[which].op)
            delivered[index].add(which)

        for _ in range(data.draw(st.integers(0, 14), label="steps")):
            index = data.draw(st.integers(0, len(replicas) - 1))
            ready = deliverable(index)
            if not ready or data.draw(st.booleans()):
                index, name, args = data.draw(_mutation(spec))
                x, replica = replicas[index], spec.replicas[index]
                full = x.mutate(name, replica, *args)
                op = x.prepare(name, replica, *args)
                if op is None:
                    _same(full, x, f"prepare_{name} gave None but {name} changed the state")
                    continue
                assert decode_op(encode_op(x.type_name, op)) == op, "op encoding does not round-trip"
                sent.append(_Sent(op, index, frozenset(delivered[index])))
                deliver(index, len(sent) - 1)
                _same(replicas[index], full, f"effect(prepare_{name}(x)) != {name}(x)")
            else:
                deliver(index, data.draw(st.sampled_from(ready)))
        for index in range(len(replicas)):
            while ready := deliverable(index):
                deliver(index, data.draw(st.sampled_from(ready)))
        for other in replicas[1:]:
            _same(other, replicas[0], "replicas differ after causal delivery of every op")

    return op_laws


def _check_known(value: Crdt[Any], what: str) -> None:
    fresh = canonical_json(encode(value)).encode()
    assert size(value) == len(fresh), f"{what}: size {size(value)} != {len(fresh)} bytes encoded afresh"
    assert to_bytes(value) == fresh, f"{what}: cached bytes differ from a fresh encoding"
    copy = type(value).from_data(value.to_data())
    assert fingerprint(value) == fingerprint(copy), f"{what}: equal values with different fingerprints"


def _check_size_laws(spec: CrdtSpec) -> Callable[[], None]:
    @given(st.data())
    def size_laws(data: st.DataObject) -> None:
        replicas = [spec.empty() for _ in spec.replicas]
        for v in replicas:
            _check_known(v, "empty")
        for _ in range(data.draw(st.integers(0, 12), label="steps")):
            if data.draw(st.booleans()):
                index, name, args = data.draw(_mutation(spec))
                x, replica = replicas[index], spec.replicas[index]
                delta = x.mutate_delta(name, replica, *args)
                new = x.mutate(name, replica, *args)
                if delta is not None:
                    _check_known(delta, f"{name}_delta")
                    _check_known(x.merge(delta), f"merge of a {name}_delta")
                _check_known(new, name)
            else:
                dst = data.draw(st.integers(0, len(replicas) - 1))
                src = data.draw(st.integers(0, len(replicas) - 1))
                index, new = dst, replicas[dst].merge(replicas[src])
                _check_known(new, "merge")
            if new != replicas[index]:
                assert fingerprint(new) != fingerprint(replicas[index]), "a change kept the fingerprint"
            replicas[index] = new

    return size_laws


def check_laws(spec: CrdtSpec, max_examples: int | None = None) -> None:
    """Check every CRDT law for ``spec``; raises ``AssertionError`` with a shrunk example.

    ``max_examples`` overrides the active hypothesis profile's example count.
    """
    checks = [_check_state_laws(spec), _check_delta_laws(spec), _check_size_laws(spec)]
    if spec.op_form:
        checks.append(_check_op_laws(spec))
    for check in checks:
        run = settings(max_examples=max_examples)(check) if max_examples else check
        run()
