"""The convergence check of a replicated entity, run after the quiet phase.

It passes when every replica's journal holds the same set of events (each with the same
content), every acknowledged event is in every journal, every replica's state equals the state
folded afresh from its journal, and all replicas hold the same state. The message names the
first difference; ``details`` lists every one. With no event persisted anywhere it reports
"not checked".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.checks import CheckResult

if TYPE_CHECKING:
    from sim.eventsourcing.entity import ReplicatedEntity
    from sim.eventsourcing.journal import EventEnvelope

__all__ = ["entity_check"]

_SHOW = 5


def _ids(ids: Any) -> list[str]:
    return [f"{o}#{s}" for o, s in sorted(ids)]


def entity_check(entity: ReplicatedEntity) -> CheckResult:
    """The check ``eventsourcing:<persistence id>`` after the quiet phase: every replica is up,
    holds every event (acknowledged ones included) with the same contents, and its state equals
    a fresh fold of its journal and every other replica's state."""
    name = f"eventsourcing:{entity.persistence_id}"
    down = [n for n in entity.replicas if not entity.replica(n).node.up]
    if down:
        return CheckResult(name, False, f"replicas down at check time: {down}", {"down": down})
    journals: dict[str, dict[tuple[str, int], EventEnvelope]] = {}
    for n in entity.replicas:
        journals[n] = {e.id: e for e in entity.replica(n).journal_or_fail().read(entity.persistence_id)}
    union: dict[tuple[str, int], EventEnvelope] = {}
    conflicting: set[tuple[str, int]] = set()
    for held in journals.values():
        for ident, event in held.items():
            if ident in union and not union[ident].same_event(event):
                conflicting.add(ident)
            union.setdefault(ident, event)
    missing = {n: _ids(union.keys() - ev.keys()) for n, ev in journals.items() if union.keys() - ev.keys()}
    acked = {e.id for e in entity.acknowledged}
    lost = {n: _ids(acked - ev.keys()) for n, ev in journals.items() if acked - ev.keys()}
    stale = [n for n in entity.replicas if entity.replica(n).fold_from_journal() != entity.replica(n).state]
    groups: list[tuple[Any, list[str]]] = []
    for n in entity.replicas:
        state = entity.replica(n).state
        for value, members in groups:
            if value == state:
                members.append(n)
                break
        else:
            groups.append((state, [n]))
    details: dict[str, Any] = {
        "events": len(union), "acknowledged": len(acked), "missing": missing, "lost": lost,
        "conflicting": _ids(conflicting), "stale": stale,
        "states": [{"replicas": members, "state": repr(value)} for value, members in groups],
    }
    problems = []
    for n, ids in lost.items():
        problems.append(f"replica {n} lost {len(ids)} acknowledged event(s): {ids[:_SHOW]}")
    for n, ids in missing.items():
        problems.append(f"replica {n} misses {len(ids)} of {len(union)} event(s): {ids[:_SHOW]}")
    if conflicting:
        problems.append(f"events stored with different contents: {_ids(conflicting)[:_SHOW]}")
    if stale:
        problems.append(f"state differs from a fresh fold of the journal at {stale}")
    if len(groups) > 1:
        problems.append("states differ: " + "; ".join(f"{m} -> {v!r:.80}" for v, m in groups))
    if problems:
        return CheckResult(name, False, "; ".join(problems), details)
    if not union:
        return CheckResult.not_checked(name, f"no event was persisted on any of {len(entity.replicas)} replicas",
                                       details)
    return CheckResult(name, True, f"{len(entity.replicas)} replicas agree on {len(union)} events", details)
