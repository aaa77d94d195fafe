"""Structured trace events, their digest and their export.

A :class:`Trace` has three modes:

* ``"off"``: nothing is recorded or hashed (the hot path tests one boolean);
* ``"digest"`` (default): every event is canonically encoded and fed to a running SHA-256, but
  not kept, so determinism can be checked on long runs at bounded memory;
* ``"full"``: events are also kept in memory for export (JSON Lines, Chrome trace JSON).

The canonical encoding is that of :func:`crdt.codec.canonical_encoder` in its ASCII form (sorted
keys, no whitespace), with times rounded to nanoseconds; it contains ids and names, never
``repr`` of objects, so it is stable across processes and ``PYTHONHASHSEED``.

The digest is the SHA-256 of one record per event, in order: the canonical JSON line (and a
newline) for most events, but for the two the network records per message, ``send`` and
``deliver``, a compact binary record (:func:`send_record`, :func:`deliver_record`: names, raw
float times and integers packed), because encoding JSON and rounding times
cost more than the rest of a message's path. The binary records start with a byte no JSON line
starts with, so the stream stays unambiguous, and the exported events are unchanged. Records
are hashed in batches, which gives the same SHA-256; in ``"digest"`` mode the network appends
delivery records to the pending list itself (:meth:`Trace.sink`), a call per message fewer.

>>> clock = iter([0.0, 0.5]).__next__
>>> t = Trace(clock, "full")
>>> t.record("fault", action="crash", node="a")
>>> t.record("restart", node="a")
>>> [e.kind for e in t.events], len(t.digest() or "")
(['fault', 'restart'], 64)
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from crdt.codec import canonical_encoder
from sim.errors import ConfigError, SimError

__all__ = [
    "DELIVER", "SINK_BATCH", "TRACE_MODES", "Trace", "TraceEvent", "TraceMode", "canonical_json",
    "RECORD_NAMES", "deliver_record", "pack_deliver", "pack_send", "send_head", "record_name",
    "send_record",
]

TraceMode = Literal["off", "digest", "full"]
#: ``send(now, msg_kind, id, size)`` of one link (see :meth:`Trace.link_events`)
LinkSend = Callable[[float, str, int, int], None]
#: ``deliver(now, msg_kind, id, copy, sent_at)`` of one link
LinkDeliver = Callable[[float, str, int, int, float], None]
TRACE_MODES: tuple[str, ...] = ("off", "digest", "full")


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=canonical_json)
    if isinstance(value, tuple):
        return list(value)
    raise SimError(f"trace field value {type(value).__name__} is not JSON-encodable")


_encode = canonical_encoder(ascii=True, default=_default)


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a trace value: :func:`crdt.codec.canonical_json` in its ASCII
    form (any node id or field can be written), sets as sorted lists."""
    return _encode(value)


#: records hashed per update; any size gives the same digest
_BATCH = 512
_TEXTS: dict[str, str] = {}
_NAMES: dict[str, bytes] = {}
_SEND = b"\x01"
_pack_send = struct.Struct("<dqq").pack
_pack_deliver = struct.Struct("<Bdqq").pack
#: ``pack_deliver(DELIVER, now, id, copy)``: the bytes of :func:`deliver_record`, for a
#: :meth:`Trace.sink` (the tag as an argument: a partial would cost a call per message)
pack_deliver: Callable[[int, float, int, int], bytes] = _pack_deliver
#: the first byte of a deliver record
DELIVER = 2
#: a :meth:`Trace.sink`'s list is hashed once it holds this many records
SINK_BATCH = _BATCH


def _text(value: str) -> str:
    """The canonical JSON text of a string field (node ids and kinds repeat: cached)."""
    text = _TEXTS.get(value)
    if text is None:
        text = canonical_json(value)
        if len(_TEXTS) < 1_000_000:
            _TEXTS[value] = text
    return text


