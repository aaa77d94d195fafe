"""Checks run after the quiet phase: convergence per key, and workload invariants.

Convergence: for every key, every live replica holds an equal state (a replica that never saw
the key counts as holding the empty value). The result gives, per key, when it converged (the
time of the last change anywhere, after which all replicas were equal) or, when it did not,
which replicas hold which value.

Invariants, in the spirit of Maelstrom's checkers, over the updates the replicators recorded:

* counters: acknowledged increments minus attempted decrements <= final value <= attempted
  increments minus acknowledged decrements (an update that timed out may still have applied);
* sets: every acknowledged add is present, unless a remove of the element was issued at or
  after the add (a remove that may have observed it);
* LWW registers and maps: the final entry is an acknowledged write or one that supersedes it in
  (timestamp, replica) order — an acknowledged write is never lost to an older one.

An update that crashes destroyed with every copy (op-based replication with volatile state, see
:mod:`sim.replication.op_broadcast`) is a violation of its key, named with its node, time and
mutations; the key's other invariants are then judged on the updates that survived.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crdt import LWWRegister
from crdt.lwwregister import TOMBSTONE
from sim.checks import CheckResult
from sim.replication.difference import difference
from sim.replication.values import Deletion, fingerprint

if TYPE_CHECKING:
    from sim.replication.ddata import DistributedData, UpdateRecord
    from sim.world import World

__all__ = ["convergence_check", "invariant_check", "key_report", "lost_writes"]


def _show(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value, key=repr)
    if isinstance(value, dict):
        return {str(k): _show(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))}
    if isinstance(value, tuple):
        return [_show(v) for v in value]
    return value


def key_report(dd: DistributedData, key: str) -> dict[str, Any]:
    """Whether ``key`` converged across live replicas, when, and who holds what otherwise."""
    empty = dd.keys[key].type()
    groups: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    held: dict[str, Any] = {}
    for node, stored in sorted(dd.states(key).items()):
        state = empty if stored is None else stored
        print_ = fingerprint(state)
        groups.setdefault(print_, []).append(node)
        values[print_] = "deleted" if isinstance(state, Deletion) else _show(state.value())
        held[print_] = state
    if len(groups) <= 1:
        value = next(iter(values.values()), None)
        return {"converged": True, "time": dd.last_change.get(key), "value": value}
    ordered = sorted(groups.items(), key=lambda g: g[1])
    return {
        "converged": False,
        "difference": difference([(nodes, held[p]) for p, nodes in ordered]),
        "replicas": [{"nodes": nodes, "value": values[p]} for p, nodes in ordered],
    }


def convergence_check(dd: DistributedData) -> Callable[[World], CheckResult]:
    def check(world: World) -> CheckResult:
        report = {key: key_report(dd, key) for key in sorted(dd.keys)}
        diverged = [k for k, r in report.items() if not r["converged"]]
        message = f"{len(report) - len(diverged)}/{len(report)} keys converged"
        if diverged:
            message += "; diverged: " + ", ".join(diverged)
        return CheckResult("convergence", not diverged, message, {"keys": report})

    return check


# -- invariants ---------------------------------------------------------------------------------


#: what an invariant reports: a message, and the acknowledged writes it found lost
Violation = tuple[str, list[dict[str, Any]]]


def _lost(u: UpdateRecord, name: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """An acknowledged write, as a failed invariant names it: request id, node, time, operation."""
    return {"request": u.request, "node": u.node, "time": round(u.time, 9), "f": name, "args": _show(args)}


def _counter_violation(final: int, updates: list[UpdateRecord]) -> Violation | None:
    bounds = {"increment": [0, 0], "decrement": [0, 0]}  # [acknowledged, attempted]
    for u in updates:
        for name, args in u.calls:
            if name in bounds:
                amount = args[0] if args else 1
                bounds[name][1] += amount
                if u.acked:
                    bounds[name][0] += amount
    low = bounds["increment"][0] - bounds["decrement"][1]
    high = bounds["increment"][1] - bounds["decrement"][0]
    if low <= final <= high:
        return None
    return f"final value {final} outside [{low}, {high}] allowed by the acknowledged updates", []


def _set_violation(final: Any, updates: list[UpdateRecord]) -> Violation | None:
    removes: dict[Any, float] = {}
    for u in updates:
        for name, args in u.calls:
            if name == "remove":
                removes[args[0]] = max(removes.get(args[0], u.time), u.time)
    lost, writes = [], []
    for u in updates:
        if not u.acked:
            continue
        for name, args in u.calls:
            if name == "add" and args[0] not in final and removes.get(args[0], -1.0) < u.time:
                lost.append(args[0])
                writes.append(_lost(u, name, args))
    if lost:
        return f"acknowledged adds lost: {sorted(set(lost), key=repr)}", writes
    return None


def _lww_violation(state: Any, updates: list[UpdateRecord]) -> Violation | None:
    # An acknowledged write is lost when it ranks above the final entry in the register's own
    # (timestamp, replica, ...) order: then nothing that superseded it can explain its absence.
    lost, writes = [], []
    for u in updates:
        if not u.acked:
            continue
        for name, args in u.calls:
            if state.kind == "lww register":
                value, stamp = args
                written, final = LWWRegister._of(value, stamp, u.replica), state
                what: list[Any] = [value, stamp]
            else:
                key, stamp = args[0], args[-1]
                value = TOMBSTONE if name == "delete" else args[1]
                written, final = LWWRegister._of(value, stamp, u.replica), state.entries.get(key, LWWRegister())
                what = [name, *args]
            if written.wins_over(final):
                lost.append(what)
                writes.append(_lost(u, name, args))
    if lost:
        return f"acknowledged writes lost to older ones: {lost}", writes
    return None


def _counter_invariant(state: Any, updates: list[UpdateRecord]) -> Violation | None:
    return _counter_violation(state.value(), updates)


def _set_invariant(state: Any, updates: list[UpdateRecord]) -> Violation | None:
    return _set_violation(state.value(), updates)


#: the invariant of each kind of type (crdt.registry.KINDS); multi-value registers, flags and
#: maps of CRDTs have none (convergence only)
_INVARIANTS: dict[str, Callable[[Any, list[UpdateRecord]], Violation | None]] = {
    "counter": _counter_invariant,
    "grow-only set": _set_invariant,
    "two-phase set": _set_invariant,
    "observed-remove set": _set_invariant,
    "lww register": _lww_violation,
    "lww map": _lww_violation,
}


def _invariant_for(state: Any) -> Callable[[Any, list[UpdateRecord]], Violation | None] | None:
    """The invariant of ``state``'s kind (a user's subclass inherits its library type's kind)."""
    return _INVARIANTS.get(state.kind)


