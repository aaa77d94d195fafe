"""The interface a propagation protocol offers the replicator on one node, and the registry of
protocols by name.

The registry is the one place that knows which protocols exist: the scenario schema (protocol
names and each one's options), :class:`~sim.replication.ddata.DistributedData` and the CLI's
templates ask :func:`protocols`. A protocol joins with the :func:`register_protocol` class
decorator; the built-in ones (``state``, ``delta``, ``op``) come first, in that order.

>>> list(protocols())
['state', 'delta', 'op']
>>> protocol_named("op").__name__
'OpBroadcast'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sim.errors import ConfigError
from sim.replication.values import join, value_size

if TYPE_CHECKING:
    from sim.node import Node
    from sim.replication.replicator import Replicator
    from sim.replication.values import StoredValue

__all__ = ["Protocol", "HEADER_BYTES", "Calls", "protocol_named", "protocols", "register_protocol",
           "unregister_protocol"]

#: the mutations of one update: (name, arguments after the replica id)
Calls = list[tuple[str, tuple[Any, ...]]]

#: Bytes charged per message for its envelope (kind, ids, sequence numbers).
HEADER_BYTES = 24


class Protocol:
    """One node's half of a propagation protocol for the keys assigned to it.

    The replicator owns the states; a protocol decides how a local mutation is applied (its
    state, delta or op form) and how states, deltas or ops travel. Subclasses register their
    message kinds and periodic tasks in ``__init__``.
    """

    name: ClassVar[str]
    #: the option names this protocol accepts; any other is a configuration error
    option_names: ClassVar[frozenset[str]] = frozenset()
    #: the JSON Schema of each option (the scenario schema's ``data.options.<name>``)
    option_schema: ClassVar[Mapping[str, Any]] = {}
    #: whether the protocol knows when it is done (every neighbour acknowledged); the quiet
    #: phase goes on while live replicas of a key under a protocol that does not still differ
    knows_when_done: ClassVar[bool] = True

    def __init__(self, replicator: Replicator, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - self.option_names)
        if unknown:
            raise ConfigError(f"{self.name} protocol option", f"must be among {sorted(self.option_names)}", unknown[0])
        self.replicator = replicator
        self.node: Node = replicator.node
        self.options = options

    def int_option(self, name: str, default: int, minimum: int) -> int:
        value = self.options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{self.name} protocol {name}", f"must be an integer >= {minimum}", value)
        return value

    def local_update(self, key: str, calls: Calls) -> Any:
        """Apply one update's mutations ``[(name, args), ...]`` here and arrange for them to
        spread together (one delta, one broadcast record: an update is one message).

        May return a reference to what carries the update (the op record's id), by which the
        protocol can later report the update lost (:meth:`DistributedData.record_lost`)."""
        raise NotImplementedError

    def local_delete(self, key: str) -> None:
        """Delete ``key`` here (the marker then spreads like a state)."""
        raise NotImplementedError

    def holds(self, key: str, ref: Any) -> bool:
        """Whether this replica holds the update ``local_update`` returned ``ref`` for. For
        state-based protocols ``ref`` is the update's delta: held when the state is above it."""
        value = self.replicator.states.get(key)
        return value is not None and join(value, ref) == value

    def write_payload(self, key: str) -> tuple[Any, int] | None:
        """What a write at a level above ``local`` sends each replica for ``key``, and its size
        in bytes; None when there is nothing to send. State-based protocols send the state."""
        value = self.replicator.states.get(key)
        return None if value is None else (value, value_size(value))

    def accept_write(self, key: str, payload: Any, source: str, ack: Callable[[], None]) -> None:
        """Take a write's payload from ``source`` and call ``ack`` once it is applied here."""
        self.store(key, payload, source)
        ack()

    def repairs_reads(self) -> bool:
        """Whether a read at a level above ``local`` may join the answers into this replica.
        True for state-based protocols (a join is idempotent); an op-based replica changes only
        by delivering operations, since joining a state and then applying its ops counts twice."""
        return True

    def start(self) -> None:
        """Called at world start and after every restart (volatile state is gone)."""

    def crash(self) -> None:
        """Called when the node crashes."""

    def pending(self) -> bool:
        """True while this node still has something to send for the protocol."""
        return False

    def peers(self) -> Sequence[str]:
        """Sorted replica neighbours: the nodes this protocol talks to directly (a list, or a
        view of a zone whose members are all replicas)."""
        return self.replicator.group.replica_neighbours(self.node.id)

    def send(self, dst: str, kind: str, payload: Any, size: int) -> None:
        self.node.send(dst, kind, payload, HEADER_BYTES + size)

    def store(self, key: str, value: StoredValue, source: str) -> bool:
        """Join ``value`` into the replica's state for ``key``; True if it changed."""
        return self.replicator.receive(key, value, source)


# -- the registry ---------------------------------------------------------------------------------

#: the built-in protocols, in the order they are offered, and the modules that register them
_BUILT_IN = {"state": "sim.replication.state_gossip", "delta": "sim.replication.delta_gossip",
             "op": "sim.replication.op_broadcast"}
_PROTOCOLS: dict[str, type[Protocol]] = {}

P = TypeVar("P", bound=type[Protocol])


def register_protocol(cls: P) -> P:
    """Class decorator: offer ``cls`` by its ``name`` (in scenarios, ``KeySpec`` and the schema).

    Refuses a name another class holds, and options without a schema (or a schema of options
    the protocol does not accept), so the scenario schema always says what the protocol reads.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"protocol {cls.__qualname__}", "must have a name", name)
    holder = _PROTOCOLS.get(name)
    if holder is not None and holder is not cls:
        raise ConfigError(f"protocol {cls.__qualname__}", f"must have a name no other protocol has "
                          f"({holder.__module__}.{holder.__qualname__} is {name!r})", name)
    if set(cls.option_schema) != set(cls.option_names):
        raise ConfigError(f"protocol {name} option_schema", f"must describe exactly {sorted(cls.option_names)}",
                          sorted(cls.option_schema))
    _PROTOCOLS[name] = cls
    return cls


def unregister_protocol(cls: type[Protocol]) -> None:
    """Remove ``cls`` (a protocol registered for a while, as in a test)."""
    if _PROTOCOLS.get(cls.name) is cls:
        del _PROTOCOLS[cls.name]


def protocols() -> dict[str, type[Protocol]]:
    """Every protocol by name: the built-in ones first, then the others in registration order."""
    for module in _BUILT_IN.values():
        importlib.import_module(module)  # each registers its protocol on import
    ordered = {name: _PROTOCOLS[name] for name in _BUILT_IN if name in _PROTOCOLS}
    return {**ordered, **{n: c for n, c in _PROTOCOLS.items() if n not in ordered}}


def protocol_named(name: str) -> type[Protocol]:
    """The protocol called ``name``, or a :class:`~sim.errors.ConfigError` naming the known ones."""
    known = protocols()
    if name not in known:
        raise ConfigError("protocol", f"must be one of {list(known)}", name)
    return known[name]