def _name(value: str) -> bytes:
    """A string as a record field: its UTF-8 length (4 bytes, little-endian), then the bytes."""
    raw = _NAMES.get(value)
    if raw is None:
        data = value.encode("utf-8", "surrogatepass")
        raw = len(data).to_bytes(4, "little") + data
        if len(_NAMES) < 1_000_000:
            _NAMES[value] = raw
    return raw


def send_record(now: float, src: str, dst: str, msg_kind: str, id: int, size: int) -> bytes:
    """What the digest hashes for a send: ``0x01``, the three names, then ``now`` (float64),
    ``id`` and ``size`` (int64), little-endian."""
    return _SEND + _name(src) + _name(dst) + _name(msg_kind) + _pack_send(now, id, size)


def deliver_record(now: float, id: int, copy: int) -> bytes:
    """What the digest hashes for a delivery: ``0x02``, ``now`` (float64), ``id`` and ``copy``
    (int64), little-endian. Message ids are unique in a world, so the send record of ``id``
    already fixes the rest (link, kind, size, send time)."""
    return _pack_deliver(DELIVER, now, id, copy)


#: ``RECORD_NAMES.get(s) or record_name(s)``: a string as a record field (see :func:`_name`)
RECORD_NAMES = _NAMES
record_name = _name
pack_send = _pack_send


