"""CRDT replication over the simulated network.

Three propagation protocols share one replicator (the DistributedData key-value store):

* ``"state"`` – :mod:`sim.replication.state_gossip`: anti-entropy gossip of full states after a
  digest exchange;
* ``"delta"`` – :mod:`sim.replication.delta_gossip`: causal delta-state anti-entropy with
  per-neighbour acknowledgements (optionally with the BP and RR optimisations);
* ``"op"`` – :mod:`sim.replication.op_broadcast`: reliable causal broadcast of operations.
"""

from sim.replication.consistency import All, Consistency, Local, Majority, To
from sim.replication.ddata import DistributedData, KeySpec
from sim.replication.replicator import (
    Changed,
    Deleted,
    KeyDeletedError,
    Modifiable,
    ReadResult,
    Replicator,
    Request,
    UpdateResult,
)

__all__ = [
    "All",
    "Changed",
    "Consistency",
    "Deleted",
    "DistributedData",
    "KeyDeletedError",
    "KeySpec",
    "Local",
    "Majority",
    "Modifiable",
    "ReadResult",
    "Replicator",
    "Request",
    "To",
    "UpdateResult",
]
