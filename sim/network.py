"""The network: link models, messages, and delivery as one scheduled event per message.

A message sent from ``src`` to ``dst`` is decided at send time:

1. the sender is down -> dropped, cause ``"node_down"``;
2. an active partition separates ``src`` from ``dst`` -> dropped, cause ``"partition"``
   (decided at send time: a message already in flight when a partition starts still arrives,
   as on a real network where the packet has left the switch);
3. the link's loss (or an active loss burst) draws a loss -> dropped, cause ``"loss"``;
4. otherwise one delivery event is scheduled after a latency drawn from the link's
   distribution (plus serialization time if the link has a bandwidth); with probability
   ``duplicate`` a second copy is scheduled with its own latency.

At delivery time a message to a node that is down is dropped with cause ``"node_down"``;
otherwise the handler registered for its kind is called with the message.

Links are never materialized as N² objects. A pair joined only by a zone channel, with a plain
model (no FIFO, no bandwidth) and no override or loss burst of its own, is served by one
*zone sender* per source node and destination zone: the pair then costs only its counters. Any
other pair gets a :class:`_Link` (resolved model, counters, FIFO and bandwidth state, bursts)
the first time it is used. Both draw from the sender's stream in the same order, so a run is
the same either way (``ZONE_SENDERS = False`` opens a link per pair; a test compares them).

Those draws (loss, latency, duplicate) come from one sequential stream per sender by default,
so removing a message shifts which later messages are lost. With keyed draws
(:meth:`Network.set_draws`, ``links: {draws: keyed}`` in a scenario) every pair has a
:class:`~sim.rng.KeyedRandom` instead: a draw is a hash of the run seed, the pair, the send time
and the draw's ordinal among the pair's draws at that time, whatever was sent before; that is
what lets ``crdtsim hunt`` remove a write without changing the luck of every later message.
Keyed mode opens a :class:`_Link` per pair (a zone sender's stream is its sender's, shared by
its destinations), so it costs a link's memory per pair used and a hash per draw; the default
mode is untouched.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from heapq import heappop, heappush
from math import log as _log
from typing import TYPE_CHECKING, Any, NamedTuple

import simpy
from simpy.events import NORMAL

from sim import eventloop
from sim.deprecation import renamed
from sim.distributions import Constant, Distribution, Exponential, distribution_from_spec
from sim.errors import ConfigError, SimError
from sim.metrics import KindCounters, LinkCounters, Metrics
from sim.rng import keyed_pair_rng
from sim.trace import (
    DELIVER,
    RECORD_NAMES,
    SINK_BATCH,
    Trace,
    pack_deliver,
    pack_send,
    record_name,
    send_head,
)
from sim.units import parse_bandwidth, parse_probability

if TYPE_CHECKING:
    import random

    from sim.node import Node
    from sim.topology import Topology

__all__ = ["Cut", "LinkModel", "Message", "Network"]


@dataclass(frozen=True, slots=True)
class LinkModel:
    """How one directed link behaves.

    >>> LinkModel.from_data({"latency": "5ms", "loss": 0.1, "fifo": True}).loss
    0.1
    >>> LinkModel(loss=1.5)
    Traceback (most recent call last):
    ...
    sim.errors.ConfigError: loss must be a probability in [0, 1], found 1.5
    """

    latency: Distribution = field(default_factory=lambda: Constant(0.0))
    loss: float = 0.0
    duplicate: float = 0.0
    fifo: bool = False
    #: bytes per second; None means serialization takes no time
    bandwidth: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency", distribution_from_spec(self.latency, "latency"))
        object.__setattr__(self, "loss", parse_probability(self.loss, "loss"))
        object.__setattr__(self, "duplicate", parse_probability(self.duplicate, "duplicate"))
        if not isinstance(self.fifo, bool):
            raise ConfigError("fifo", "must be true or false", self.fifo)
        if self.bandwidth is not None:
            object.__setattr__(self, "bandwidth", parse_bandwidth(self.bandwidth, "bandwidth"))

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | LinkModel) -> LinkModel:
        """Deprecated name of :meth:`from_data`."""
        renamed("LinkModel.from_spec", "LinkModel.from_data")
        return cls.from_data(spec)

    @classmethod
    def from_data(cls, spec: Mapping[str, Any] | LinkModel) -> LinkModel:
        """Build from a mapping with keys latency, loss, duplicate, fifo, bandwidth (a model is returned as is)."""
        if isinstance(spec, LinkModel):
            return spec
        if not isinstance(spec, Mapping):
            raise ConfigError("link", "must be a mapping", spec)
        allowed = ("bandwidth", "duplicate", "fifo", "latency", "loss")
        for key in sorted(spec):
            if key not in allowed:
                raise ConfigError("link", f"accepts only keys {list(allowed)}", key)
        return cls(**spec)


class Message(NamedTuple):
    """An opaque, immutable message on the wire. ``size`` is in bytes; ``copy`` is 1 for a
    duplicate.

    A NamedTuple rather than a frozen dataclass: it is just as immutable and has no
    ``__dict__``, and building one costs 0.26 us against 1.5 us for a frozen slotted dataclass
    (whose ``__init__`` goes through ``object.__setattr__`` per field) -- on the hot path that
    was the largest single cost per message.
    """

    src: str
    dst: str
    kind: str
    payload: Any
    size: int
    id: int
    sent_at: float
    copy: int = 0


@dataclass(frozen=True, slots=True)
class Cut:
    """An active partition. ``groups`` (symmetric) maps node -> group index; nodes not listed
    form one more implicit group. ``one_way`` blocks every pair (src in srcs, dst in dsts)."""

    label: str
    groups: Mapping[str, int] = field(default_factory=dict)
    srcs: frozenset[str] = frozenset()
    dsts: frozenset[str] = frozenset()

    def blocks(self, src: str, dst: str) -> bool:
        if self.groups:
            return self.groups.get(src, -1) != self.groups.get(dst, -1)
        return src in self.srcs and dst in self.dsts


_new_message = tuple.__new__

#: Deliveries are pushed straight onto SimPy's event heap with the key ``(time, NORMAL, eid)``
#: that ``Environment.schedule`` would use, skipping two calls per message. That relies on
#: SimPy internals (``env._queue``, ``env._eid``, ``Environment.step``), so the SimPy version
#: is pinned in pyproject.toml, and tests/sim/test_network_fast_path.py runs worlds with this
#: set to False (every delivery through the public ``Environment.schedule``) and compares
#: them with the fast path event by event. Read when a network is built.
HEAP_FAST_PATH = True
#: Pairs joined by a zone channel go through a shared zone sender (see the module docstring);
#: False opens a :class:`_Link` for every pair, as tests/sim/test_network_fast_path.py does to
#: compare the two event by event. Read when a network is built.
ZONE_SENDERS = True
#: how many of a node's zone-sender pairs its ``Node._out`` keeps bound to their destination
ZONE_PAIRS_CACHED = 16


class _Delivery:
    """The smallest object SimPy's ``Environment.step`` accepts as an event.

    ``step`` only reads ``callbacks`` (then sets it to None), iterates it, and reads ``_ok``
    (and ``_value`` on failure). ``callbacks`` is the link's shared one-element tuple; ``kc``
    carries a link's kind counters so delivery needs no dict lookup.

    Once its callback has run, nothing refers to the event any more (SimPy has popped its heap
    entry and only reads ``_ok``, a class attribute, afterwards), so the network keeps it for a
    later send instead of allocating one per message: allocating and freeing it cost a third
    of the message's own work. A kept event still refers to its last message until reused.
    """

    __slots__ = ("callbacks", "_value", "kc", "dest")
    _ok = True  # a class attribute: one store less per message
    callbacks: tuple[Callable[[Any], None], ...] | None
    _value: Message
    kc: KindCounters
    #: the receiver's (cell index, handler) by kind (cells: see :class:`sim.metrics.Metrics`)
    #: and its node, set by zone senders only (a link's callback has its own counters)
    dest: tuple[dict[str, tuple[int, Any]], Node]


class _Link:
    """Lazily created state of one directed link.

    ``send`` and ``callbacks`` are closures built by :meth:`Network._bind` whenever the model
    changes: everything the hot path reads is a closure variable, not an attribute. ``send``
    takes the destination like a zone sender does, so a node's ``_out`` holds either as is.
    """

    __slots__ = ("src", "dst", "model", "rng", "stats", "last_delivery", "free_at", "bursts",
                 "sample", "src_node", "dst_node", "send", "callbacks")

    def __init__(self, src: str, dst: str, model: LinkModel, rng: random.Random,
                 stats: LinkCounters, src_node: Node, dst_node: Node) -> None:
        self.src = src
        self.dst = dst
        self.src_node = src_node
        self.dst_node = dst_node
        self.rng = rng
        self.stats = stats
        self.last_delivery = 0.0
        self.free_at = 0.0
        #: (start, end, loss) windows of loss bursts; mutated in place (closures hold it)
        self.bursts: list[tuple[float, float, float]] = []
        self.model = model
        self.sample = _sampler(model.latency, rng)
        #: ``send(dst, kind, payload, size)``, the signature of a zone sender (``dst`` is this link's)
        self.send: Callable[[str, str, Any, int], bool]
        self.callbacks: tuple[Callable[[Any], None], ...]

    def loss_at(self, now: float) -> float:
        loss = self.model.loss
        for start, end, burst in self.bursts:
            if start <= now < end and burst > loss:
                loss = burst
        return loss


def _sampler(dist: Distribution, rng: random.Random) -> Callable[[], float]:
    """A zero-argument latency sampler bound to ``rng`` (saves two calls per message)."""
    if isinstance(dist, Constant):
        value = dist.value
        return lambda: value
    if isinstance(dist, Exponential):
        rnd, mean, minimum = rng.random, dist.mean, dist.minimum
        # The inverse CDF, as random.expovariate computes it.
        return lambda: minimum - mean * _log(1.0 - rnd())
    return partial(dist.sample, rng)


class Network:
    """Moves messages between the nodes of one world.

    Model resolution for a directed link, first match wins: per-link override, zone-pair
    override, the channel type of the topology edge, the default model.
    """

    def __init__(self, env: simpy.Environment, nodes: Mapping[str, Node], topology: Topology,
                 metrics: Metrics, trace: Trace, rng: Callable[[str], random.Random],
                 default: LinkModel | None = None) -> None:
        self._env = env
        # SimPy's heap and id counter, used directly by the delivery fast path.
        self._queue: list[Any] = env._queue
        self._eid = env._eid
        self._nodes = nodes
        self._topology = topology
        self._metrics = metrics
        self._trace = trace
        # The mode is fixed at construction, so the hot path reads a local flag.
        self._tracing = trace.enabled
        self._rng = rng
        self.default = default or LinkModel()
        self._channel_models: dict[str, LinkModel] = {}
        self._zone_models: dict[tuple[str, str], LinkModel] = {}
        self._link_models: dict[tuple[str, str], LinkModel] = {}
        self._links: dict[tuple[str, str], _Link] = {}
        # Mutated in place, never rebound: the send closures test this list's truthiness.
        self._cuts: list[Cut] = []
        self._ids = itertools.count(1)
        # Delivered events, reused by later sends (see _Delivery); mutated, never rebound.
        self._free: list[_Delivery] = []
        # delivery events ever made (see in_flight)
        self._deliveries = 0
        self._zone_senders = ZONE_SENDERS
        #: the keyed stream of a pair, (src, dst) -> rng, in keyed mode (see set_draws); None: the
        #: sender's sequential stream
        self._pair_rng: Callable[[str, str], random.Random] | None = None
        self._binder, self._bind_zone, self._run_events = _binder(self)

    def run_events(self, until: float | None = None) -> None:
        """Process the world's events until the clock reaches ``until`` (None: until no event
        is left), as :func:`sim.eventloop.run` does, with the zone deliveries done in the loop
        itself (see :func:`_binder`). The world's run loop advances the clock with it."""
        self._run_events(until)

    @property
    def in_flight(self) -> int:
        """Copies scheduled for delivery and not yet delivered or dropped.

        Every scheduled copy is one :class:`_Delivery` event, and every event that has run is
        kept for reuse, so the events made and not kept are those in flight: O(1), where summing
        the counters (``sent + duplicated - delivered - dropped``, the same number) walks every
        node's cells, which the quiet phase would pay once per tick.
        """
        return self._deliveries - len(self._free)

    def _new_delivery(self) -> _Delivery:
        """A new delivery event, counted for :attr:`in_flight` (only when none is free)."""
        self._deliveries += 1
        return _Delivery()

    # -- configuration ---------------------------------------------------------------------

    def define_channel(self, name: str, model: LinkModel) -> None:
        """Name a channel type (e.g. ``"wan"``) that topology edges can refer to."""
        self._channel_models[name] = model
        self._refresh()

    def has_channel(self, name: str) -> bool:
        return name in self._channel_models

    def set_default(self, model: LinkModel) -> None:
        self.default = model
        self._refresh()

    def set_draws(self, mode: str, seed: int) -> None:
        """Where links draw loss, latency and duplicates from: ``"sequential"`` (the default:
        the sender's stream, in send order) or ``"keyed"`` (a hash per draw of ``seed``, the
        pair, the send time and the ordinal among the pair's draws at that time; see the module
        docstring). Links already open are re-drawn from the new source."""
        if mode not in DRAWS:
            raise ConfigError("draws", f"must be one of {list(DRAWS)}", mode)
        env = self._env
        self._pair_rng = None if mode == "sequential" else partial(_keyed, seed, env)
        self._zone_senders = ZONE_SENDERS and self._pair_rng is None
        for node in self._nodes.values():
            self._forget_zone_pairs(node)
        for (src, dst), link in self._links.items():
            link.rng = self._link_rng(src, dst)
            self._set_model(link, link.model)

    @property
    def draws(self) -> str:
        """``"sequential"`` or ``"keyed"``: see :meth:`set_draws`."""
        return "sequential" if self._pair_rng is None else "keyed"

    def _link_rng(self, src: str, dst: str) -> random.Random:
        # One stream per sending node: a Mersenne Twister is 2.5 KB, so a stream per directed
        # link would cost gigabytes on large worlds; per sender still keeps nodes independent.
        return self._rng(f"net:{src}") if self._pair_rng is None else self._pair_rng(src, dst)

    def set_zone_model(self, zone_a: str, zone_b: str, model: LinkModel) -> None:
        """Override the model of every link between two zones (both directions)."""
        self._zone_models[(zone_a, zone_b)] = model
        self._zone_models[(zone_b, zone_a)] = model
        self._refresh()

    def _forget_zone_pairs(self, node: Node) -> None:
        """Drop ``node``'s zone senders and the pairs bound to them (the models changed)."""
        node._zone_out.clear()
        links = self._links
        for dst in [d for d in node._out if (node.id, d) not in links]:
            del node._out[dst]

    def set_link_model(self, src: str, dst: str, model: LinkModel) -> None:
        """Override the model of the directed link ``src -> dst``."""
        self._link_models[(src, dst)] = model
        node = self._nodes.get(src)
        if node is not None and (src, dst) not in self._links:
            node._out.pop(dst, None)  # a zone pair: it now needs a link of its own
        link = self._links.get((src, dst))
        if link is not None:
            self._set_model(link, model)

    def model_for(self, src: str, dst: str) -> LinkModel:
        """The resolved model of ``src -> dst`` (link > zone pair > channel type > default)."""
        model = self._link_models.get((src, dst))
        if model is not None:
            return model
        topo = self._topology
        model = self._zone_models.get((topo.zone_of(src), topo.zone_of(dst)))
        if model is not None:
            return model
        channel = topo.channel(src, dst)
        if channel is not None:
            model = self._channel_models.get(channel)
            if model is None:
                raise ConfigError(f"channel between {src} and {dst}", "must be defined", channel)
            return model
        return self.default

    def _refresh(self) -> None:
        for node in self._nodes.values():
            self._forget_zone_pairs(node)
        for (src, dst), link in self._links.items():
            model = self.model_for(src, dst)
            if model is not link.model:
                self._set_model(link, model)

    def _set_model(self, link: _Link, model: LinkModel) -> None:
        link.model = model
        link.sample = _sampler(model.latency, link.rng)
        self._bind(link)

    def _open(self, src: str, dst: str) -> _Link:
        if src not in self._nodes:
            raise SimError(f"send: unknown source node {src!r}")
        if dst not in self._nodes:
            raise SimError(f"send: unknown destination node {dst!r}")
        if not self._topology.connected(src, dst):
            raise SimError(f"send: no channel from {src!r} to {dst!r} in the topology")
        link = _Link(src, dst, self.model_for(src, dst), self._link_rng(src, dst),
                     self._metrics.link(src, dst), self._nodes[src], self._nodes[dst])
        self._links[(src, dst)] = link
        self._bind(link)
        return link

    # -- faults ----------------------------------------------------------------------------

    def add_cut(self, cut: Cut) -> None:
        self._cuts.append(cut)

    def remove_cut(self, label: str) -> None:
        self._cuts[:] = [c for c in self._cuts if c.label != label]

    @property
    def cuts(self) -> tuple[Cut, ...]:
        return tuple(self._cuts)

    def heal(self) -> None:
        """Remove every partition and loss burst."""
        self._cuts.clear()
        for link in self._links.values():
            link.bursts.clear()

    def partitioned(self, src: str, dst: str) -> bool:
        return any(c.blocks(src, dst) for c in self._cuts)

    def loss_burst(self, src: str, dst: str, start: float, end: float, loss: float = 1.0) -> None:
        """Raise the loss of ``src -> dst`` to ``loss`` during ``[start, end)``."""
        link = self._links.get((src, dst)) or self._open(src, dst)
        link.bursts.append((start, end, parse_probability(loss, "loss_burst.loss")))

    # -- hot path --------------------------------------------------------------------------

    def send(self, src: str, dst: str, kind: str, payload: Any = None, size: int = 0) -> bool:
        """Send a message; True if at least one copy was scheduled for delivery."""
        node = self._nodes.get(src)
        if node is None:
            return self._open(src, dst).send(dst, kind, payload, size)
        sender = node._out.get(dst)
        if sender is not None:
            return sender(dst, kind, payload, size)
        return self._send_new(node, dst, kind, payload, size)

    def _send_new(self, node: Node, dst: str, kind: str, payload: Any, size: int) -> bool:
        """:meth:`send` from ``node`` to a destination its ``_out`` does not hold (yet): through
        the zone sender from ``node`` to ``dst``'s zone, unless the pair needs a link of its own
        (a graph edge, an override, a FIFO or bandwidth model, no zone channel, a send to
        itself). In a large zone most sends come here (``_out`` keeps a node's first few pairs
        only), so the lookups are inlined."""
        zone_sender = None
        if self._zone_senders:
            dst_zone = self._topology._zone_of.get(dst)
            if dst_zone is not None and dst != node.id and not (
                    self._link_models and (node.id, dst) in self._link_models):
                adjacent = self._topology._adj.get(node.id)
                if adjacent is None or dst not in adjacent:
                    zone_sender = node._zone_out.get(dst_zone, _UNSET)
                    if zone_sender is _UNSET:
                        zone_sender = node._zone_out[dst_zone] = self._new_zone_sender(node, dst_zone)
        if zone_sender is None:
            return self._open(node.id, dst).send(dst, kind, payload, size)
        if len(node._out) < ZONE_PAIRS_CACHED:
            # A node's first few pairs skip the lookups above from now on (a dict entry each;
            # a large world's many pairs per node are not worth it).
            node._out[dst] = zone_sender
        return zone_sender(dst, kind, payload, size)

    def _new_zone_sender(self, node: Node, dst_zone: str) -> Callable[[str, str, Any, int], bool] | None:
        pair = (node.zone, dst_zone)
        topo = self._topology
        if pair not in topo._zone_channels:
            return None
        model = self._zone_models.get(pair)
        if model is None:
            channel = topo._zone_channels[pair]
            if channel is not None and channel not in self._channel_models:
                return None  # the link reports the undefined channel
            model = self.default if channel is None else self._channel_models[channel]
        if model.fifo or model.bandwidth is not None:
            return None
        return self._bind_zone(node, model, self._rng(f"net:{node.id}"))

    def _bind(self, link: _Link) -> None:
        """(Re)build ``link.send`` and its delivery callback; see :func:`_binder`."""
        self._binder(link)

    def _schedule(self, link: _Link, msg: Message, now: float, kc: KindCounters) -> None:
        """The general path: FIFO clamp, bandwidth queue, a check that the time is finite."""
        delay = link.sample()
        bandwidth = link.model.bandwidth
        if bandwidth is not None:
            # The link transmits one message at a time: wait for it, then serialize.
            start = max(now, link.free_at)
            link.free_at = start + msg.size / bandwidth
            delay += link.free_at - now
        at = now + delay
        if link.model.fifo:
            # Never overtake an earlier message; equal times keep send order (heap eid).
            if at < link.last_delivery:
                at = link.last_delivery
            link.last_delivery = at
        if not math.isfinite(at):
            raise SimError(f"latency draw on {link.src}->{link.dst} is not finite: {delay}")
        free = self._free
        event = free.pop() if free else self._new_delivery()
        event.callbacks = link.callbacks
        event._value = msg
        event.kc = kc
        if HEAP_FAST_PATH:
            heappush(self._queue, (at, NORMAL, next(self._eid), event))
        else:
            self._env.schedule(event, NORMAL, at - now)  # type: ignore[arg-type]

    def _drop(self, kind: str, msg_id: int, copy: int, link: _Link, cause: str) -> None:
        self._drop_pair(link.src, link.dst, link.stats, kind, msg_id, copy, cause)

    def _drop_pair(self, src: str, dst: str, stats: LinkCounters | None, kind: str, msg_id: int,
                   copy: int, cause: str) -> None:
        """Count and trace a drop; ``stats`` is None for a pair with no link counters."""
        self._metrics.dropped[cause] += 1
        if stats is not None:
            dropped = stats.dropped
            dropped[cause] = dropped.get(cause, 0) + 1
        if self._tracing:
            self._trace.drop(src, dst, kind, msg_id, copy, cause)