def send_head(src: str) -> bytes:
    """The first bytes of ``src``'s send records; a record goes on with ``record_name(dst)``,
    ``record_name(msg_kind)`` and ``pack_send(now, id, size)``. (Three cached names joined per
    message cost less than a call to look up a head per destination: a node of a large world
    sends to many peers, a few messages each.)"""
    return _SEND + _name(src)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One trace record: sequence number, simulated time, kind and fields."""

    seq: int
    t: float
    kind: str
    fields: Mapping[str, Any]

    def to_data(self) -> dict[str, Any]:
        """The record as plain data, one line of ``trace.jsonl``."""
        return {"seq": self.seq, "t": self.t, "kind": self.kind, **self.fields}


class Trace:
    """Records events at the simulated time given by ``clock``."""

    def __init__(self, clock: Callable[[], float], mode: str = "digest") -> None:
        if mode not in TRACE_MODES:
            raise ConfigError("trace", f"must be one of {list(TRACE_MODES)}", mode)
        self._clock = clock
        self.mode = mode
        #: tested on the hot path before building any event
        self.enabled = mode != "off"
        self._keep = mode == "full"
        self._hash = hashlib.sha256()
        # records not yet fed to the hash: one update per batch instead of one per event
        self._records: list[bytes] = []
        # Every event adds exactly one record, so an event's sequence number is the count of
        # records hashed plus those pending: the per-message recorders keep no counter.
        self._hashed = 0
        self.events: list[TraceEvent] = []

    def _next_seq(self) -> int:
        """The sequence number of the next event."""
        return self._hashed + len(self._records)

    def record(self, kind: str, **fields: Any) -> None:
        """Record an event of ``kind`` now; fields must be JSON-encodable."""
        if not self.enabled:
            return
        t = round(self._clock(), 9)
        seq = self._next_seq()
        if "t" in fields or "kind" in fields or "seq" in fields:
            raise SimError("trace fields may not be named 't', 'kind' or 'seq'")
        self._add(canonical_json({"seq": seq, "t": t, "kind": kind, **fields}))
        if self._keep:
            self.events.append(TraceEvent(seq, t, kind, fields))

    def _add(self, line: str) -> None:
        records = self._records
        records.append(line.encode("ascii") + b"\n")
        if len(records) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        # The list is cleared, never rebound: the closures of link_events append to it.
        records = self._records
        if records:
            self._hash.update(b"".join(records))
            self._hashed += len(records)
            records.clear()

    def drop(self, src: str, dst: str, msg_kind: str, id: int, copy: int, cause: str) -> None:
        """``record("drop", src=…, dst=…, msg_kind=…, id=…, copy=…, cause=…)``, formatted
        directly (each string's JSON text cached); the same line, byte for byte."""
        t = round(self._clock(), 9)
        seq = self._next_seq()
        texts = _TEXTS  # (each string's text looked up here: _text is called on a miss only)
        self._add(f'{{"cause":{texts.get(cause) or _text(cause)},"copy":{copy!r},'
                  f'"dst":{texts.get(dst) or _text(dst)},"id":{id!r},"kind":"drop",'
                  f'"msg_kind":{texts.get(msg_kind) or _text(msg_kind)},"seq":{seq},'
                  f'"src":{texts.get(src) or _text(src)},"t":{t!r}}}')
        if self._keep:
            fields = {"src": src, "dst": dst, "msg_kind": msg_kind, "id": id, "copy": copy,
                      "cause": cause}
            self.events.append(TraceEvent(seq, t, "drop", fields))

    def link_events(self, src: str, dst: str) -> tuple[LinkSend, LinkDeliver]:
        """Recorders of one directed link's ``send`` and ``deliver`` events, for the network.

        ``send(now, msg_kind, id, size)`` and ``deliver(now, msg_kind, id, copy, sent_at)``
        hash the compact records :func:`send_record` and :func:`deliver_record` describe (the
        link's part encoded once); in ``"full"`` mode they also keep the same events as
        ``record("send", src=…, dst=…, msg_kind=…, id=…, size=…)`` and ``record("deliver",
        …, copy=…, sent_at=…)`` would.
        """
        link_head = _SEND + _name(src) + _name(dst)
        heads: dict[str, bytes] = {}  # msg_kind -> the send record's first bytes

        def head(msg_kind: str) -> bytes:
            raw = heads[msg_kind] = link_head + _name(msg_kind)
            return raw

        records = self._records
        append = records.append
        trace = self
        keep = self._keep
        events = self.events

        def send(now: float, msg_kind: str, id: int, size: int) -> None:
            append((heads.get(msg_kind) or head(msg_kind)) + _pack_send(now, id, size))
            if len(records) >= _BATCH:
                trace._flush()
            if keep:
                seq = trace._next_seq() - 1  # this event's record is hashed or pending
                fields = {"src": src, "dst": dst, "msg_kind": msg_kind, "id": id, "size": size}
                events.append(TraceEvent(seq, round(now, 9), "send", fields))

        def deliver(now: float, msg_kind: str, id: int, copy: int, sent_at: float) -> None:
            append(_pack_deliver(DELIVER, now, id, copy))
            if len(records) >= _BATCH:
                trace._flush()
            if keep:
                seq = trace._next_seq() - 1  # this event's record is hashed or pending
                fields = {"src": src, "dst": dst, "msg_kind": msg_kind, "id": id, "copy": copy,
                          "sent_at": round(sent_at, 9)}
                events.append(TraceEvent(seq, round(now, 9), "deliver", fields))

        return send, deliver

    def pair_events(self, src: str) -> Callable[[float, str, str, int, int], None]:
        """The ``send`` recorder of :meth:`link_events` for any destination:
        ``send(now, dst, msg_kind, id, size)``, for a sender shared by many links."""
        src_head = send_head(src)
        records = self._records
        append = records.append
        trace = self
        keep = self._keep
        events = self.events
        names = _NAMES

        def send(now: float, dst: str, msg_kind: str, id: int, size: int) -> None:
            append(src_head + (names.get(dst) or _name(dst)) + (names.get(msg_kind) or _name(msg_kind))
                   + _pack_send(now, id, size))
            if len(records) >= _BATCH:
                trace._flush()
            if keep:
                seq = trace._next_seq() - 1  # this event's record is hashed or pending
                fields = {"src": src, "dst": dst, "msg_kind": msg_kind, "id": id, "size": size}
                events.append(TraceEvent(seq, round(now, 9), "send", fields))

        return send

    def sink(self) -> tuple[list[bytes], Callable[[], None]] | None:
        """In ``"digest"`` mode, the list of records waiting to be hashed and the function
        that hashes them; None in the other modes (``"full"`` keeps the events too).

        The network's zone senders and delivery paths append their records to the list
        themselves (:func:`send_head`, :func:`pack_deliver`), a call per message fewer than a
        recorder, and call the function once the list holds :data:`SINK_BATCH` records (a
        delivery may skip that test: its send made it, so the list stays within a batch plus
        the messages in flight). Each event must add exactly one record."""
        if self.mode != "digest":
            return None
        return self._records, self._flush

    def message_events(self) -> Callable[[float, Any], None]:
        """The ``deliver`` recorder of :meth:`link_events` for a message (a
        :class:`~sim.network.Message`) of any link: ``deliver(now, msg)``."""
        records = self._records
        append = records.append
        trace = self
        keep = self._keep
        events = self.events
        pack = _pack_deliver

        def deliver(now: float, msg: Any) -> None:
            append(pack(DELIVER, now, msg.id, msg.copy))
            if len(records) >= _BATCH:
                trace._flush()
            if keep:
                seq = trace._next_seq() - 1  # this event's record is hashed or pending
                fields = {"src": msg.src, "dst": msg.dst, "msg_kind": msg.kind, "id": msg.id,
                          "copy": msg.copy, "sent_at": round(msg.sent_at, 9)}
                events.append(TraceEvent(seq, round(now, 9), "deliver", fields))

        return deliver

    @property
    def count(self) -> int:
        """How many events were recorded (kept or not)."""
        return self._next_seq()

    def digest(self) -> str | None:
        """SHA-256 hex digest of the event records in order, or None when the trace is off."""
        if not self.enabled:
            return None
        self._flush()
        return self._hash.hexdigest()

    def _require_events(self) -> list[TraceEvent]:
        if not self._keep:
            raise SimError(f"trace mode is {self.mode!r}; use trace='full' to export events")
        return self.events

    def to_jsonl(self, out: str | Path | IO[str]) -> None:
        """Write one canonical JSON object per line."""
        lines = (canonical_json(e.to_data()) + "\n" for e in self._require_events())
        _write(out, lines)

    def chrome_events(self) -> list[dict[str, Any]]:
        """Chrome trace-event objects (open the JSON in Perfetto or chrome://tracing).

        One thread per node; a delivered message is a complete event on the receiver spanning
        its flight time, everything else is an instant event.
        """
        events = self._require_events()
        names: dict[str, int] = {}

        def tid(node: Any) -> int:
            key = str(node) if node is not None else "world"
            if key not in names:
                names[key] = len(names)
            return names[key]

        out: list[dict[str, Any]] = []
        for e in events:
            f = e.fields
            args = {k: v for k, v in f.items()}
            if e.kind == "deliver":
                start = float(f.get("sent_at", e.t))
                out.append({
                    "name": str(f.get("msg_kind", "deliver")), "cat": "deliver", "ph": "X",
                    "ts": start * 1e6, "dur": (e.t - start) * 1e6, "pid": 0,
                    "tid": tid(f.get("dst")), "args": args,
                })
            else:
                node = f.get("node", f.get("src"))
                name = e.kind if "msg_kind" not in f else f"{e.kind} {f['msg_kind']}"
                out.append({
                    "name": name, "cat": e.kind, "ph": "i", "s": "t", "ts": e.t * 1e6,
                    "pid": 0, "tid": tid(node), "args": args,
                })
        meta = [
            {"name": "thread_name", "ph": "M", "pid": 0, "tid": i, "args": {"name": n}}
            for n, i in names.items()
        ]
        return meta + out

    def to_chrome(self, out: str | Path | IO[str]) -> None:
        """Write the Chrome trace JSON object format (``{"traceEvents": [...]}``)."""
        text = json.dumps({"traceEvents": self.chrome_events(), "displayTimeUnit": "ms"},
                          default=_default)
        _write(out, [text])


def _write(out: str | Path | IO[str], chunks: Iterable[str]) -> None:
    if isinstance(out, str | Path):
        with open(out, "w", encoding="utf-8") as fh:
            fh.writelines(chunks)
    else:
        out.writelines(chunks)
