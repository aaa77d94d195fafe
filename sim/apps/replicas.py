"""Database read replicas (challenge 2): a primary takes every write, replicas serve the reads.

:func:`replicate` splits a zone (the db) into a **primary** (its first node by default) and
**replicas** (the others):

* every consumer of the zone (a server) connects to a replica, round robin: the replica issues
  its session and runs the zone's computations for it (the reads: ``sync_todos``,
  ``calculate_user_count``); the primary serves nobody;
* writes for the zone go to the primary (``runtime.write_targets``): the replica a writer is
  connected to passes them on;
* each write the primary applies is replicated to every replica (computation
  ``/<zone>/replicate``) over the zone's links, so replicas lag by the link latency;
  replication goes over reliable peer connections (numbered, acknowledged, re-sent), each
  message carrying a service session the replica verifies; a node of the zone that restarts
  resynchronises by digest: a replica sends the primary the digests of its states and gets
  the full states that differ, a restarted primary sends its full states to every replica.
  The servers a restarted replica served find their connection gone and log in again.

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
from sim.apps.delivery import Connection, value_digest
from sim.apps.effects import HEADER_BYTES, Effect
from sim.apps.spec import split_path
from sim.checks import CheckResult
from sim.errors import ConfigError

if TYPE_CHECKING:
    from sim.apps.effects import Event
    from sim.apps.runtime import AppNode, AppRuntime
    from sim.world import World

__all__ = ["Replication", "replicate"]


@dataclass
class _Write:
    t: float
    path: str
    msg: Any


@dataclass
class Replication:
    """The read-replica extension: ``Replication(zone, primary)``; attached by the runtime."""

    zone: str = "db"
    primary: str | None = None
    replicas: list[str] = field(default_factory=list)
    name: str = "replicas"
    runtime: Any = field(default=None, repr=False)
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
        self.log.append(_Write(self.runtime.world.now, path, msg))
        for replica in self.replicas:
            self.pending[replica].append(len(self.log) - 1)
            node.send_effect(node.peer_conn(replica), self.comp, Effect(path, msg), None)
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

    def on_start(self, node_id: str) -> None:
        """A node of the zone restarted: resynchronise with the primary by digest."""
        rt = self.runtime
        node = rt.nodes[node_id]
        if node.node.incarnation == 0:
            return
        if node_id == self.primary:
            for replica in self.replicas:
                self._send_states(node, replica, None)
            return
        digests = {name: value_digest(node.value(name)) for name in sorted(rt.spec.states(self.zone))}
        node.send_body(node.peer_conn(self.primary), {"kind": "digests", "digests": digests}, HEADER_BYTES + 24 *
                       len(digests))

    def on_digests(self, node: AppNode, conn: Connection, body: dict[str, Any]) -> None:
        if node.id == self.primary:
            digests = body.get("digests")
            self._send_states(node, conn.peer, digests if isinstance(digests, dict) else {})

    def _send_states(self, primary: AppNode, replica: str, digests: dict[str, Any] | None) -> None:
        self.runtime.count("replica_resyncs")
        conn = primary.peer_conn(replica, fresh=True)  # the full states replace what was in flight
        for name in sorted(self.runtime.spec.states(self.zone)):
            if digests is not None and digests.get(name) == value_digest(primary.value(name)):
                continue
            primary.send_effect(conn, self.comp, Effect(f"/{self.zone}/{name}", primary.state(name)), None)

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
                **{f"p{q}_seconds": _percentile(sorted(s[1] for s in self.staleness), q) for q in (50, 95, 99)},
            },
            "converged": self.converged(),
        }

    def check(self, world: World) -> CheckResult:
        converged = self.converged()
        behind = sorted(r for r, ok in converged.items() if not ok)
        direct = sum(n for node, n in self.writes.items() if node != self.primary)
        primary_reads = self.reads.get(str(self.primary), 0)
        ok = not behind and not direct and not primary_reads
        if ok:
            message = (f"{len(self.replicas)} replicas equal the primary {self.primary}; all "
                       f"{self.writes.get(str(self.primary), 0)} writes went to it")
        else:
            message = (f"replicas behind the primary: {behind or 'none'}; writes at replicas {direct}; "
                       f"reads served by the primary {primary_reads}")
        return CheckResult("app.replicas", ok, message, self.summary())


    def attach(self, runtime: AppRuntime) -> None:
        self.runtime = runtime
        nodes = runtime.zone_nodes(self.zone) if self.zone in runtime.spec.zones else []
        if len(nodes) < 2:
            raise ConfigError("replicas zone", "an app zone with at least 2 nodes (a primary and a replica)",
                              f"{self.zone} ({len(nodes)} nodes)")
        self.primary = self.primary or nodes[0]
        if self.primary not in nodes:
            raise ConfigError("replicas primary", f"a node of zone {self.zone} (one of {nodes})", self.primary)
        self.replicas = [n for n in nodes if n != self.primary]
        self.pending = {r: [] for r in self.replicas}
        for consumer in runtime.spec.consumers_of(self.zone):
            for i, node_id in enumerate(runtime.zone_nodes(consumer)):
                runtime.nodes[node_id].providers[self.zone] = self.replicas[i % len(self.replicas)]
        runtime.write_targets[self.zone] = self.primary
        runtime.write_hooks.append(self.on_write)
        runtime.run_hooks.append(self.on_run)
        runtime.body_handlers["digests"] = self.on_digests
        runtime.summary_parts["replicas"] = self.summary
        runtime.world.add_check("app.replicas", self.check)
        for node_id in nodes:
            runtime.world.node(node_id).on_start(lambda n=node_id: self.on_start(n))  # type: ignore[misc]


def _percentile(values: list[float], q: int) -> float:
    """The ``q``-th percentile of sorted ``values`` (nearest rank), 0.0 for none."""
    if not values:
        return 0.0
    return values[max(0, min(len(values) - 1, -(-q * len(values) // 100) - 1))]


def replicate(runtime: AppRuntime, zone: str = "db", primary: str | None = None) -> Replication:
    """Make ``primary`` (default: the zone's first node) take the zone's writes, the others its reads."""
    rep = Replication(zone, primary)
    runtime.extend(rep)
    return rep
