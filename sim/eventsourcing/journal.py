"""Event journals: the envelope of a persisted event, the journal interface, an in-memory one.

A journal holds the events of any number of entities (persistence ids) on one node. Every
event is stored once per ``(persistence_id, origin, origin_seq)``: appending an event already
there is skipped, so replication may deliver at least once. One :meth:`Journal.append` is one
atomic write: every payload is validated and encoded first, and if any fails nothing is stored.

Payloads are stored as canonical JSON (:func:`crdt.codec.canonical_encoder`, ASCII form) and
handed back decoded, so the event a replica applies
locally is exactly what every other replica will read from its own journal (a tuple comes back
as a list on every replica, not only on the remote ones).

>>> j = InMemoryJournal()
>>> e = EventEnvelope("cart-1", "a", 1, VersionVector({"a": 1}), 0.5, {"add": "milk"})
>>> [s.local_seq for s in j.append([e])], j.append([e])   # the second write is a duplicate
([1], [])
>>> j.read("cart-1")[0].payload
{'add': 'milk'}
>>> try:
...     j.append([EventEnvelope("cart-1", "a", 2, VersionVector({"a": 2}), 0.6, {"tags": {1, 2}})])
... except UnencodablePayloadError as err:
...     print(err)  # doctest: +ELLIPSIS
event cart-1 a#2: payload is not JSON-encodable: a set at $.tags (use dict with str keys, list, str, ...
>>> len(j.read("cart-1"))
1
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from crdt.clocks import VersionVector
from crdt.codec import canonical_json
from sim.eventsourcing.errors import UnencodablePayloadError

if TYPE_CHECKING:
    from sim.node import Node

__all__ = [
    "EventEnvelope",
    "InMemoryJournal",
    "Journal",
    "JournalProvider",
    "Snapshot",
    "decode_payload",
    "encode_payload",
    "in_memory_journals",
]


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """One persisted event of entity ``persistence_id``.

    ``origin`` is the replica that emitted it and ``origin_seq`` numbers that replica's events
    (1, 2, ...); ``version`` is the origin's version vector including this event; ``timestamp``
    the origin's clock reading, raised when needed above every timestamp the origin had seen so
    that it grows along causality. ``local_seq`` is the position in the journal that holds this
    copy (0 before it is written); it differs between replicas and is not part of the event's
    identity.
    """

    persistence_id: str
    origin: str
    origin_seq: int
    version: VersionVector
    timestamp: float
    payload: Any
    local_seq: int = 0

    @property
    def id(self) -> tuple[str, int]:
        """The event's identity within its entity: ``(origin, origin_seq)``."""
        return (self.origin, self.origin_seq)

    @property
    def order_key(self) -> tuple[float, str, int]:
        """The total order every replica folds events in (consistent with causality)."""
        return (self.timestamp, self.origin, self.origin_seq)

    def same_event(self, other: EventEnvelope) -> bool:
        """True when ``other`` is a copy of this event (``local_seq`` aside)."""
        return replace(self, local_seq=0) == replace(other, local_seq=0)

    def size(self) -> int:
        """Bytes on the wire: the encoded payload plus a fixed header per version entry."""
        return len(encode_payload(self.payload)) + len(self.origin) + 24 + 12 * len(self.version.entries)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The folded state of an entity after a set of events.

    ``state`` is JSON data (the entity encodes and decodes it); ``seen`` is the highest
    ``origin_seq`` per origin it covers (the covered events are exactly those, since a journal
    holds each origin's events without gaps); ``last_key`` the order key of its last event.
    """

    persistence_id: str
    state: Any
    version: VersionVector
    seen: dict[str, int]
    last_key: tuple[float, str, int]


def _check_json(value: Any, path: str) -> str | None:
    """Where and why ``value`` is not plain JSON data, or None."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"a non-finite float {value!r} at {path}"
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            why = _check_json(item, f"{path}[{i}]")
            if why:
                return why
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"a non-string key {key!r} at {path}"
            why = _check_json(item, f"{path}.{key}")
            if why:
                return why
        return None
    return f"a {type(value).__name__} at {path}"


def encode_payload(payload: Any, where: str = "payload") -> str:
    """The canonical JSON of ``payload`` in its ASCII form (:func:`crdt.codec.canonical_encoder`:
    any ``str`` can be stored, and the length is the byte count);
    :class:`UnencodablePayloadError` if it is not JSON data."""
    why = _check_json(payload, "$")
    if why:
        raise UnencodablePayloadError(
            f"{where}: payload is not JSON-encodable: {why} "
            "(use dict with str keys, list, str, int, float, bool or None)"
        )
    return canonical_json(payload, ascii=True)


def decode_payload(text: str) -> Any:
    """The JSON data of an encoded payload (any JSON spelling reads back)."""
    return json.loads(text)


def _where(event: EventEnvelope) -> str:
    return f"event {event.persistence_id} {event.origin}#{event.origin_seq}"


class Journal(ABC):
    """Where one node keeps the events (and snapshots) of its entities."""

    @abstractmethod
    def append(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        """Store ``events`` atomically; return the newly stored copies (duplicates skipped)."""

    @abstractmethod
    def read(self, persistence_id: str) -> list[EventEnvelope]:
        """Every event of ``persistence_id``, in local journal order."""

    @abstractmethod
    def persistence_ids(self) -> list[str]:
        """Sorted ids of the entities with events here."""

    @abstractmethod
    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` as the latest one of its entity."""

    @abstractmethod
    def load_snapshot(self, persistence_id: str) -> Snapshot | None:
        """The latest snapshot of ``persistence_id``, if any."""

    def close(self) -> None:  # noqa: B027 (optional: only journals holding resources override it)
        """Release the journal (the node crashed or stopped); reopen to use it again."""

    @staticmethod
    def encode_all(events: Sequence[EventEnvelope]) -> list[str]:
        """Encode every payload before anything is written (so a bad one writes nothing)."""
        return [encode_payload(e.payload, _where(e)) for e in events]


class InMemoryJournal(Journal):
    """A journal in memory; keep it in ``node.durable`` so it survives crashes."""

    def __init__(self) -> None:
        self._events: dict[str, list[EventEnvelope]] = {}
        self._ids: dict[str, set[tuple[str, int]]] = {}
        self._snapshots: dict[str, tuple[str, Snapshot]] = {}

    def append(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        encoded = self.encode_all(events)
        stored: list[EventEnvelope] = []
        batch: set[tuple[str, str, int]] = set()
        for event, text in zip(events, encoded, strict=True):
            pid = event.persistence_id
            ident = (pid, *event.id)
            if event.id in self._ids.get(pid, ()) or ident in batch:
                continue
            batch.add(ident)
            log = self._events.get(pid, [])
            local = len(log) + 1 + sum(1 for s in stored if s.persistence_id == pid)
            stored.append(replace(event, payload=decode_payload(text), local_seq=local))
        for event in stored:  # nothing can fail past this point
            self._events.setdefault(event.persistence_id, []).append(event)
            self._ids.setdefault(event.persistence_id, set()).add(event.id)
        return stored

    def read(self, persistence_id: str) -> list[EventEnvelope]:
        return list(self._events.get(persistence_id, ()))

    def persistence_ids(self) -> list[str]:
        return sorted(self._events)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        text = encode_payload(snapshot.state, f"snapshot of {snapshot.persistence_id}")
        self._snapshots[snapshot.persistence_id] = (text, snapshot)

    def load_snapshot(self, persistence_id: str) -> Snapshot | None:
        kept = self._snapshots.get(persistence_id)
        if kept is None:
            return None
        text, snapshot = kept
        return replace(snapshot, state=decode_payload(text), seen=dict(snapshot.seen))


#: Opens (or finds) the journal of a node; called at every start of the node.
JournalProvider = Callable[["Node"], Journal]

_DURABLE_KEY = "eventsourcing.journal"


def in_memory_journals() -> JournalProvider:
    """A provider of one :class:`InMemoryJournal` per node, kept in ``node.durable``."""

    def provide(node: Node) -> Journal:
        journal = node.durable.get(_DURABLE_KEY)
        if journal is None:
            journal = node.durable[_DURABLE_KEY] = InMemoryJournal()
        assert isinstance(journal, Journal)
        return journal

    return provide
