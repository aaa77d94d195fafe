"""The command pipeline of one replica: run a command, stamp its events, persist them, answer.

A command runs at one replica; its events are written to that replica's journal in one atomic
write, and only then is the command acknowledged (:class:`CommandResult`). Before writing, the
events are validated: the journal must be able to encode them and the event handler must apply
them, so a bad command leaves nothing behind. With a write latency, a write is *in flight* for
that long; commands arriving meanwhile wait in the *stash*, in order, and a crash fails them
all (nothing of theirs was persisted).

Timestamps come from the origin's (possibly skewed) clock, raised just above the largest
timestamp the origin had seen (:data:`TIMESTAMP_STEP`), so the fold order extends causality.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from crdt.clocks import VersionVector
from sim.eventsourcing.behavior import fresh
from sim.eventsourcing.errors import EventHandlerError, JournalError
from sim.eventsourcing.fold import EventLog
from sim.eventsourcing.journal import EventEnvelope, Journal
from sim.eventsourcing.pruning import SYSTEM_KEY, retire_payload

if TYPE_CHECKING:
    from sim.node import Node

__all__ = [
    "RETIRE", "TIMESTAMP_STEP", "CommandPipeline", "CommandResult", "PipelineHost", "ResultCallback",
    "stamp_events", "stamp_system_event",
]

#: how much an origin raises a timestamp above the largest one it has seen
TIMESTAMP_STEP = 1e-6


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one command at one replica.

    ``ok``: its events (possibly none) are persisted in the replica's journal; ``events`` are
    the stored envelopes. Otherwise ``reason`` says why, and ``error`` holds the exception
    raised by a handler or the journal, if any; nothing of the command was persisted.
    """

    replica: str
    command: Any
    ok: bool
    events: tuple[EventEnvelope, ...] = ()
    reason: str = ""
    error: BaseException | None = field(default=None, compare=False)


ResultCallback = Callable[[CommandResult], None]


class _Retire:
    """The command of :meth:`EntityReplica.retire` (writes the replica's retire marker)."""

    def __repr__(self) -> str:
        return "RETIRE"


#: the ``command`` of the result of a retirement
RETIRE = _Retire()


def stamp_events(log: EventLog, now: Callable[[], float], payloads: Sequence[Any]) -> list[EventEnvelope]:
    """The envelopes of the replica of ``log`` for ``payloads``: the next origin seqs, versions
    that include every earlier one, timestamps from ``now()`` raised above every one held."""
    envelopes = []
    origin = log.replica
    version, stamp, seq = log.version, log.max_timestamp, log.seen.get(origin, 0)
    for payload in payloads:
        seq += 1
        stamp = max(now(), stamp + TIMESTAMP_STEP)
        version = version.merge(VersionVector({origin: seq}))
        envelopes.append(EventEnvelope(log.pid, origin, seq, version, stamp, payload))
    return envelopes


def stamp_system_event(log: EventLog, now: float, seq: int, payload: Any) -> EventEnvelope:
    """A retire or stability marker numbered ``seq``; it does not raise ``max_timestamp``, so
    user timestamps stay what they would be without it."""
    stamp = max(now, log.max_timestamp + TIMESTAMP_STEP)
    return EventEnvelope(log.pid, log.replica, seq, log.version.merge(VersionVector({log.replica: seq})), stamp,
                         payload)


class PipelineHost(Protocol):
    """What the pipeline needs of its replica (:class:`~sim.eventsourcing.entity.EntityReplica`)."""

    node: Node
    log: EventLog

    def journal_or_fail(self) -> Journal: ...

    def finish(self, result: CommandResult, callback: ResultCallback | None) -> CommandResult:
        """Record ``result`` and pass it to ``callback``."""

    def stored(self, events: list[EventEnvelope]) -> None:
        """Fold events just persisted here."""

    def publish(self, events: list[EventEnvelope]) -> None:
        """Send events just persisted here to the peers."""

    def settle(self) -> None:
        """The write is over: write any marker now due."""


