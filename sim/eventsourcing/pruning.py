"""Retiring a replica and pruning its version-vector entry once that is causally stable.

Two kinds of *system events* travel in the journals next to the user's events; their payload is
a dict with the reserved key ``"$es"`` (a user payload may not use it) and the user's event
handler never sees them, nor do they enter the version vector of the fold:

* ``{"$es": "retire", "replica": R, "upto": u}`` -- the **retire marker**, the last event of
  origin ``R``: ``R`` accepts no command after it. ``u`` is ``R``'s last *user* event (its
  entry in every vector that has seen all of ``R``). Since a journal holds each origin's events
  without gaps, a replica holding the marker holds every event of ``R``.
* ``{"$es": "stable", "replica": R, "upto": u}`` -- the **stability marker** of a remaining
  replica ``X``: ``X`` holds ``R``'s marker and knows every remaining replica does (their acked
  ``seen`` covers it). Its ``origin_seq`` ``t_X`` is the *pruning epoch* of ``X``.

A replica *prunes* ``R`` (its ``version``, and the version of every event it emits from then
on, lack ``R``) once it holds the stability markers of every remaining replica: all of them have
seen everything of ``R`` and know that all the others have (causal stability). Comparisons
then read a missing entry by the rule of :meth:`PruneBook.effective`: an event of origin ``X``
with ``origin_seq > t_X`` that has no entry for ``R`` saw all of ``R`` (``u``), because ``X``
wrote its marker only after holding all of ``R``; an event up to ``t_X`` was written before
``X`` pruned, so its vector is complete as stored (a missing entry there means 0, an event
that never saw ``R``, even if it arrives long after the pruning). The comparison is therefore
the same as with unpruned vectors, and so is every ``concurrent`` flag and every state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crdt.clocks import VersionVector

if TYPE_CHECKING:
    from sim.eventsourcing.journal import EventEnvelope

__all__ = ["SYSTEM_KEY", "PruneBook", "is_system", "retire_payload", "stable_payload", "system_kind"]

#: the reserved payload key of system events
SYSTEM_KEY = "$es"


def system_kind(payload: Any) -> str | None:
    """``"retire"`` or ``"stable"`` for a system event's payload, else None."""
    if isinstance(payload, dict):
        kind = payload.get(SYSTEM_KEY)
        if kind in ("retire", "stable"):
            return str(kind)
    return None


def is_system(event: EventEnvelope) -> bool:
    return system_kind(event.payload) is not None


def retire_payload(replica: str, upto: int) -> dict[str, Any]:
    return {SYSTEM_KEY: "retire", "replica": replica, "upto": upto}


def stable_payload(replica: str, upto: int) -> dict[str, Any]:
    return {SYSTEM_KEY: "stable", "replica": replica, "upto": upto}


@dataclass
class PruneBook:
    """What a set of events says about retired replicas; rebuilt from the journal at recovery."""

    #: retired replica -> (origin_seq of its retire marker, its last user event)
    retired: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: retired replica -> {replica that wrote a stability marker for it: that marker's origin_seq}
    stable: dict[str, dict[str, int]] = field(default_factory=dict)
    #: retired replica -> its last user event, as told by any marker
    upto: dict[str, int] = field(default_factory=dict)

    def note(self, event: EventEnvelope) -> bool:
        """Record ``event`` if it is a system event; True when it is one."""
        kind = system_kind(event.payload)
        if kind is None:
            return False
        replica, upto = str(event.payload["replica"]), int(event.payload["upto"])
        self.upto[replica] = upto
        if kind == "retire":
            self.retired[replica] = (event.origin_seq, upto)
        else:
            self.stable.setdefault(replica, {})[event.origin] = event.origin_seq
        return True

    def effective(self, event: EventEnvelope) -> VersionVector:
        """``event.version`` with the entries its origin pruned put back (see the module doc)."""
        version = event.version
        for replica, epochs in self.stable.items():
            epoch = epochs.get(event.origin)
            if epoch is not None and event.origin_seq > epoch and replica not in version.entries:
                version = version.merge(VersionVector({replica: self.upto[replica]}))
        return version

    def remaining(self, replicas: list[str]) -> list[str]:
        """The replicas not known to be retired."""
        return [r for r in replicas if r not in self.retired]

    def stability_due(self, me: str, replicas: list[str], seen: dict[str, int],
                      acked: dict[str, dict[str, int] | None]) -> list[str]:
        """The retired replicas ``me`` should write a stability marker for, in name order: it
        holds their retire marker (``seen``), has written none for them yet, and every other
        remaining replica acknowledged holding the marker (``acked``: per peer, its ``seen``)."""
        others = [p for p in self.remaining(replicas) if p != me]
        due = []
        for replica, (marker, _) in sorted(self.retired.items()):
            if me in self.stable.get(replica, {}) or seen.get(replica, 0) < marker:
                continue
            if all((acked.get(p) or {}).get(replica, 0) >= marker for p in others):
                due.append(replica)
        return due

    def pruned(self, replicas: list[str]) -> set[str]:
        """The retired replicas whose entry is pruned here: every remaining replica's
        stability marker for them is held."""
        remaining = self.remaining(replicas)
        if not remaining:
            return set()
        return {r for r in self.retired if all(x in self.stable.get(r, {}) for x in remaining)}
