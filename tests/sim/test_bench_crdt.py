"""``crdtsim bench crdt``: the delta-apply comparison with the ``crdts`` package."""

import types
from unittest import mock

import pytest

from sim.benchmarks import crdt as bench


def test_delta_apply_times_our_stream_and_says_when_crdts_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    with mock.patch.dict("sys.modules", {"crdts": None}):  # import crdts now raises ImportError
        figures = bench.delta_apply(size=200, count=20, repeats=1)
        assert figures["crdts"] is None
        assert figures["ours"] is not None and figures["ours"] > 0
        assert bench.main(["--size", "200", "--repeats", "1"]) == 0
    assert bench.CRDTS_MISSING in capsys.readouterr().out


class _FakeORSet:
    """The slice of ``crdts.ORSet`` the comparison uses: observe at the source, update remotely."""

    applied: list[object] = []

    def __init__(self, clock: object = None) -> None:
        self.clock = clock or types.SimpleNamespace(uuid=b"u")
        self.members: list[object] = []

    def observe(self, member: object) -> tuple[str, object]:
        self.members.append(member)
        return ("o", member)

    def update(self, state_update: object) -> None:
        _FakeORSet.applied.append(state_update)


def test_delta_apply_applies_every_update_remotely_into_a_full_crdts_set() -> None:
    fake = types.SimpleNamespace(ORSet=_FakeORSet, ScalarClock=lambda uuid: types.SimpleNamespace(uuid=uuid))
    _FakeORSet.applied = []
    with mock.patch.dict("sys.modules", {"crdts": fake}):
        figures = bench.delta_apply(size=50, count=20, repeats=2)
    assert figures["crdts"] is not None and figures["crdts"] > 0
    assert _FakeORSet.applied == [("o", f"e{i}") for i in range(20)] * 2  # each repeat, all of them
