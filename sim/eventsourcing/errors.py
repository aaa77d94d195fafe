"""Exceptions of :mod:`sim.eventsourcing`; all derive from :class:`EventSourcingError`."""

from __future__ import annotations

from sim.errors import SimError

__all__ = [
    "EventHandlerError",
    "EventSourcingError",
    "JournalError",
    "UnencodablePayloadError",
    "UnknownReplicaError",
]


class EventSourcingError(SimError):
    """Base class of every error raised on purpose by the event-sourcing package."""


class JournalError(EventSourcingError):
    """A journal could not store or read events; nothing of the failed write was stored."""


class UnencodablePayloadError(JournalError):
    """An event payload (or snapshot) is not JSON-encodable; the whole write was refused."""


class UnknownReplicaError(EventSourcingError):
    """A command was addressed to a node that is not a replica of the entity."""


class EventHandlerError(EventSourcingError):
    """The user's event handler raised while applying an event (the cause is chained)."""
