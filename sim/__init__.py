"""crdtsim's simulator: a deterministic discrete-event world on SimPy.

The names below are the engine's public face; replication (:mod:`sim.replication`), event
sourcing (:mod:`sim.eventsourcing`), scenarios (:mod:`sim.scenario`), plots and sweeps are
imported from their own packages, so ``import sim`` stays light.
"""

from sim.checks import CheckResult
from sim.errors import ConfigError, SimError
from sim.faults import ClockChange, Crash, FaultSchedule, Heal, Isolate, LossBurst, OneWay, Partition, Restart
from sim.network import LinkModel, Message
from sim.node import Node
from sim.runloop import RunResult
from sim.workload import Workload
from sim.world import World

__all__ = [
    "World",
    "Node",
    "LinkModel",
    "Message",
    "Workload",
    "RunResult",
    "CheckResult",
    "SimError",
    "ConfigError",
    "FaultSchedule",
    "Partition",
    "OneWay",
    "Isolate",
    "Heal",
    "Crash",
    "Restart",
    "ClockChange",
    "LossBurst",
]
