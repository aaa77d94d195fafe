"""The history of client requests: every operation as an invocation and its completion.

In the manner of Jepsen and Maelstrom histories, each request (a replicated-data update or
read, an event-sourced command, an application's local mutation) is recorded twice: once when
it is invoked and once when it completes, as ``ok`` (it took effect, or the read returned a
value), ``fail`` (it certainly did not take effect) or ``info`` (unknown: a write that timed out
or whose node crashed may still have applied and spread later). A request still open when the
run ends completes as ``info``.

The history lives beside the trace, not in it, so keeping it changes no trace digest.

>>> h = History(iter([1.0, 1.25]).__next__)
>>> op = h.invoke("dc-1", "update", "cart", "add", ["milk"], level="majority")
>>> h.complete(op, "ok")
>>> [r["type"] for r in h.records()], op.latency
(['invoke', 'ok'], 0.25)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from crdt.codec import canonical_json

__all__ = ["HISTORY_SCHEMA", "History", "Operation", "Outcome", "percentiles", "plain", "quantile"]

Outcome = Literal["ok", "fail", "info"]
OUTCOMES: tuple[str, ...] = ("ok", "fail", "info")
#: the percentiles of request latency a summary gives
PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))


_PLAIN = frozenset({int, float, str, bool, type(None)})  # exact types that are their own data


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: sets sorted, tuples as lists, mapping keys as text."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, frozenset | set):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))}
    if isinstance(value, tuple | list):
        # (scalars inline: an update's arguments are mostly numbers and strings)
        return [v if type(v) in _PLAIN else plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


@dataclass(slots=True)
class Operation:
    """One request: what was asked where and when, and how it ended."""

    id: int
    node: str
    #: ``update``, ``read``, ``command`` (event sourcing) or ``mutation`` (an app's local state)
    kind: str
    #: the key, entity id or state path the request is about
    key: str
    #: the operation's name (``add``, ``increment``, ``get``, ``command`` …)
    f: str
    args: list[Any]
    invoked: float
    #: the consistency level of a replicated-data request (``local``, ``majority`` …)
    level: str | None = None
    type: Outcome | None = None
    completed: float | None = None
    #: the value read, for reads that succeeded
    value: Any = None
    reason: str = ""
    #: the replicas that acknowledged, where the request waits for others
    replicas: list[str] = field(default_factory=list)

    @property
    def latency(self) -> float | None:
        return None if self.completed is None else round(self.completed - self.invoked, 9)

    def invocation(self) -> dict[str, Any]:
        record = {"type": "invoke", "id": self.id, "node": self.node, "kind": self.kind, "key": self.key,
                  "f": self.f, "args": self.args, "time": self.invoked}
        if self.level is not None:
            record["level"] = self.level
        return record

    def completion(self) -> dict[str, Any]:
        record = {**self.invocation(), "type": self.type, "time": self.completed, "latency": self.latency}
        if self.kind == "read" and self.type == "ok":
            record["value"] = self.value
        if self.reason:
            record["reason"] = self.reason
        if self.replicas:
            record["replicas"] = self.replicas
        return record


class History:
    """Operations in invocation order, with the simulated time from ``clock``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.operations: list[Operation] = []
        #: (operation, whether this is its completion) in the order things happened
        self._events: list[tuple[Operation, bool]] = []

    def invoke(self, node: str, kind: str, key: str, f: str, args: Sequence[Any] = (),
               level: str | None = None) -> Operation:
        """Record that ``node`` invoked a request now; complete it with :meth:`complete`."""
        op = Operation(len(self.operations) + 1, node, kind, key, f, plain(list(args)), round(self._clock(), 9),
                       level)
        self.operations.append(op)
        self._events.append((op, False))
        return op

    def complete(self, op: Operation, outcome: Outcome, value: Any = None, reason: str = "",
                 replicas: Iterable[str] = ()) -> None:
        """Record how ``op`` ended (the first completion counts; later ones are ignored)."""
        if op.type is not None:
            return
        op.type, op.completed = outcome, round(self._clock(), 9)
        op.value, op.reason, op.replicas = plain(value), reason, list(replicas)
        self._events.append((op, True))

    def close(self, reason: str = "no response by the end of the run") -> None:
        """Complete every open request as ``info``: nobody knows whether it took effect."""
        for op in self.operations:
            if op.type is None:
                self.complete(op, "info", reason=reason)

    def records(self) -> list[dict[str, Any]]:
        """Invocations and completions in the order they happened, numbered from 0."""
        out = []
        for index, (op, done) in enumerate(self._events):
            out.append({"index": index, **(op.completion() if done else op.invocation())})
        return out

    def to_jsonl(self, out: str | Path | IO[str]) -> None:
        """Write one JSON object per record (``history.jsonl``)."""
        lines = [canonical_json(r, ascii=True) + "\n" for r in self.records()]
        if isinstance(out, str | Path):
            Path(out).write_text("".join(lines), encoding="utf-8")
        else:
            out.writelines(lines)

    def summary(self) -> dict[str, Any]:
        """Counts of outcomes and latency percentiles (ms), per kind of request and level."""
        groups: dict[str, list[Operation]] = {}
        for op in self.operations:
            groups.setdefault(op.kind if op.level is None else f"{op.kind} {op.level}", []).append(op)
        out: dict[str, Any] = {}
        for name in sorted(groups):
            ops = groups[name]
            counts = {o: sum(1 for op in ops if op.type == o) for o in OUTCOMES}
            done = [op.latency * 1000.0 for op in ops if op.latency is not None and op.type == "ok"]
            out[name] = {"count": len(ops), **counts, "latency_ms": percentiles(done)}
        return out


