"""An oracle for whole replication runs that shares no code with the simulator's checks.

It issues every update itself, through the public API (``Replicator.update``), and records what
it asked for and what the replica showed just before (``Replicator.value``). From that record
alone it computes the exact value every live replica must hold once the run is quiet:

* counters: the sum of the amounts of the updates that survived;
* sets (and ORMaps of sets): every element is added once (a fresh token), so an element is
  present exactly when its add survived and no surviving remove covering it *showed* it to the
  remover — a remove deletes only what it observed;
* multi-value registers: every written value is fresh, so the survivors are the writes that no
  later write observed, directly or through the writes it observed;
* LWW registers and maps: every write has a fresh timestamp; the winner is the highest one;
* flags: exact when only one kind of operation was issued, otherwise either value.

"Survived" means not reported lost: a run with volatile state may lose updates to crashes; the
oracle accepts a loss only when the simulator names it and the update's node crashed after it.
A string that is not valid Unicode must be refused with a CrdtError when the update is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crdt.errors import CrdtError

SETS = ("GSet", "TwoPSet", "ORSet")
COUNTERS = ("GCounter", "PNCounter", "CausalCounter")
FLAGS = ("EWFlag", "DWFlag")


def valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass
class Issued:
    """One update the oracle made: what, where, when, and what the replica showed before."""

    key: str
    node: str
    time: float
    kind: str  # "add", "remove", "count", "write", "enable", "disable"
    #: add: (path, token); remove: (path, element), element None for all observed under the
    #: path; count: amount;
    #: write: (map key or None, value or None for a delete, timestamp) ...
    arg: Any
    observed: Any
    #: the simulator's record of it (to ask whether it was reported lost)
    record: Any = None


@dataclass
class Oracle:
    types: dict[str, str]
    issued: list[Issued] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    #: node -> times it crashed
    crashes: dict[str, list[float]] = field(default_factory=dict)
    _fresh: int = 0

    def fresh(self) -> int:
        self._fresh += 1
        return self._fresh

    # -- issuing ----------------------------------------------------------------------------

    def attempt(self, issue: Callable[[], Any], text: str | None) -> bool:
        """Run ``issue``; a string that is not valid Unicode must make it raise a CrdtError."""
        if text is not None and not valid_text(text):
            try:
                issue()
            except CrdtError:
                self.rejected.append(text)
                return False
            raise AssertionError(f"an update with the unencodable string {text!r} was accepted")
        issue()
        return True

    # -- expected values --------------------------------------------------------------------

    def survivors(self, lost: set[int], durable: bool) -> list[Issued]:
        """The issued updates minus the reported losses, after checking each loss is allowed."""
        kept = []
        for u in self.issued:
            if id(u.record) in lost:
                assert not durable, f"a durable run reported a lost write: {u}"
                later = [t for t in self.crashes.get(u.node, []) if t >= u.time]
                assert later, f"a write reported lost whose node never crashed after it: {u}"
            else:
                kept.append(u)
        return kept

    def expected(self, key: str, kept: list[Issued]) -> Any:
        type_name = self.types[key]
        updates = [u for u in kept if u.key == key]
        if type_name in COUNTERS:
            return sum(u.arg for u in updates)
        if type_name in SETS or type_name == "ORMap":
            return _tokens_value(type_name, updates)
        if type_name == "MVRegister":
            return _mv_value(updates)
        if type_name == "LWWRegister":
            writes = sorted(updates, key=lambda u: u.arg[2])
            return writes[-1].arg[1] if writes else None
        if type_name == "LWWMap":
            winners: dict[Any, Issued] = {}
            for u in sorted(updates, key=lambda u: u.arg[2]):
                winners[u.arg[0]] = u
            return {k: u.arg[1] for k, u in winners.items() if u.arg[1] is not None}
        if type_name in FLAGS:
            kinds = {u.kind for u in updates}
            if not kinds:
                return type_name == "DWFlag"  # the empty flag
            if kinds == {"enable"}:
                return True
            if kinds <= {"disable"}:
                return False
            return (True, False)  # both were issued: either outcome is possible
        raise AssertionError(f"no oracle for {type_name}")

    def matches(self, key: str, expected: Any, actual: Any) -> bool:
        type_name = self.types[key]
        if type_name in FLAGS:
            if actual is None:  # never held: the empty flag, off unless disables must win
                actual = type_name == "DWFlag"
            return actual in expected if isinstance(expected, tuple) else actual == expected
        if type_name == "ORMap":
            return _flatten(actual) == expected
        if type_name in SETS or type_name == "MVRegister":
            return frozenset(actual or ()) == expected
        if type_name == "LWWMap":
            return dict(actual or {}) == expected
        if type_name in COUNTERS:
            return (actual or 0) == expected
        return actual == expected


def _tokens_value(type_name: str, updates: list[Issued]) -> frozenset[Any]:
    """Surviving (path, token) pairs: added, and shown to no remove whose path covers them."""
    removed: set[tuple[Any, Any]] = set()
    for u in updates:
        if u.kind == "remove":
            scope, element = u.arg  # one element, or (None) everything under the scope
            removed.update(pair for pair in u.observed
                           if pair[0][: len(scope)] == scope and element in (None, pair[1]))
    added = {u.arg for u in updates if u.kind == "add"}
    present = added - removed
    if type_name == "ORMap":
        return frozenset(present)
    return frozenset(token for _, token in present)


def _flatten(value: Any, path: tuple[Any, ...] = ()) -> frozenset[tuple[tuple[Any, ...], Any]]:
    """The (path, element) pairs of a value of nested maps of sets."""
    if isinstance(value, dict):
        return frozenset(pair for k, v in value.items() for pair in _flatten(v, (*path, k)))
    return frozenset((path, element) for element in value or ())


def observed_pairs(type_name: str, value: Any) -> frozenset[tuple[tuple[Any, ...], Any]]:
    """What a replica shows of a set or map of sets, as (path, element) pairs."""
    if type_name == "ORMap":
        return _flatten(value)
    return frozenset(((), element) for element in value or ())


def _mv_value(updates: list[Issued]) -> frozenset[Any]:
    observed_by = {u.arg: frozenset(u.observed or ()) for u in updates}
    ancestors: dict[Any, frozenset[Any]] = {}

    def closure(value: Any) -> frozenset[Any]:
        if value not in ancestors:
            seen = observed_by.get(value, frozenset())
            ancestors[value] = seen.union(*(closure(v) for v in seen if v != value))
        return ancestors[value]

    for u in sorted(updates, key=lambda u: u.time):
        closure(u.arg)
    dominated = frozenset().union(*(closure(u.arg) for u in updates))
    return frozenset(u.arg for u in updates) - dominated
