"""State-based anti-entropy gossip with a digest exchange first (as Akka's Replicator does).

Every ``every`` ticks a node picks up to ``fanout`` replica neighbours (from its own random
stream) among those not known to hold its current states, and:

* ``push``: sends the full states of all its keys;
* ``pull``: sends a digest (a fingerprint per key); the peer answers with its states for the
  keys that differ;
* ``push-pull`` (default): as pull, and the peer also asks for the initiator's states of those
  keys, which the initiator sends.

Every message carries the sender's *summary* (a fingerprint over all its keys), so each side
learns which peers already agree with it and stops gossiping to them: once all replicas agree
and know it, the protocol sends nothing and the network goes quiet. No acknowledgements are
needed: a lost message is simply repeated at the next round.

Options: ``every`` (ticks, default 1), ``fanout`` (default 1), ``mode``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar

from sim.errors import ConfigError
from sim.replication.protocol import Protocol
from sim.replication.values import DELETED, StoredValue, fingerprint, value_size

if TYPE_CHECKING:
    from sim.network import Message
    from sim.replication.replicator import Replicator

__all__ = ["StateGossip"]

MODES = ("push", "pull", "push-pull")
_OPTIONS = {"every", "fanout", "mode"}


class StateGossip(Protocol):
    name: ClassVar[str] = "state"

    def __init__(self, replicator: Replicator, options: dict[str, Any]) -> None:
        super().__init__(replicator, options)
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ConfigError("state protocol option", f"must be among {sorted(_OPTIONS)}", unknown[0])
        self.mode = options.get("mode", "push-pull")
        if self.mode not in MODES:
            raise ConfigError("state protocol mode", f"must be one of {list(MODES)}", self.mode)
        self.fanout = options.get("fanout", 1)
        if isinstance(self.fanout, bool) or not isinstance(self.fanout, int) or self.fanout < 1:
            raise ConfigError("state protocol fanout", "must be an integer >= 1", self.fanout)
        self.rng = self.node.world.rng(f"gossip:{self.node.id}")
        # peer -> the summary it last told us; peers holding our summary are skipped
        self.known: dict[str, str] = {}
        self._fingerprints: dict[str, tuple[StoredValue, str]] = {}
        self.node.on_message("state.digest", self._on_digest)
        self.node.on_message("state.gossip", self._on_gossip)
        self.node.every(options.get("every", 1), self._round)

    # -- local changes ------------------------------------------------------------------------

    def local_update(self, key: str, name: str, args: tuple[Any, ...]) -> None:
        current = self.replicator.current(key)
        self.replicator.replace(key, current.mutate(name, self.replicator.replica_id, *args), self.node.id)  # type: ignore[union-attr]

    def local_delete(self, key: str) -> None:
        self.replicator.replace(key, DELETED, self.node.id)

    # -- digests ------------------------------------------------------------------------------

    def _keys(self) -> list[str]:
        states = self.replicator.states
        return [k for k in self.replicator.group.keys_for(self.name) if k in states]

    def _fingerprint(self, key: str) -> str:
        value = self.replicator.states[key]
        cached = self._fingerprints.get(key)
        if cached is not None and cached[0] is value:
            return cached[1]
        digest = fingerprint(value)
        self._fingerprints[key] = (value, digest)
        return digest

    def _digest(self) -> dict[str, str]:
        return {key: self._fingerprint(key) for key in self._keys()}

    @staticmethod
    def _summary(digest: dict[str, str]) -> str:
        text = ";".join(f"{k}={v}" for k, v in sorted(digest.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # -- the round ----------------------------------------------------------------------------

    def _round(self) -> None:
        digest = self._digest()
        if not digest:
            return
        summary = self._summary(digest)
        behind = [p for p in self.peers() if self.known.get(p) != summary]
        if not behind:
            return
        chosen = self.rng.sample(behind, min(self.fanout, len(behind)))
        for peer in sorted(chosen):
            if self.mode == "push":
                self._send_states(peer, list(digest), summary, want=[])
            else:
                size = sum(len(k) + len(v) + 6 for k, v in digest.items()) + len(summary)
                self.send(peer, "state.digest", {"digest": digest, "summary": summary}, size)

    def _send_states(self, peer: str, keys: list[str], summary: str, want: list[str]) -> None:
        states = {k: self.replicator.states[k] for k in keys if k in self.replicator.states}
        size = sum(len(k) + value_size(v) for k, v in states.items()) + sum(len(k) for k in want) + len(summary)
        self.send(peer, "state.gossip", {"states": states, "want": want, "summary": summary}, size)

    def _on_digest(self, msg: Message) -> None:
        theirs: dict[str, str] = msg.payload["digest"]
        self.known[msg.src] = msg.payload["summary"]
        mine = self._digest()
        differ = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        give = [k for k in differ if k in mine]
        want = [k for k in differ if k in theirs] if self.mode == "push-pull" else []
        # Always answer, even when nothing differs: the answer tells the peer we agree.
        self._send_states(msg.src, give, self._summary(mine), want)

    def _on_gossip(self, msg: Message) -> None:
        for key in sorted(msg.payload["states"]):
            self.store(key, msg.payload["states"][key], msg.src)
        summary = self._summary(self._digest())
        self.known[msg.src] = msg.payload["summary"]
        if msg.payload["want"]:
            self._send_states(msg.src, msg.payload["want"], summary, want=[])

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.known = {}
        self._fingerprints = {}

    def pending(self) -> bool:
        digest = self._digest()
        if not digest:
            return False
        summary = self._summary(digest)
        return any(self.known.get(p) != summary for p in self.peers())
