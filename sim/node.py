"""A node: hosts components, routes messages to them by kind, and has a local clock.

The component contract
----------------------
A node hosts several components side by side (a replicator, a journal, an app). A component
is any object that, **in its constructor**, takes the node and registers what it needs:

* ``node.on_message(kind, handler)`` for each message kind it owns (a kind has one owner);
* ``node.on_start(hook)``: called at world start and again after every restart; initializes
  volatile state (from durable state if any);
* ``node.on_crash(hook)``: called when the node crashes, so the component drops references to
  volatile state it keeps outside ``node.volatile``;
* ``node.every(ticks, task)``: a periodic task run by the world's tick loop while the node is
  up;
* ``node.world.add_pending(fn)``: a quiescence hook returning True while the component still
  has work (e.g. unacknowledged retransmissions); the quiet phase waits for it.

State a component must survive a crash with goes in ``node.durable``; everything else in
``node.volatile`` (or its own fields, reset by its crash hook). Handlers and tasks stay
registered across crashes; they are simply not called while the node is down, and timers set
with :meth:`Node.after` before a crash never fire.

>>> from sim.world import World
>>> w = World(seed=1)
>>> a, b = w.add_node("a", "z"), w.add_node("b", "z")
>>> w.connect_zones("z", "z")
>>> got = []
>>> b.on_message("ping", lambda m: got.append((m.src, m.payload)))
>>> a.send("b", "ping", "hi", size=2)
True
>>> _ = w.run(duration="1s")
>>> got
[('a', 'hi')]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sim.errors import ConfigError, SimError

if TYPE_CHECKING:
    from sim.network import Message
    from sim.world import World

__all__ = ["Handler", "Node", "Routed", "ROUTED_PREFIX"]

Handler = Callable[["Message"], None]

#: Kind prefix of a routed message on each hop: ``via:ddata.write`` counts as its own kind.
ROUTED_PREFIX = "via:"


class Routed(NamedTuple):
    """A message travelling hop by hop to a node that is not a neighbour of its source."""

    src: str
    dst: str
    kind: str
    payload: Any
    size: int
    sent_at: float


class Node:
    """One simulated machine in a zone. Create nodes with :meth:`World.add_node`."""

    def __init__(self, world: World, node_id: str, zone: str) -> None:
        self.world = world
        self.id = node_id
        self.zone = zone
        self.up = True
        #: bumped at every restart; timers of an older incarnation never fire
        self.incarnation = 0
        self.volatile: dict[str, Any] = {}
        self.durable: dict[str, Any] = {}
        self._handlers: dict[str, Handler] = {}
        self._start_hooks: list[Callable[[], None]] = []
        self._crash_hooks: list[Callable[[], None]] = []
        self._components: dict[str, Any] = {}
        #: dst -> ``send(dst, kind, payload, size)`` of the link (filled in by the network when
        #: the link opens) or of the zone sender that serves the pair
        self._out: dict[str, Callable[[str, str, Any, int], bool]] = {}
        #: destination zone -> the network's zone sender ``send(dst, kind, payload, size)``, or
        #: None when pairs into that zone need links of their own (filled in on first use)
        self._zone_out: dict[str, Callable[[str, str, Any, int], bool] | None] = {}
        # local = base_local + (1 + drift) * (now - base_t)
        self._clock_base_t = 0.0
        self._clock_base_local = 0.0
        self._drift = 0.0

    def __repr__(self) -> str:
        return f"Node({self.id!r}, zone={self.zone!r}, up={self.up})"

    # -- wiring ----------------------------------------------------------------------------

    def on_message(self, kind: str, handler: Handler) -> None:
        """Route messages of ``kind`` to ``handler``; one handler per kind."""
        if kind in self._handlers:
            raise ConfigError(f"node {self.id}: message kind", "must have one handler", kind)
        self._handlers[kind] = handler

    def on_start(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` at world start and after each restart."""
        self._start_hooks.append(hook)

    def on_crash(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` when the node crashes."""
        self._crash_hooks.append(hook)

    def every(self, ticks: int, task: Callable[[], None], *, paused: bool = False) -> None:
        """Run ``task`` every ``ticks`` ticks while the node is up (tick 0 included).

        A task registered ``paused`` runs only once :meth:`resume` is called with it: one with
        nothing to do until something happens (a first subscriber) costs the tick loop nothing
        until then. Tasks run in node order and, within a node, in registration order, so a
        resumed task runs where it would have run had it never been paused (at ticks that are
        multiples of ``ticks``, as every task)."""
        if isinstance(ticks, bool) or not isinstance(ticks, int) or ticks < 1:
            raise ConfigError(f"node {self.id}: every", "must be a positive integer", ticks)
        self.world._add_task(self, ticks, task, paused)

    def resume(self, task: Callable[[], None]) -> None:
        """Let ``task``, registered with ``every(..., paused=True)``, run from the next tick on
        (a task that is not paused is left as it is)."""
        self.world._resume_task(self, task)

    def add_component(self, name: str, component: Any) -> Any:
        """Register ``component`` under ``name`` so other components can find it."""
        if name in self._components:
            raise ConfigError(f"node {self.id}: component", "must have a unique name", name)
        self._components[name] = component
        return component

    def component(self, name: str) -> Any:
        """The component installed under ``name``; :class:`SimError` if there is none."""
        try:
            return self._components[name]
        except KeyError:
            raise SimError(f"node {self.id} has no component {name!r}") from None

    # -- behaviour -------------------------------------------------------------------------

    def send(self, dst: str, kind: str, payload: Any = None, size: int = 0) -> bool:
        """Send a message to ``dst``; True if it was scheduled for delivery (not dropped)."""
        send = self._out.get(dst)
        if send is None:
            return self.world.network._send_new(self, dst, kind, payload, size)
        return send(dst, kind, payload, size)

    def send_routed(self, dst: str, kind: str, payload: Any = None, size: int = 0) -> bool:
        """Send to ``dst`` over a shortest path of the topology when it is not a neighbour.

        Each hop is an ordinary message of kind ``via:<kind>`` (counted, lost, duplicated and
        delayed like any other, with the two node ids added to its size); the node on the way
        forwards it, and ``dst`` receives it as if ``src`` had sent ``kind`` directly. Routes are
        fixed shortest paths (ties to the smallest id): a hop that is down or cut off drops it.
        """
        if self.world.topology.connected(self.id, dst):
            return self.send(dst, kind, payload, size)
        return self._forward_routed(Routed(self.id, dst, kind, payload, size, self.world.now))

    def _forward_routed(self, routed: Routed) -> bool:
        hop = self.world.topology.next_hop(self.id, routed.dst)
        if hop is None:
            raise SimError(f"send: no path from {self.id!r} to {routed.dst!r} in the topology")
        size = routed.size + len(routed.src) + len(routed.dst)
        return self.send(hop, ROUTED_PREFIX + routed.kind, routed, size)

    def _on_routed(self, msg: Message) -> None:
        routed: Routed = msg.payload
        if routed.dst != self.id:
            self._forward_routed(routed)
            return
        handler = self._handlers.get(routed.kind)
        if handler is None:
            raise SimError(f"node {self.id} has no handler for message kind {routed.kind!r}")
        handler(msg._replace(src=routed.src, kind=routed.kind, payload=routed.payload, size=routed.size,
                             sent_at=routed.sent_at))

    def neighbours(self) -> Sequence[str]:
        """Sorted ids of the nodes this node can send to (a list, or a view of a zone)."""
        return self.world.topology.neighbours(self.id)

    def after(self, delay: float, fn: Callable[[], object]) -> None:
        """Call ``fn`` after ``delay`` seconds unless the node crashes meanwhile; what it returns is ignored."""
        incarnation = self.incarnation

        def fire() -> None:
            if self.up and self.incarnation == incarnation:
                fn()

        self.world.schedule(delay, fire)

    def receive(self, msg: Message) -> None:
        """Called by the network for a message delivered to this (up) node."""
        handler = self._handlers.get(msg.kind)
        if handler is None:
            if msg.kind.startswith(ROUTED_PREFIX):
                self._on_routed(msg)
                return
            raise SimError(f"node {self.id} has no handler for message kind {msg.kind!r}")
        handler(msg)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Run the start hooks (when the world starts, and on every restart)."""
        for hook in self._start_hooks:
            hook()

    def crash(self) -> None:
        """Stop the node: volatile state is lost, durable state kept, crash hooks run."""
        if not self.up:
            raise SimError(f"node {self.id} is already down")
        self.up = False
        self.volatile.clear()
        for hook in self._crash_hooks:
            hook()

    def restart(self) -> None:
        """Bring a crashed node back and rerun its start hooks."""
        if self.up:
            raise SimError(f"node {self.id} is already up")
        self.up = True
        self.incarnation += 1
        self.start()

    # -- clock -----------------------------------------------------------------------------

    def local_time(self) -> float:
        """Simulated time as this node's clock reads it (skew and drift applied)."""
        now = self.world.now
        return self._clock_base_local + (1.0 + self._drift) * (now - self._clock_base_t)

    def set_clock(self, skew: float | None = None, drift: float | None = None) -> None:
        """Set the clock offset from true time now (``skew`` s) and/or its rate error.

        ``drift`` 0.01 makes the clock run 1% fast from now on; the reading stays continuous.
        """
        now = self.world.now
        local = self.local_time() if skew is None else now + skew
        if drift is not None:
            if not drift > -1.0:
                raise ConfigError(f"node {self.id}: drift", "must be greater than -1", drift)
            self._drift = float(drift)
        self._clock_base_t = now
        self._clock_base_local = local