def lost_writes(lost: list[UpdateRecord]) -> dict[str, list[str]]:
    """Key -> the updates crashes destroyed with every copy, each named by node, time, replica
    id and mutations (``dc-3@1.613s as dc-3: add('x')``)."""
    named: dict[str, list[str]] = {}
    for u in lost:
        calls = ", ".join(f"{n}({', '.join(map(repr, a))})" for n, a in u.calls)
        named.setdefault(u.key, []).append(f"{u.node}@{u.time:.3f}s as {u.replica}: {calls}")
    return named


def invariant_check(dd: DistributedData) -> Callable[[World], CheckResult]:
    def check(world: World) -> CheckResult:
        gone = dd.lost_updates()
        lost_ids = {id(u) for u in gone}
        by_key: dict[str, list[UpdateRecord]] = {}
        for u in dd.updates:
            if id(u) not in lost_ids:
                by_key.setdefault(u.key, []).append(u)
        lost = lost_writes(gone)
        # Every write found lost, structured: destroyed with every copy, or lost to the merge.
        named: dict[str, list[dict[str, Any]]] = {}
        for u in gone:
            named.setdefault(u.key, []).extend({**_lost(u, n, a), "how": "destroyed with every copy in crashes"}
                                               for n, a in u.calls)
        checked, violations = [], {}
        for key in sorted(dd.keys | lost.keys()):
            problems = [f"writes lost with every copy in crashes: {lost[key]}"] if key in lost else []
            states = [s for s in dd.states(key).values() if s is not None] if key in dd.keys else []
            invariant = None if not states or isinstance(states[0], Deletion) else _invariant_for(states[0])
            if invariant is not None:  # flags, multi-value registers, maps of CRDTs: convergence only
                problem = invariant(states[0], by_key.get(key, []))
                checked.append(key)
                if problem:
                    problems.append(problem[0])
                    named.setdefault(key, []).extend(problem[1])
            if problems:
                violations[key] = "; ".join(problems)
        checked = sorted(set(checked) | set(violations))
        message = f"{len(checked) - len(violations)}/{len(checked)} keys hold their invariants"
        if violations:
            message += "; " + "; ".join(f"{k}: {v}" for k, v in violations.items())
        acknowledged = {key: sum(1 for u in dd.updates if u.key == key and u.acked) for key in checked}
        details = {"checked": checked, "violations": violations, "lost": lost,
                   "lost_writes": {k: named[k] for k in sorted(named)}, "acknowledged": acknowledged}
        if not checked:
            return CheckResult.not_checked("invariants", "no key has an invariant (flags, multi-value registers "
                                           "and maps of CRDTs are judged by convergence alone)", details)
        return CheckResult("invariants", not violations, message, details)

    return check
