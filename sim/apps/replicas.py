"""Database read replicas (challenge 2): a primary takes every write, replicas serve the reads.

:func:`replicate` splits a zone (the db) into a **primary** (its first node by default) and
**replicas** (the others):

* every consumer of the zone (a server) connects to a replica, round robin: the replica issues
  its session and runs the zone's computations for it (the reads: ``sync_todos``,
  ``calculate_user_count``); the primary serves nobody;
* writes for the zone go to the primary (``runtime.write_targets``), whichever replica the
  writer is connected to;
* each write the primary applies is replicated to every replica as an ``app.effect`` message
  (computation ``/<zone>/replicate``) over the zone's links, so replicas lag by the link latency;
  a replica that restarts after a crash (it missed what was sent meanwhile) asks the primary
  for its full states (``app.resync``), and the servers it served connect to it again.

**Staleness**: the primary logs each write it applied with the time. For every read a replica
serves, the writes of the log the replica still lacks (merging them would change its state) are
counted: ``missing`` writes, and ``seconds`` since the primary applied the oldest of them. The
app summary gains a ``replicas`` part (reads, stale reads, mean/max staleness, writes per node,
replication messages, convergence), and the check ``app.replicas`` fails unless every replica
ends equal to the primary and no write was applied at a replica directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crdt import Op
from sim.apps.runtime import HEADER_BYTES
from sim.apps.spec import split_path
from sim.checks import CheckResult
from sim.errors import ConfigError

if TYPE_CHECKING:
    from sim.apps.runtime import AppNode, AppRuntime, Event
    from sim.network import Message
    from sim.world import World

__all__ = ["Replication", "replicate"]


@dataclass
class _Write:
    t: float
    path: str
    msg: Any


@dataclass
class Replication:
    runtime: AppRuntime
    zone: str
    primary: str
    replicas: list[str]
    log: list[_Write] = field(default_factory=list)
    pending: dict[str, list[int]] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)
    replicated: int = 0
    #: one (missing writes, seconds behind) per read a replica served
    staleness: list[tuple[int, float]] = field(default_factory=list)

    @property
    def comp(self) -> str:
        return f"/{self.zone}/replicate"

    # -- hooks ------------------------------------------------------------------------------

    def on_write(self, node: AppNode, path: str, msg: Any, comp: str, src: str) -> None:
        if node.zone != self.zone or split_path(path)[0] != self.zone:
            return
        if comp == self.comp:
            return  # a replica catching up
        self.writes[node.id] = self.writes.get(node.id, 0) + 1
        if node.id != self.primary:
            self.runtime.count("replica_writes")  # must not happen: the check fails
            return
        from sim.apps.runtime import Effect

        self.log.append(_Write(self.runtime.world.now, path, msg))
        for replica in self.replicas:
            self.pending[replica].append(len(self.log) - 1)
            node._send(replica, self.comp, Effect(path, msg), None)
            self.replicated += 1

    def on_run(self, comp: str, node_id: str, event: Event) -> None:
        if event.node is None or event.node == node_id or self.runtime.nodes[node_id].zone != self.zone:
            return
        self.reads[node_id] = self.reads.get(node_id, 0) + 1
        if node_id not in self.pending:
            return  # the primary served a read: counted in reads, never expected
        node = self.runtime.nodes[node_id]
        missing = [i for i in self.pending[node_id] if self._lacks(node, self.log[i])]
        self.pending[node_id] = missing
        seconds = self.runtime.world.now - self.log[missing[0]].t if missing else 0.0
        self.staleness.append((len(missing), round(seconds, 9)))
        if missing:
            self.runtime.world.trace.record("app.stale_read", node=node_id, comp=comp, subscriber=event.node,
                                            missing=len(missing), seconds=round(seconds, 9))

    @staticmethod
    def _lacks(node: AppNode, write: _Write) -> bool:
        state = node.states[split_path(write.path)[1]]
        new = state.effect(write.msg) if isinstance(write.msg, Op) else state.merge(write.msg)
        return bool(new != state)

    def on_replica_start(self, replica: str) -> None:
        node = self.runtime.world.node(replica)
        if node.incarnation == 0:
            return
        # a restart: replication messages were lost while it was down, and its subscribers with
        # its memory; its consumers see their connection close and connect again
        node.send(self.primary, "app.resync", None, HEADER_BYTES)
        rt = self.runtime
        for consumer in rt.spec.consumers_of(self.zone):
            for node_id in rt.zone_nodes(consumer):
                app = rt.nodes[node_id]
                if app.providers.get(self.zone) == replica and app.node.up and rt.wants_connection(node_id):
                    app.connect(self.zone)

    def on_resync(self, msg: Message) -> None:
        from sim.apps.runtime import Effect

        primary = self.runtime.nodes[self.primary]
        self.runtime.count("replica_resyncs")
        for name in sorted(self.runtime.spec.states(self.zone)):
            primary._send(msg.src, self.comp, Effect(f"/{self.zone}/{name}", primary.state(name)), None)

    # -- reporting --------------------------------------------------------------------------

    def converged(self) -> dict[str, bool]:
        primary = self.runtime.nodes[self.primary].states
        names = sorted(self.runtime.spec.states(self.zone))
        return {r: all(self.runtime.nodes[r].states.get(n) == primary.get(n) for n in names) for r in self.replicas}

    def summary(self) -> dict[str, Any]:
        stale = [s for s in self.staleness if s[0]]
        n = len(self.staleness)
        return {
            "primary": self.primary,
            "replicas": list(self.replicas),
            "reads": dict(sorted(self.reads.items())),
            "writes": dict(sorted(self.writes.items())),
            "replicated": self.replicated,
            "stale_reads": len(stale),
            "staleness": {
                "max_missing_writes": max((s[0] for s in self.staleness), default=0),
                "mean_missing_writes": round(sum(s[0] for s in self.staleness) / n, 6) if n else 0.0,
                "max_seconds": max((s[1] for s in self.staleness), default=0.0),
                "mean_seconds": round(sum(s[1] for s in self.staleness) / n, 9) if n else 0.0,
            },
            "converged": self.converged(),
        }

    def check(self, world: World) -> CheckResult:
        converged = self.converged()
        behind = sorted(r for r, ok in converged.items() if not ok)
        direct = sum(n for node, n in self.writes.items() if node != self.primary)
        primary_reads = self.reads.get(self.primary, 0)
        ok = not behind and not direct and not primary_reads
        if ok:
            message = (f"{len(self.replicas)} replicas equal the primary {self.primary}; all "
                       f"{self.writes.get(self.primary, 0)} writes went to it")
        else:
            message = (f"replicas behind the primary: {behind or 'none'}; writes at replicas {direct}; "
                       f"reads served by the primary {primary_reads}")
        return CheckResult("app.replicas", ok, message, self.summary())


def replicate(runtime: AppRuntime, zone: str = "db", primary: str | None = None) -> Replication:
    """Make ``primary`` (default: the zone's first node) take the zone's writes, the others its reads."""
    nodes = runtime.zone_nodes(zone) if zone in runtime.spec.zones else []
    if len(nodes) < 2:
        raise ConfigError("replicas zone", "an app zone with at least 2 nodes (a primary and a replica)",
                          f"{zone} ({len(nodes)} nodes)")
    primary = primary or nodes[0]
    if primary not in nodes:
        raise ConfigError("replicas primary", f"a node of zone {zone} (one of {nodes})", primary)
    replicas = [n for n in nodes if n != primary]
    rep = Replication(runtime, zone, primary, replicas, pending={r: [] for r in replicas})
    for consumer in runtime.spec.consumers_of(zone):
        for i, node_id in enumerate(runtime.zone_nodes(consumer)):
            runtime.nodes[node_id].providers[zone] = replicas[i % len(replicas)]
    runtime.write_targets[zone] = primary
    runtime.write_hooks.append(rep.on_write)
    runtime.run_hooks.append(rep.on_run)
    runtime.summary_parts["replicas"] = rep.summary
    runtime.world.add_check("app.replicas", rep.check)
    runtime.world.node(primary).on_message("app.resync", rep.on_resync)
    for replica in replicas:
        runtime.world.node(replica).on_start(lambda r=replica: rep.on_replica_start(r))  # type: ignore[misc]
    return rep
