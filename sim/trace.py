"""Structured trace events, their digest and their export.

A :class:`Trace` has three modes:

* ``"off"``: nothing is recorded or hashed (the hot path tests one boolean);
* ``"digest"`` (default): every event is canonically encoded and fed to a running SHA-256, but
  not kept, so determinism can be checked on long runs at bounded memory;
* ``"full"``: events are also kept in memory for export (JSON Lines, Chrome trace JSON).

The canonical encoding is JSON with sorted keys, no whitespace, ASCII only, and times rounded
to nanoseconds; it contains ids and names, never ``repr`` of objects, so it is stable across
processes and ``PYTHONHASHSEED``.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from sim.errors import ConfigError, SimError

__all__ = ["TRACE_MODES", "Trace", "TraceEvent", "TraceMode", "canonical_json"]

TraceMode = Literal["off", "digest", "full"]
TRACE_MODES: tuple[str, ...] = ("off", "digest", "full")


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=canonical_json)
    if isinstance(value, tuple):
        return list(value)
    raise SimError(f"trace field value {type(value).__name__} is not JSON-encodable")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (sorted keys, compact, ASCII, no NaN)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False,
        default=_default,
    )


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One trace record: sequence number, simulated time, kind and fields."""

    seq: int
    t: float
    kind: str
    fields: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
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
        self._seq = 0
        self.events: list[TraceEvent] = []

    def record(self, kind: str, **fields: Any) -> None:
        """Record an event of ``kind`` now; fields must be JSON-encodable."""
        if not self.enabled:
            return
        t = round(self._clock(), 9)
        seq = self._seq
        self._seq = seq + 1
        if "t" in fields or "kind" in fields or "seq" in fields:
            raise SimError("trace fields may not be named 't', 'kind' or 'seq'")
        line = canonical_json({"seq": seq, "t": t, "kind": kind, **fields})
        self._hash.update(line.encode("ascii"))
        self._hash.update(b"\n")
        if self._keep:
            self.events.append(TraceEvent(seq, t, kind, fields))

    @property
    def count(self) -> int:
        """How many events were recorded (kept or not)."""
        return self._seq

    def digest(self) -> str | None:
        """SHA-256 hex digest of the canonical event lines, or None when the trace is off."""
        return self._hash.hexdigest() if self.enabled else None

    def _require_events(self) -> list[TraceEvent]:
        if not self._keep:
            raise SimError(f"trace mode is {self.mode!r}; use trace='full' to export events")
        return self.events

    def to_jsonl(self, out: str | Path | IO[str]) -> None:
        """Write one canonical JSON object per line."""
        lines = (canonical_json(e.as_dict()) + "\n" for e in self._require_events())
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
