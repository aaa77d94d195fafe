"""The replicator on one node: a replicated key-value store of CRDTs (Akka's Replicator).

>>> from crdt import GCounter
>>> from sim.world import World
>>> from sim.replication import DistributedData, KeySpec, Majority
>>> w = World(seed=7)
>>> nodes = w.add_nodes("dc", 3)
>>> w.connect(nodes, "complete")
>>> dd = DistributedData(w, nodes, {"hits": KeySpec(GCounter, "delta")})
>>> req = dd.replicator("dc-1").update("hits", GCounter, lambda c: c.increment(2), write=Majority())
>>> result = w.run(duration="1s")
>>> req.result.ok, [dd.replicator(n).value("hits") for n in nodes]
(True, [2, 2, 2])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crdt import Crdt
from sim.errors import SimError
from sim.replication.consistency import Consistency, Local
from sim.replication.protocol import HEADER_BYTES
from sim.replication.values import Deletion, StoredValue, join, value_size

if TYPE_CHECKING:
    from sim.history import Operation
    from sim.network import Message
    from sim.node import Node
    from sim.replication.ddata import DistributedData
    from sim.replication.protocol import Protocol

__all__ = [
    "Changed",
    "Deleted",
    "KeyDeletedError",
    "Modifiable",
    "ReadResult",
    "Replicator",
    "Request",
    "UpdateResult",
]


class KeyDeletedError(SimError):
    """An update or read of a key that was deleted; deletion is permanent."""

    def __init__(self, key: str, node: str) -> None:
        super().__init__(f"node {node}: key {key!r} was deleted and cannot be updated again")


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """How a write ended: ``ok``, or why not (``reason``), and the replicas that acknowledged it."""

    key: str
    ok: bool
    #: "" on success; "timeout" when too few replicas acknowledged in time (the update may
    #: still have been applied locally and spread later, as in Akka)
    reason: str = ""
    replicas: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadResult:
    """How a read ended: ``ok`` with the ``state`` merged from the replicas that answered
    (``None`` when none holds the key), or why not (``reason``)."""

    key: str
    ok: bool
    state: Crdt[Any] | None = None
    reason: str = ""

    def value(self) -> Any:
        """The value of the state read (``None`` when there is none)."""
        return None if self.state is None else self.state.value()


@dataclass(frozen=True, slots=True)
class Changed:
    """A subscriber's notice that ``key`` now has ``state`` at this replica (see ``Replicator.subscribe``)."""

    key: str
    state: Crdt[Any]


@dataclass(frozen=True, slots=True)
class Deleted:
    """A subscriber's notice that ``key`` was deleted (see ``Replicator.subscribe``)."""

    key: str