def percentiles(values: Sequence[float]) -> dict[str, float] | None:
    """Nearest-rank p50, p95, p99 and max of ``values`` (None when there are none).

    >>> percentiles([1.0, 2.0, 3.0, 4.0])
    {'p50': 2.0, 'p95': 4.0, 'p99': 4.0, 'max': 4.0}
    """
    if not values:
        return None
    return {name: round(quantile(values, q), 6) for name, q in PERCENTILES}


def quantile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of ``values`` (not empty).

    >>> quantile([3.0, 1.0, 2.0], 0.5)
    2.0
    """
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


#: JSON Schema of one line of ``history.jsonl``
HISTORY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "crdtsim history record",
    "description": "One line of history.jsonl: a request's invocation, or its completion (ok, fail or info).",
    "type": "object",
    "additionalProperties": False,
    "required": ["index", "type", "id", "node", "kind", "key", "f", "args", "time"],
    "properties": {
        "index": {"type": "integer", "minimum": 0, "description": "position in the history"},
        "type": {"enum": ["invoke", *OUTCOMES],
                 "description": "invoke; ok (took effect), fail (did not), info (unknown: may have)"},
        "id": {"type": "integer", "minimum": 1, "description": "the request id, shared by invocation and completion"},
        "node": {"type": "string", "description": "the node that issued the request"},
        "kind": {"enum": ["update", "read", "command", "mutation"]},
        "key": {"type": "string", "description": "key, entity id or app state path"},
        "f": {"type": "string", "description": "the operation: add, remove, increment, get, command …"},
        "args": {"type": "array"},
        "level": {"type": "string", "description": "consistency level of a replicated-data request"},
        "time": {"type": "number", "minimum": 0, "description": "simulated seconds of this record"},
        "latency": {"type": ["number", "null"], "minimum": 0, "description": "seconds from invocation"},
        "value": {"description": "the value a successful read returned"},
        "reason": {"type": "string", "description": "why a request failed or is indeterminate"},
        "replicas": {"type": "array", "items": {"type": "string"},
                     "description": "the replicas that acknowledged"},
    },
}
