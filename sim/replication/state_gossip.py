"""State-based gossip with a digest exchange first (as Akka's Replicator does).

A node that has news gossips every ``every`` ticks with up to ``fanout`` replica neighbours
picked uniformly from its own random stream:

* ``push``: sends the full states of all its keys; the peer answers with its summary only;
* ``pull``: sends a digest (a fingerprint per key); the peer answers with its states for the
  keys that differ;
* ``push-pull`` (default): as pull, and the peer also asks for the initiator's states of those
  keys, which the initiator sends.

Every message carries the sender's *summary* (a fingerprint over all its keys). A node has news
while its state changed or a peer disagreed with it, until ``confirm`` exchanges in a row found
a peer holding the same summary (rumour mongering with feedback, Demers et al.); then it stops
initiating, and a background round every ``background`` rounds (anti-entropy) catches any node
the rumour missed. No acknowledgements are needed: a lost message is repeated at the next round.

Payloads are tuples, built and read once per message: ``state.digest`` carries ``(digest,
summary)``, ``state.gossip`` carries ``(states, want, summary, reply)`` (the states of the keys
given, the keys asked for, the sender's summary, and whether a push asks for an answer).

Rumour mongering can end with a few replicas the news has not reached yet, so for keys under
this protocol the replicator group also reports work pending while its live replicas still
differ: the quiet phase keeps ticking (and background rounds keep running) until they agree.

Options: ``every`` (ticks, default 1), ``fanout`` (default 1), ``mode``, ``confirm`` (default 2),
``background`` (rounds, default 10; 0 turns it off). Under pull and push-pull a replica that
holds no key still starts rounds (its empty digest asks for everything); ``pull_when_empty:
false`` puts back the bug where it did not, for the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sim.errors import ConfigError
from sim.replication.protocol import HEADER_BYTES, Calls, Protocol, register_protocol
from sim.replication.values import DELETED, StoredValue, fingerprint, join, value_size
from sim.topology import ZonePeers

if TYPE_CHECKING:
    from sim.network import Message
    from sim.replication.replicator import Replicator

__all__ = ["StateGossip"]

MODES = ("push", "pull", "push-pull")
#: bytes of a summary in a message: 16 hex digits of a hash over the digest
SUMMARY_BYTES = 16
#: bytes of a gossip message that carries no state: the header and the summary
_EMPTY_GOSSIP_BYTES = HEADER_BYTES + SUMMARY_BYTES
#: a summary as the simulation compares it: the sorted (key, fingerprint) pairs of a digest
Summary = tuple[tuple[str, str], ...]
#: each option's JSON Schema (the scenario schema's data.options.state)
_OPTIONS: dict[str, Any] = {
    "every": {"type": "integer", "minimum": 1, "maximum": 10_000},
    "fanout": {"type": "integer", "minimum": 1, "maximum": 10_000},
    "mode": {"enum": list(MODES)},
    "confirm": {"type": "integer", "minimum": 0, "maximum": 1_000},
    "background": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
    "pull_when_empty": {"type": "boolean"},
}
#: what a node's stored keys look like to its peers, while nothing changes: (replicator
#: version, digest, summary, bytes of a digest message's payload)
View = tuple[int, dict[str, str], Summary, int]
#: a view no version matches
_NO_VIEW: View = (-1, {}, (), 0)


@register_protocol
class StateGossip(Protocol):
    name: ClassVar[str] = "state"
    option_names: ClassVar[frozenset[str]] = frozenset(_OPTIONS)
    option_schema: ClassVar[Mapping[str, Any]] = _OPTIONS
    #: gossip cannot know when everyone has heard (see DistributedData.pending)
    knows_when_done: ClassVar[bool] = False

    def __init__(self, replicator: Replicator, options: dict[str, Any]) -> None:
        super().__init__(replicator, options)
        self.mode = options.get("mode", "push-pull")
        if self.mode not in MODES:
            raise ConfigError("state protocol mode", f"must be one of {list(MODES)}", self.mode)
        self.fanout = self.int_option("fanout", 1, minimum=1)
        self.confirm = self.int_option("confirm", 2, minimum=0)
        self.background = self.int_option("background", 10, minimum=0)
        # False keeps a replica that holds no key from starting rounds: under pull nobody
        # pushes, so it would never hear of any key (a bug the property test must catch).
        self.pull_when_empty = bool(options.get("pull_when_empty", True))
        self.rng = self.node.world.rng(f"gossip:{self.node.id}")
        # exchanges in a row whose peer held our summary; below ``confirm``, we have news
        self.agreed = 0
        self.rounds = 0
        self._summary_now: Summary | None = None
        # the view of the stored keys as last computed: see _view
        self._memo: View = _NO_VIEW
        self._round_version = -1
        self._peers: tuple[Sequence[str], int, int] | None = None
        self.node.on_message("state.digest", self._on_digest)
        self.node.on_message("state.gossip", self._on_gossip)
        self.node.every(options.get("every", 1), self._round)

    # -- local changes ------------------------------------------------------------------------

    def local_update(self, key: str, calls: Calls) -> StoredValue | None:
        state = before = self.replicator.current(key)
        for name, args in calls:
            state = state.mutate(name, self.replicator.replica_id, *args)  # type: ignore[union-attr]
        self.replicator.replace(key, state, self.node.id)
        if self.replicator.group.durable or state == before:
            return None
        # With volatile state the checks ask whether the update survived crashes: a replica
        # holds it when its state is above the update's delta, recomputed here.
        delta, stepped = None, before
        for name, args in calls:
            part = stepped.mutate_delta(name, self.replicator.replica_id, *args)  # type: ignore[union-attr]
            if part is not None:
                stepped = join(stepped, part)
                delta = part if delta is None else join(delta, part)
        return delta

    def local_delete(self, key: str) -> None:
        self.replicator.replace(key, DELETED, self.node.id)

    # -- digests ------------------------------------------------------------------------------

    def _view(self) -> View:
        """The digest (key -> fingerprint of every key held here), its summary and the bytes
        of a digest message's payload. Asked every round and on every message, mostly with
        nothing changed, so the last view is kept (its digest never mutated) and used again
        while the replicator's version is the same: every change of a stored value bumps it,
        and so does a key new to the group; the store is only replaced by a crash, which
        forgets the view (``crash``). The hot callers compare the version themselves and call
        this only when it moved.

        The summary is the digest's fingerprint over all keys. On the wire it is 16 hex digits
        (``SUMMARY_BYTES``); in the simulation only its equality matters, so it is the sorted
        digest itself: equal exactly when the digests are, and no hash per changed digest."""
        replicator = self.replicator
        memo = self._memo
        version = replicator.version
        if memo[0] == version:
            return memo
        states = replicator.states
        digest: dict[str, str] = {}
        size = SUMMARY_BYTES
        for k in replicator.group.keys_for(self.name):  # (sorted: so is the digest's order)
            v = states.get(k)
            if v is not None:
                f = digest[k] = fingerprint(v)
                size += len(k) + len(f) + 6
        self._memo = memo = (version, digest, tuple(digest.items()), size)
        return memo

    # -- the round ----------------------------------------------------------------------------

    def _round(self) -> None:
        self.rounds += 1
        background = self.background and self.rounds % self.background == 0
        version = self.replicator.version
        if self.agreed >= self.confirm and not background and self._round_version == version:
            return  # agreed, and nothing stored here changed since: no news (the common case)
        self._round_version = version
        view = self._memo
        if view[0] != version:
            view = self._view()
        _, digest, summary, digest_bytes = view
        if not digest and (self.mode == "push" or not self.pull_when_empty):
            return  # nothing to push; under pull an empty digest asks a peer for everything
        if summary != self._summary_now:
            self._summary_now, self.agreed = summary, 0
        if self.agreed >= self.confirm and not background:
            return
        members, skip, n = self._peers or self._load_peers()
        if not n:
            return
        if self.fanout == 1:
            # The draw of sample(peers, 1) and of randrange(n): Random._randbelow's getrandbits
            # of n's bit length until one is below n, inlined (a test holds it to randrange).
            getrandbits = self.rng.getrandbits
            bits = n.bit_length()
            drawn = getrandbits(bits)
            while drawn >= n:
                drawn = getrandbits(bits)
            chosen = [members[drawn + (drawn >= skip)]]
        else:
            chosen = self.rng.sample(self.peers(), min(self.fanout, n))
        for peer in sorted(chosen) if len(chosen) > 1 else chosen:
            if self.mode == "push":
                self._send_states(peer, list(digest), summary, want=[], reply=True)
            else:
                self.node.send(peer, "state.digest", (digest, summary),
                               HEADER_BYTES + digest_bytes)

    def _load_peers(self) -> tuple[Sequence[str], int, int]:
        """The replica neighbours as (a list, the index it skips, the number of peers), kept
        until the next start: the topology is fixed while the world runs, and a zone's view
        (which answers ``len`` and indexes in Python) is read through its shared member list,
        peer ``i`` being ``members[i + (i >= skip)]``."""
        peers = self.peers()
        members, skip = peers.skipping() if isinstance(peers, ZonePeers) else (peers, len(peers))
        self._peers = (members, skip, len(peers))
        return self._peers

    def _send_states(self, peer: str, keys: list[str], summary: Summary, want: list[str],
                     reply: bool = False) -> None:
        # (node.send itself, not Protocol.send: a call fewer on every message; the header is
        # added here instead)
        if not keys and not want:
            # The common answer once the news has spread: nothing to give, nothing asked.
            self.node.send(peer, "state.gossip", ({}, want, summary, reply),
                           _EMPTY_GOSSIP_BYTES)
            return
        held = self.replicator.states
        states = {}
        size = _EMPTY_GOSSIP_BYTES
        for k in keys:
            value = held.get(k)
            if value is not None:
                states[k] = value
                size += len(k) + value_size(value)
        for k in want:
            size += len(k)
        self.node.send(peer, "state.gossip", (states, want, summary, reply), size)

    def _on_digest(self, msg: Message) -> None:
        # (fields by index: a NamedTuple's named field is a descriptor call)
        theirs, their_summary = msg[3]
        view = self._memo
        if view[0] != self.replicator.version:
            view = self._view()
        mine, summary = view[1], view[2]
        # Always answer, even when nothing differs: the answer tells the peer we agree.
        if theirs == mine:  # the common case once the news has spread, compared in C
            # (_send_states with nothing to give or ask, written out)
            self.node.send(msg[0], "state.gossip", ({}, [], summary, False),
                           _EMPTY_GOSSIP_BYTES)
        else:
            # (a key differs when its (key, fingerprint) pair is on one side only)
            differ = sorted({k for k, _ in mine.items() ^ theirs.items()})
            give = [k for k in differ if k in mine]
            want = [k for k in differ if k in theirs] if self.mode == "push-pull" else []
            self._send_states(msg[0], give, summary, want)
        # Count the exchange towards confirming our summary, or start again on disagreement
        # (written out here and in _on_gossip: once per message).
        if summary != self._summary_now:
            self._summary_now, self.agreed = summary, 0
        self.agreed = self.agreed + 1 if their_summary == summary else 0

    def _on_gossip(self, msg: Message) -> None:
        states, want, their_summary, reply = msg[3]
        if states:
            src = msg[0]
            receive = self.replicator.receive  # (Protocol.store, without its call)
            for key in sorted(states) if len(states) > 1 else states:
                receive(key, states[key], src)
        view = self._memo
        if view[0] != self.replicator.version:
            view = self._view()
        summary = view[2]
        # (counted as in _on_digest)
        if summary != self._summary_now:
            self._summary_now, self.agreed = summary, 0
        self.agreed = self.agreed + 1 if their_summary == summary else 0
        if want or reply:
            # Send what was asked for. A push is answered with our summary, so the pusher
            # learns when we agree and stops pushing (without it, push would never go quiet).
            self._send_states(msg[0], want, summary, want=[])

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._peers = None
        self.agreed = 0
        self._summary_now = None
        self._memo = _NO_VIEW
        self._round_version = -1

    def crash(self) -> None:
        self._memo = _NO_VIEW  # the store is gone with the node's volatile state

    def pending(self) -> bool:
        _, digest, summary, _ = self._view()
        if not digest:
            return False
        return self.agreed < self.confirm or summary != self._summary_now