class CommandPipeline:
    """Runs the commands of one replica, one write at a time (see the module doc)."""

    def __init__(self, host: PipelineHost, write_latency: float) -> None:
        self.host = host
        self.write_latency = write_latency
        self.reset()

    def reset(self) -> None:
        self.writing = False
        self._stash: list[tuple[Any, ResultCallback | None]] = []
        self._in_flight: list[tuple[Any, ResultCallback | None]] = []

    @property
    def busy(self) -> bool:
        """True while a write is in flight or commands wait behind one."""
        return self.writing or bool(self._stash)

    def take_waiting(self) -> list[tuple[Any, ResultCallback | None]]:
        """The commands in flight and stashed (to fail them at a crash); the pipeline is reset."""
        waiting = self._in_flight + self._stash
        self.reset()
        return waiting

    def command(self, command: Any, on_result: ResultCallback | None = None) -> CommandResult | None:
        """Run ``command``; the result (also passed to ``on_result``), or None while it waits
        behind a write in flight (``on_result`` gets it later)."""
        host = self.host
        if not host.node.up:
            return host.finish(CommandResult(host.log.replica, command, False,
                                             reason=f"node {host.log.replica} is down"), on_result)
        if self.writing:
            self._stash.append((command, on_result))
            return None
        return self._process(command, on_result)

    def _fail(self, command: Any, reason: str, on_result: ResultCallback | None,
              error: BaseException | None = None) -> CommandResult:
        return self.host.finish(CommandResult(self.host.log.replica, command, False, reason=reason, error=error),
                                on_result)

    def _process(self, command: Any, on_result: ResultCallback | None) -> CommandResult | None:
        log = self.host.log
        me = log.replica
        if log.is_retired(me):
            return self._fail(command, f"replica {me} of {log.pid} is retired", on_result)
        if command is RETIRE:
            payload = retire_payload(me, log.fold_version.get(me))
            envelope = stamp_system_event(log, self.host.node.local_time(), log.seen.get(me, 0) + 1, payload)
            return self._write(command, [envelope], on_result)
        behavior = log.behavior
        try:
            args = (fresh(log.state), command, me) if behavior.with_replica else (fresh(log.state), command)
            payloads = list(behavior.command_handler(*args) or ())
        except Exception as err:
            return self._fail(command, f"command rejected: {type(err).__name__}: {err}", on_result, err)
        if not payloads:
            return self.host.finish(CommandResult(me, command, True), on_result)
        if any(isinstance(p, dict) and SYSTEM_KEY in p for p in payloads):
            return self._fail(command, f"event payloads may not use the reserved key {SYSTEM_KEY!r}", on_result)
        return self._write(command, stamp_events(log, self.host.node.local_time, payloads), on_result)

    def _write(self, command: Any, envelopes: list[EventEnvelope],
               on_result: ResultCallback | None) -> CommandResult | None:
        # Validate before persisting: a payload the journal cannot encode, or an event the
        # handler cannot apply, must leave nothing in the journal.
        try:
            self.host.journal_or_fail().encode_all(envelopes)
            self.host.log.trial(envelopes)
        except (JournalError, EventHandlerError) as err:
            return self._fail(command, str(err), on_result, err)
        if self.write_latency > 0:
            self.writing = True
            self._in_flight = [(command, on_result)]

            def persist_later() -> None:
                self._persist(command, envelopes, on_result)

            self.host.node.after(self.write_latency, persist_later)
            return None
        return self._persist(command, envelopes, on_result)

    def _persist(self, command: Any, envelopes: list[EventEnvelope],
                 on_result: ResultCallback | None) -> CommandResult | None:
        host = self.host
        self.writing = False
        self._in_flight = []
        try:
            stored = host.journal_or_fail().append(envelopes)
        except JournalError as err:
            result = self._fail(command, str(err), on_result, err)
        else:
            host.stored(stored)
            result = host.finish(CommandResult(host.log.replica, command, True, tuple(stored)), on_result)
            host.publish(stored)
        while self._stash and not self.writing:
            queued, callback = self._stash.pop(0)
            self._process(queued, callback)
        host.settle()
        return result