_UNSET: Any = object()

#: the values of :meth:`Network.set_draws` (and of a scenario's ``links.draws``)
DRAWS = ("sequential", "keyed")


def _keyed(seed: int, env: simpy.Environment, src: str, dst: str) -> random.Random:
    """The keyed stream of ``src -> dst``, its draws keyed by the simulated time."""
    return keyed_pair_rng(seed, src, dst, lambda: env._now)


def _nothing() -> None:
    """A flush for no sink."""


def _binder(net: Network) -> tuple[Callable[[_Link], None],
                                   Callable[[Node, LinkModel, random.Random],
                                            Callable[[str, str, Any, int], bool]],
                                   Callable[[float | None], None]]:
    """The functions that build a link's ``send`` and delivery callback, and a zone sender.

    Called when a link is opened and whenever its model changes. Network-wide values are
    variables of this outer scope, shared by the closures of every link; the link's own values
    are default arguments of the two functions. The per-message work is then local reads and
    attribute increments: no dict lookup for the link's or the kind's counters at delivery, no
    partition scan unless a cut is active, no trace call when the trace is off, and one
    :class:`_Delivery` pushed straight on SimPy's heap with the key ``(time, NORMAL, eid)``
    that ``Environment.schedule`` would use.
    """
    env = net._env
    queue = net._queue
    eid = net._eid
    ids = net._ids
    metrics = net._metrics
    kinds = metrics.link_kinds
    kind_counters = metrics.kind
    cuts = net._cuts
    partitioned = net.partitioned
    tracing = net._tracing
    link_events = net._trace.link_events
    drop = net._drop
    schedule = net._schedule
    new_event = net._new_delivery
    free = net._free
    reuse = free.pop
    recycle = free.append
    new_message = _new_message
    normal = NORMAL
    fast = HEAP_FAST_PATH
    sink_batch = SINK_BATCH
    deliver_tag = DELIVER
    names = RECORD_NAMES
    name = record_name
    schedule_public = env.schedule
    # In digest mode deliveries append their record to the trace's list directly.
    digest_sink = net._trace.sink()
    direct = digest_sink is not None
    sink, sink_flush = digest_sink if digest_sink is not None else ([], _nothing)
    sink_append = sink.append

    def bind(link: _Link) -> None:
        src, dst = link.src, link.dst
        src_node, dst_node = link.src_node, link.dst_node
        stats = link.stats
        bursts = link.bursts
        model = link.model
        loss = model.loss
        duplicate = model.duplicate
        rnd = link.rng.random
        sample = link.sample
        # plain: no FIFO clamp and no bandwidth queue, the common fast path
        plain = not model.fifo and model.bandwidth is None
        latency = model.latency
        exponential = isinstance(latency, Exponential)
        mean = latency.mean if isinstance(latency, Exponential) else 0.0
        minimum = latency.minimum if isinstance(latency, Exponential) else 0.0
        trace_send, trace_deliver = link_events(src, dst) if tracing else (None, None)

        # Per-link values are default arguments, not closure cells: they sit in one tuple per
        # function instead of one heap object each, which keeps a large world's hot data
        # compact (measured: cells cost 15% wall time and 60 MB at 10k nodes). Network-wide
        # values are cells of the enclosing scope, shared by every link.
        def deliver(event: _Delivery, src: str = src, dst: str = dst, dst_node: Node = dst_node,
                    stats: LinkCounters = stats, link: _Link = link,
                    trace_deliver: Any = trace_deliver) -> None:
            msg: Message = event._value
            if not dst_node.up:
                recycle(event)
                drop(msg.kind, msg.id, msg.copy, link, "node_down")
                return
            size = msg[4]  # fields by index: see deliver_zone
            stats.delivered += 1
            stats.bytes_delivered += size
            kc = event.kc
            kc.delivered += 1
            kc.bytes_delivered += size
            if tracing:
                if not direct:
                    trace_deliver(env._now, msg.kind, msg.id, msg.copy, msg.sent_at)
                else:
                    # No batch test here: a delivery follows its send, whose test bounds the
                    # list to a batch plus the messages in flight.
                    sink_append(pack_deliver(deliver_tag, env._now, msg[5], msg[7]))
            handler = dst_node._handlers.get(msg[2])
            if handler is None:
                dst_node.receive(msg)  # raises the "no handler" error
            else:
                handler(msg)
            recycle(event)

        callbacks = (deliver,)

        def send(to: str, kind: str, payload: Any = None, size: int = 0, src: str = src, dst: str = dst,
                 src_node: Node = src_node, stats: LinkCounters = stats,
                 bursts: list[tuple[float, float, float]] = bursts, loss: float = loss,
                 duplicate: float = duplicate, rnd: Callable[[], float] = rnd,
                 sample: Callable[[], float] = sample, plain: bool = plain,
                 exponential: bool = exponential, mean: float = mean, minimum: float = minimum,
                 link: _Link = link, callbacks: tuple[Callable[[Any], None], ...] = callbacks,
                 trace_send: Any = trace_send) -> bool:
            now = env._now
            msg_id = next(ids)
            # Totals are summed from the per-kind counters when read, not counted here.
            stats.sent += 1
            stats.bytes_sent += size
            kc = kinds.get(kind) or kind_counters(kind)
            kc.sent += 1
            kc.bytes_sent += size
            if tracing:
                trace_send(now, kind, msg_id, size)
            if not src_node.up:
                drop(kind, msg_id, 0, link, "node_down")
                return False
            if cuts and partitioned(src, dst):
                drop(kind, msg_id, 0, link, "partition")
                return False
            p = link.loss_at(now) if bursts else loss
            if p and rnd() < p:
                drop(kind, msg_id, 0, link, "loss")
                return False
            msg = new_message(Message, (src, dst, kind, payload, size, msg_id, now, 0))
            if plain:
                event = reuse() if free else new_event()
                event.callbacks = callbacks
                event._value = msg
                event.kc = kc
                # Same float expression as the sampler (the digest depends on it).
                delay = (minimum - mean * _log(1.0 - rnd())) if exponential else sample()
                if fast:
                    heappush(queue, (now + delay, normal, next(eid), event))
                else:
                    schedule_public(event, normal, delay)  # type: ignore[arg-type]
            else:
                schedule(link, msg, now, kc)
            if duplicate and rnd() < duplicate:
                metrics.duplicated += 1
                stats.duplicated += 1
                schedule(link, msg._replace(copy=1), now, kc)
            return True

        link.callbacks = callbacks
        link.send = send
        src_node._out[dst] = send

    nodes = net._nodes
    new_node_counters = metrics.node
    node_cell = metrics.cell
    # the cells' columns (mutated in place by the metrics, never rebound)
    cell_sent, cell_bytes_sent, cell_delivered, cell_bytes_delivered = metrics.columns
    # receiver -> (kind -> (its cell index, its handler), its node): the delivery needs both,
    # and finds them on the event with one lookup
    dests: dict[str, tuple[dict[str, tuple[int, Any]], Node]] = {}

    def new_dest(dst: str) -> tuple[dict[str, tuple[int, Any]], Node]:
        new_node_counters(dst)  # (a receiver is listed in the metrics from its first message on)
        dest = dests[dst] = ({}, nodes[dst])
        return dest

    def new_receiver(receivers: dict[str, tuple[int, Any]], node: Node, kind: str) -> tuple[int, Any]:
        """The receiver's cell for ``kind`` and its handler, kept once the handler exists
        (a node's handlers are only ever added, never replaced)."""
        found = (node_cell(node.id, kind), node._handlers.get(kind))
        if found[1] is not None:
            receivers[kind] = found
        return found
    drop_pair = net._drop_pair
    pair_events = net._trace.pair_events

    def deliver_zone(event: _Delivery) -> None:
        """The delivery callback of every zone sender: the pair comes from the message.
        ``run_events`` does the same work without the call (keep the two the same)."""
        msg: Message = event._value
        receivers, dst_node = event.dest
        if not dst_node.up:
            recycle(event)
            drop_pair(msg.src, msg.dst, None, msg.kind, msg.id, msg.copy, "node_down")
            return
        # Fields by index: a NamedTuple's named field is a descriptor call each (3.11 does not
        # specialize it), an index is a plain subscript. 2 kind, 4 size, 5 id, 7 copy.
        size = msg[4]
        kind = msg[2]
        # The receiver's cell is its per-node and (summed when read) per-kind count.
        cell, handler = receivers.get(kind) or new_receiver(receivers, dst_node, kind)
        cell_delivered[cell] += 1
        cell_bytes_delivered[cell] += size
        if tracing:
            if not direct:
                trace_deliver_zone(env._now, msg)
            else:
                sink_append(pack_deliver(deliver_tag, env._now, msg[5], msg[7]))  # (see deliver)
        if handler is None:
            dst_node.receive(msg)  # raises the "no handler" error
        else:
            handler(msg)
        recycle(event)

    zone_callbacks = (deliver_zone,)
    trace_deliver_zone: Any = net._trace.message_events() if tracing else None
    until_event, raise_failure, ran_out = eventloop.until_event, eventloop.raise_failure, eventloop.ran_out

    def run_events(until: float | None = None) -> None:
        """:func:`sim.eventloop.run` for the network's world, with each zone delivery done in
        the loop itself: the body of ``deliver_zone``, without its call (a frame per message,
        measured at 7 % of the message's cost). Every other event is run as ``eventloop.run``
        runs it; with ``eventloop.INLINE_LOOP`` false, all go through SimPy's ``env.run``
        (and so through ``deliver_zone``: tests/sim/test_eventloop.py compares the two)."""
        if not eventloop.INLINE_LOOP:
            env.run(until=until)
            return
        stop = until_event(env, until)
        pop = heappop
        while queue:
            env._now, _, _, event = pop(queue)
            callbacks = event.callbacks
            if callbacks is zone_callbacks:
                # deliver_zone, inlined (keep the two the same)
                msg: Message = event._value
                receivers, dst_node = event.dest
                if not dst_node.up:
                    recycle(event)
                    drop_pair(msg.src, msg.dst, None, msg.kind, msg.id, msg.copy, "node_down")
                    continue
                size = msg[4]
                kind = msg[2]
                cell, handler = receivers.get(kind) or new_receiver(receivers, dst_node, kind)
                cell_delivered[cell] += 1
                cell_bytes_delivered[cell] += size
                if tracing:
                    if not direct:
                        trace_deliver_zone(env._now, msg)
                    else:
                        sink_append(pack_deliver(deliver_tag, env._now, msg[5], msg[7]))
                if handler is None:
                    dst_node.receive(msg)  # raises the "no handler" error
                else:
                    handler(msg)
                recycle(event)
                continue
            if event is stop:
                return
            event.callbacks = None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                raise_failure(event)
        ran_out(stop)

    def push(at: float, msg: Message, dest: tuple[dict[str, tuple[int, Any]], Node]) -> None:
        """Schedule a duplicate as a link's general path does (``_schedule``)."""
        event = reuse() if free else new_event()
        event.callbacks = zone_callbacks
        event._value = msg
        event.dest = dest
        if fast:
            heappush(queue, (at, normal, next(eid), event))
        else:
            schedule_public(event, normal, at - env._now)  # type: ignore[arg-type]

    def bind_zone(src_node: Node, model: LinkModel,
                  rng: random.Random) -> Callable[[str, str, Any, int], bool]:
        """A send function from ``src_node`` to any node of one zone over plain ``model``:
        the same checks, draws and records, in the same order, as a link's ``send``."""
        src = src_node.id
        loss = model.loss
        duplicate = model.duplicate
        rnd = rng.random
        latency = model.latency
        exponential = isinstance(latency, Exponential)
        mean = latency.mean if isinstance(latency, Exponential) else 0.0
        minimum = latency.minimum if isinstance(latency, Exponential) else 0.0
        sample = _sampler(latency, rng)
        trace_send = pair_events(src) if tracing else None
        src_head = send_head(src)
        # the sender's cell indices by kind: its per-node and (summed when read) per-kind counts
        cells = new_node_counters(src)

        def send(dst: str, kind: str, payload: Any = None, size: int = 0, src: str = src,
                 src_node: Node = src_node, loss: float = loss, duplicate: float = duplicate,
                 rnd: Callable[[], float] = rnd, sample: Callable[[], float] = sample,
                 exponential: bool = exponential, mean: float = mean, minimum: float = minimum,
                 trace_send: Any = trace_send, cells: dict[str, int] = cells,
                 src_head: bytes = src_head) -> bool:
            now = env._now
            msg_id = next(ids)
            cell = cells.get(kind) or node_cell(src, kind)
            cell_sent[cell] += 1
            cell_bytes_sent[cell] += size
            if tracing:
                if not direct:
                    trace_send(now, dst, kind, msg_id, size)
                else:
                    sink_append(src_head + (names.get(dst) or name(dst)) + (names.get(kind) or name(kind))
                                + pack_send(now, msg_id, size))
                    if len(sink) >= sink_batch:
                        sink_flush()
            if not src_node.up:
                drop_pair(src, dst, None, kind, msg_id, 0, "node_down")
                return False
            if cuts and partitioned(src, dst):
                drop_pair(src, dst, None, kind, msg_id, 0, "partition")
                return False
            if loss and rnd() < loss:
                drop_pair(src, dst, None, kind, msg_id, 0, "loss")
                return False
            dest = dests.get(dst) or new_dest(dst)
            msg = new_message(Message, (src, dst, kind, payload, size, msg_id, now, 0))
            # Same float expression as the sampler (the digest depends on it).
            delay = (minimum - mean * _log(1.0 - rnd())) if exponential else sample()
            event = reuse() if free else new_event()
            event.callbacks = zone_callbacks
            event._value = msg
            event.dest = dest
            if fast:
                heappush(queue, (now + delay, normal, next(eid), event))
            else:
                schedule_public(event, normal, delay)  # type: ignore[arg-type]
            if duplicate and rnd() < duplicate:
                metrics.duplicated += 1
                delay = sample()
                if not math.isfinite(delay):
                    raise SimError(f"latency draw on {src}->{dst} is not finite: {delay}")
                push(now + delay, msg._replace(copy=1), dest)
            return True

        return send

    return bind, bind_zone, run_events