@dataclass
class Request:
    """A read or write in progress; ``result`` is set once it completes."""

    kind: str
    key: str
    required: int
    answered: list[str] = field(default_factory=list)
    state: StoredValue | None = None
    result: UpdateResult | ReadResult | None = None
    callbacks: list[Callable[[Any], None]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Whether the request has its result."""
        return self.result is not None

    def on_done(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(result)`` when the request completes (at once if it has)."""
        if self.result is not None:
            callback(self.result)
        else:
            self.callbacks.append(callback)

    def finish(self, result: UpdateResult | ReadResult) -> None:
        """Complete the request with ``result`` and call its callbacks; later calls do nothing."""
        if self.result is None:
            self.result = result
            for callback in self.callbacks:
                callback(result)


class Modifiable:
    """What ``modify`` receives in :meth:`Replicator.update`: the key's current value, to read and mutate.

    Mutations omit the replica id (``cart.add("milk")`` is ``ORSet.add(<this replica>, "milk")``),
    return the same object so they chain, and are recorded: the recorded calls are the update,
    sent as deltas or ops by the key's protocol. Anything else (``value()``, ``contains(…)``)
    reads the current state with the mutations made so far applied, so ``modify`` can decide
    from what it sees, as in Akka: ``lambda c: c.increment(1) if c.value() < 3 else c``.
    """

    __slots__ = ("_state", "_replica", "_applied", "calls")

    def __init__(self, state: Crdt[Any], replica: str) -> None:
        self._state = state
        self._replica = replica
        self._applied = 0  # how many of ``calls`` ``_state`` already includes
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    @property
    def state(self) -> Crdt[Any]:
        """The current state with every recorded mutation applied (computed only when read)."""
        for name, args in self.calls[self._applied:]:
            self._state = self._state.mutate(name, self._replica, *args)
        self._applied = len(self.calls)
        return self._state

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # private and special names are not the CRDT's to answer
            raise AttributeError(name)
        operations = type(self._state).operations
        if name in operations:
            def record(*args: Any) -> Modifiable:
                self.calls.append((name, args))
                return self

            return record
        if hasattr(self._state, name):
            return getattr(self.state, name)
        raise AttributeError(
            f"no mutation {name!r}; expected one of {list(operations)} or a read of the {self._state.type_name}"
        )

    def __contains__(self, element: object) -> bool:
        return element in self.state  # type: ignore[operator]

    def __len__(self) -> int:
        return len(self.state)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Modifiable({self.state!r})"


def level_name(level: Consistency) -> str:
    """How a history names a consistency level: ``local``, ``majority``, ``to 2``, ``all``."""
    return f"to {level.n}" if level.level == "to" else level.level


def _invoke_write(node: Node, key: str, calls: list[tuple[str, tuple[Any, ...]]], write: Consistency) -> Operation:
    """Record a write in the world's history: one mutation by name, several as ``a+b``."""
    if len(calls) == 1:
        f, args = calls[0][0], list(calls[0][1])
    else:
        f, args = "+".join(name for name, _ in calls) or "noop", [[name, list(a)] for name, a in calls]
    return node.world.history.invoke(node.id, "update", key, f, args, level=level_name(write))


def _complete(node: Node, op: Operation, result: UpdateResult | ReadResult) -> None:
    """A write that timed out or whose node crashed may still apply and spread: ``info``.
    A read that did not answer changed nothing: ``fail``."""
    history = node.world.history
    if result.ok:
        value = result.value() if isinstance(result, ReadResult) else None
        replicas = result.replicas if isinstance(result, UpdateResult) else ()
        history.complete(op, "ok", value=value, replicas=replicas)
    else:
        history.complete(op, "info" if isinstance(result, UpdateResult) else "fail", reason=result.reason)


class Replicator:
    """The ``ddata`` component of one node. Create them with :class:`DistributedData`."""

    def __init__(self, node: Node, group: DistributedData) -> None:
        self.node = node
        self.group = group
        self.protocols: dict[str, Protocol] = {}
        self._subscribers: dict[str, list[Callable[[Changed | Deleted], None]]] = {}
        self._changed: dict[str, None] = {}
        #: subscribers that have not heard the key's current value yet
        self._greet: dict[str, list[Callable[[Changed | Deleted], None]]] = {}
        self._requests: dict[int, Request] = {}
        self._next_request = 0
        #: bumped on every change of a stored value (and when the group learns a new key), so
        #: protocols can tell cheaply that none happened since they last looked
        self.version = 0
        # where the states live: the node's durable or volatile store (dicts never rebound)
        self._home = node.durable if group.durable else node.volatile
        #: key -> stored value at this replica: a dict kept in the node's durable or volatile
        #: store, as configured (bound again when a crash empties the volatile store)
        self.states: dict[str, StoredValue] = self._home.setdefault("ddata", {})
        node.add_component("ddata", self)
        node.on_message("ddata.write", self._on_write)
        node.on_message("ddata.write_ack", self._on_write_ack)
        node.on_message("ddata.read", self._on_read)
        node.on_message("ddata.read_reply", self._on_read_reply)
        node.on_start(self._start)
        node.on_crash(self._crash)
        # (paused until the first subscriber: without one, a notify tick has nothing to say)
        node.every(group.notify_every, self._notify, paused=True)

    # -- state ------------------------------------------------------------------------------

    @property
    def replica_id(self) -> str:
        """The id this replica mutates under.

        With volatile state a restarted node has forgotten the dots and sequence numbers it
        used, so each incarnation takes a fresh id rather than reuse them.
        """
        if self.group.durable or self.node.incarnation == 0:
            return self.node.id
        return f"{self.node.id}#{self.node.incarnation}"

    def state(self, key: str) -> Crdt[Any] | None:
        """The CRDT held for ``key`` here; None if absent or deleted."""
        value = self.states.get(key)
        return None if value is None or isinstance(value, Deletion) else value

    def value(self, key: str) -> Any:
        """The value of ``key`` at this replica (``None`` when it holds none)."""
        state = self.state(key)
        return None if state is None else state.value()

    def is_deleted(self, key: str) -> bool:
        """Whether ``key`` is deleted at this replica (a deleted key stays deleted)."""
        return isinstance(self.states.get(key), Deletion)

    def empty(self, key: str) -> Crdt[Any]:
        """A fresh, empty value of ``key``'s type."""
        return self.group.key_spec(key).type()

    def current(self, key: str) -> StoredValue:
        """The stored value for ``key``, or an empty one of its type."""
        value = self.states.get(key)
        return self.empty(key) if value is None else value

    def receive(self, key: str, value: StoredValue, source: str) -> bool:
        """Join a value that arrived from ``source``; True if the local state changed."""
        old = self.states.get(key)
        if old is None:
            new = value
        else:
            # (join, without its call when neither side is a deletion: once per message)
            if type(old) is Deletion or type(value) is Deletion:
                new = join(old, value)
            else:
                new = old.merge(value)  # type: ignore[union-attr,arg-type]
            if new is old or (not new.merge_returns_equal_input and new == old):
                return False
        self._changed_to(key, new, source)
        return True

    def replace(self, key: str, new: StoredValue, source: str) -> None:
        """Store ``new`` as the state of ``key`` (a protocol's local effect or merge)."""
        self._changed_to(key, new, source)

    def _changed_to(self, key: str, new: StoredValue, source: str) -> None:
        self.version += 1
        self.states[key] = new
        self._changed[key] = None
        self.group.note_change(key, self.node.id, new)

    # -- the user API -----------------------------------------------------------------------

    def update(
        self,
        key: str,
        type_: type[Crdt[Any]] | str,
        modify: Callable[[Any], Any],
        write: Consistency = Local,
    ) -> Request:
        """Apply ``modify`` to the value of ``key`` here, then replicate with ``write``.

        ``modify`` receives a :class:`Modifiable` of the current value: its mutations omit the
        replica id (``lambda cart: cart.add("milk")`` calls ``ORSet.add(<this node>, "milk")``)
        and its reads see the current state. ``type_`` is the key's CRDT type or its name.
        """
        spec = self.group.key_spec(key, type_)
        if self.is_deleted(key):
            raise KeyDeletedError(key, self.node.id)
        recorder = Modifiable(self.current(key), self.replica_id)  # type: ignore[arg-type]
        returned = modify(recorder)
        if isinstance(returned, Crdt):
            raise SimError(
                f"modify for key {key!r} returned a new {returned.type_name}; call the mutations on the value"
                " it receives instead (they are what replicates)"
            )
        protocol = self.protocols[spec.protocol]
        ref = protocol.local_update(key, recorder.calls) if recorder.calls else None
        update = self.group.record_update(key, self.node.id, recorder.calls, ref)
        op = _invoke_write(self.node, key, recorder.calls, write)
        update.request = op.id
        request = self._replicate_write(key, write)
        request.on_done(lambda result: self.group.record_ack(update) if result.ok else None)
        request.on_done(lambda result: _complete(self.node, op, result))
        return request

    def delete(self, key: str, write: Consistency = Local) -> Request:
        """Delete ``key`` everywhere, permanently."""
        spec = self.group.key_spec(key)
        if not self.is_deleted(key):
            self.protocols[spec.protocol].local_delete(key)
        op = _invoke_write(self.node, key, [("delete", ())], write)
        request = self._replicate_write(key, write)
        request.on_done(lambda result: _complete(self.node, op, result))
        return request

    def get(self, key: str, read: Consistency = Local) -> Request:
        """Read ``key``, merging the answers of as many replicas as ``read`` asks for."""
        self.group.key_spec(key)
        op = self.node.world.history.invoke(self.node.id, "read", key, "get", level=level_name(read))
        request = self._new_request("read", key, read)
        request.state = self.states.get(key)
        self._fan_out(request, read, "ddata.read", lambda: {"key": key}, 0)
        self._maybe_finish(request)
        request.on_done(lambda result: _complete(self.node, op, result))
        return request

    def subscribe(self, key: str, callback: Callable[[Changed | Deleted], None]) -> None:
        """Call ``callback`` with Changed/Deleted notices, at most once per notify interval.

        As in Akka, a new subscriber first hears the key's current value (at the next notify
        tick), if this replica holds one, and then every change.
        """
        self.node.resume(self._notify)
        self._subscribers.setdefault(key, []).append(callback)
        if key in self.states:
            self._greet.setdefault(key, []).append(callback)

    def unsubscribe(self, key: str, callback: Callable[[Changed | Deleted], None]) -> None:
        """Stop notifying ``callback`` of ``key`` (see :meth:`subscribe`)."""
        for registry in (self._subscribers, self._greet):
            callbacks = registry.get(key, [])
            if callback in callbacks:
                callbacks.remove(callback)

    @property
    def open_requests(self) -> int:
        """Reads and writes still waiting for other replicas; completed ones are not kept."""
        return len(self._requests)

    # -- consistency ------------------------------------------------------------------------

    def _new_request(self, kind: str, key: str, level: Consistency) -> Request:
        self._next_request += 1
        request = Request(kind, key, level.required(len(self.group.node_ids)), [self.node.id])
        if request.required > 1:  # a local request completes at once: nothing answers it, nothing keeps it
            self._requests[self._next_request] = request
        return request

    def _fan_out(
        self, request: Request, level: Consistency, kind: str, payload: Callable[[], dict[str, Any]], size: int
    ) -> None:
        if request.required <= 1:
            return
        request_id = self._next_request
        for peer in self.group.node_ids:
            if peer != self.node.id:
                self._send(peer, kind, {"id": request_id, **payload()}, HEADER_BYTES + size)
        self.node.after(level.timeout, lambda: self._time_out(request_id))

    def _send(self, dst: str, kind: str, payload: dict[str, Any], size: int) -> None:
        # Requests go to every replica, neighbour or not: over the topology, hop by hop.
        if self.group.route_requests:
            self.node.send_routed(dst, kind, payload, size)
        else:
            self.node.send(dst, kind, payload, size)

    def _replicate_write(self, key: str, write: Consistency) -> Request:
        request = self._new_request("write", key, write)
        # The protocol says what a write carries: the state, or the operations behind it.
        payload = self._protocol(key).write_payload(key) if request.required > 1 else None
        if payload is not None:
            value, size = payload
            self._fan_out(request, write, "ddata.write", lambda: {"key": key, "value": value}, size)
        self._maybe_finish(request)
        return request

    def _protocol(self, key: str) -> Protocol:
        return self.protocols[self.group.key_spec(key).protocol]

    def _maybe_finish(self, request: Request) -> None:
        if len(request.answered) < request.required:
            return
        replicas = tuple(request.answered)
        if request.kind == "write":
            request.finish(UpdateResult(request.key, True, "", replicas))
        else:
            if request.state is not None and request.required > 1 and self._protocol(request.key).repairs_reads():
                # read repair, through the protocol so that the repaired news spreads on too
                self._protocol(request.key).accept_write(request.key, request.state, self.node.id, lambda: None)
            state = request.state
            request.finish(ReadResult(request.key, True, None if isinstance(state, Deletion) else state))

    def _time_out(self, request_id: int) -> None:
        request = self._requests.pop(request_id, None)
        if request is None or request.done:
            return
        if request.kind == "write":
            request.finish(UpdateResult(request.key, False, "timeout", tuple(request.answered)))
        else:
            request.finish(ReadResult(request.key, False, None, "timeout"))

    def _on_write(self, msg: Message) -> None:
        key, src, request_id = msg.payload["key"], msg.src, msg.payload["id"]
        self._protocol(key).accept_write(
            key, msg.payload["value"], src,
            lambda: self._send(src, "ddata.write_ack", {"id": request_id}, HEADER_BYTES))

    def _on_write_ack(self, msg: Message) -> None:
        self._answer(msg.payload["id"], msg.src, None)

    def _on_read(self, msg: Message) -> None:
        value = self.states.get(msg.payload["key"])
        size = 0 if value is None else value_size(value)
        self._send(msg.src, "ddata.read_reply", {"id": msg.payload["id"], "value": value}, HEADER_BYTES + size)

    def _on_read_reply(self, msg: Message) -> None:
        self._answer(msg.payload["id"], msg.src, msg.payload["value"])

    def _answer(self, request_id: int, src: str, value: StoredValue | None) -> None:
        request = self._requests.get(request_id)
        if request is None or request.done or src in request.answered:
            return
        request.answered.append(src)
        if value is not None:
            request.state = value if request.state is None else join(request.state, value)
        self._maybe_finish(request)
        if request.done:
            del self._requests[request_id]

    # -- notifications and lifecycle --------------------------------------------------------

    def _notify(self) -> None:
        if not self._changed and not self._greet:
            return
        changed, self._changed = self._changed, {}
        greet, self._greet = self._greet, {}
        for key in sorted(changed.keys() | greet.keys()):
            # a changed key goes to every subscriber; an unchanged one only to the new ones
            callbacks = self._subscribers.get(key) if key in changed else greet[key]
            if not callbacks or key not in self.states:
                continue
            value = self.states.get(key)
            notice: Changed | Deleted = Deleted(key) if isinstance(value, Deletion) else Changed(key, value)  # type: ignore[arg-type]
            for callback in list(callbacks):
                callback(notice)

    def _start(self) -> None:
        self._changed = {}
        for protocol in self.protocols.values():
            protocol.start()

    def _crash(self) -> None:
        # (the node emptied its volatile store before calling its crash hooks)
        self.states = self._home.setdefault("ddata", {})
        for request in self._requests.values():
            request.finish(
                UpdateResult(request.key, False, "crashed")
                if request.kind == "write"
                else ReadResult(request.key, False, None, "crashed")
            )
        self._requests = {}
        for protocol in self.protocols.values():
            protocol.crash()

    def pending(self) -> bool:
        """Whether a protocol of this live replica still has work (the quiet phase waits for it)."""
        return self.node.up and any(p.pending() for p in self.protocols.values())
