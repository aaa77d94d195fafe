"""The law checker must catch broken types, or passing it proves nothing."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from crdt import GCounter
from crdt.base import Op
from crdt.testing import CrdtSpec, check_laws

INCREMENTS = {"increment": st.tuples(st.integers(0, 3))}
#: every broken type below is caught within the active profile's examples (60 under CI and dev)
BROKEN_EXAMPLES = min(settings.default.max_examples, 200)


class SummingCounter(GCounter):
    """Broken: merge adds counts instead of taking the maximum (not idempotent)."""

    def merge(self, other: GCounter) -> GCounter:  # type: ignore[override]
        keys = self.counts.keys() | other.counts.keys()
        return self._of({k: self.get(k) + other.get(k) for k in keys})


class LeftBiasedCounter(GCounter):
    """Broken: merge keeps its own side (not commutative)."""

    def merge(self, other: GCounter) -> GCounter:  # type: ignore[override]
        return self


class OffByOneDelta(GCounter):
    """Broken: its delta forgets the count the replica already had."""

    def increment_delta(self, replica: str, amount: int = 1) -> GCounter | None:
        return self._of({replica: amount}) if amount else None


class ForgetfulDifference(GCounter):
    """Broken: claims it already has every delta, so RR would drop new state."""

    def difference(self, delta: GCounter) -> GCounter | None:
        return None


class LostOp(GCounter):
    """Broken: its op effect ignores every increment but the first unit."""

    def effect(self, op: Op) -> GCounter:
        return self.increment(op.replica, 1)  # type: ignore[attr-defined]


class MiscountedSize(GCounter):
    """Broken: the size it keeps forgets the comma before each replica added by a merge."""

    def merge(self, other: GCounter) -> GCounter:  # type: ignore[override]
        merged = super().merge(other)
        if merged is self or merged is other or not hasattr(self, "_stats"):
            return merged
        size, total, value = merged._stats_now()
        added = len(merged.counts) - max(len(self.counts), len(other.counts))
        object.__setattr__(merged, "_stats", (size - added, total, value))
        return merged


class StaleFingerprint(GCounter):
    """Broken: an increment keeps the fingerprint of the counter it came from."""

    def increment(self, replica: str, amount: int = 1) -> GCounter:
        new = super().increment(replica, amount)
        if new is not self and hasattr(self, "_stats"):
            object.__setattr__(new, "_stats", (new._stats_now()[0], self._stats_now()[1], new._stats_now()[2]))
        return new


@pytest.mark.slow
@pytest.mark.parametrize(
    "broken, law",
    [
        (MiscountedSize, "size .* bytes encoded afresh"),
        (StaleFingerprint, "fingerprint"),
        (SummingCounter, "not idempotent"),
        (LeftBiasedCounter, "not commutative"),
        (OffByOneDelta, r"x.merge\(increment_delta\) != increment\(x\)"),
        (ForgetfulDifference, "difference\\(y\\) is None but merging y changes x"),
        (LostOp, r"effect\(prepare_increment\(x\)\) != increment\(x\)"),
    ],
)
def test_check_laws_rejects_broken_types(broken: type[GCounter], law: str) -> None:
    with pytest.raises(AssertionError, match=law):
        check_laws(CrdtSpec(broken, INCREMENTS), max_examples=BROKEN_EXAMPLES)


def test_check_laws_accepts_a_correct_type() -> None:
    check_laws(CrdtSpec(GCounter, INCREMENTS), max_examples=50)
