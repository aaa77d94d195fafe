"""Fault schedules: timed partitions, crashes, restarts, clock changes and loss bursts.

Times (``at``) are seconds from the start of the workload phase. A schedule is validated
against the world before the run: unknown nodes or zones, a partition group naming a node
twice, crashing a node that is down or restarting a node that is up (found by replaying the
up/down sequence), or a fault after the end of the workload phase raise ConfigError.

>>> s = FaultSchedule([Crash(1.0, "a"), Restart(2.0, "a")])
>>> [type(f).__name__ for f in s]
['Crash', 'Restart']
>>> fault_from_spec({"at": "1s", "partition": [["a"], ["b"]], "duration": "500ms"})
Partition(at=1.0, groups=(('a',), ('b',)), duration=0.5)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.errors import ConfigError
from sim.network import Cut
from sim.units import parse_duration, parse_probability

if TYPE_CHECKING:
    from sim.world import World

__all__ = [
    "ClockChange", "Crash", "Fault", "FaultSchedule", "Heal", "Isolate", "LossBurst", "OneWay",
    "Partition", "Restart", "apply_fault", "fault_from_spec", "random_schedule",
]


def _at(value: Any) -> float:
    return parse_duration(value, "fault.at")


def _duration(value: Any) -> float | None:
    return None if value is None else parse_duration(value, "fault.duration")


@dataclass(frozen=True, slots=True)
class Partition:
    """Symmetric partition: nodes (or zones) in different groups cannot talk; nodes not
    listed form one more group. Lasts ``duration`` seconds, or until the next Heal."""

    at: float
    groups: tuple[tuple[str, ...], ...]
    duration: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _at(self.at))
        object.__setattr__(self, "groups", tuple(tuple(g) for g in self.groups))
        object.__setattr__(self, "duration", _duration(self.duration))


@dataclass(frozen=True, slots=True)
class OneWay:
    """Messages from any of ``srcs`` to any of ``dsts`` are dropped; the reverse flows."""

    at: float
    srcs: tuple[str, ...]
    dsts: tuple[str, ...]
    duration: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _at(self.at))
        object.__setattr__(self, "srcs", tuple(self.srcs))
        object.__setattr__(self, "dsts", tuple(self.dsts))
        object.__setattr__(self, "duration", _duration(self.duration))


@dataclass(frozen=True, slots=True)
class Isolate:
    """The node can neither send nor receive."""

    at: float
    node: str
    duration: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _at(self.at))
        object.__setattr__(self, "duration", _duration(self.duration))


@dataclass(frozen=True, slots=True)
class Heal:
    """Remove every partition and loss burst."""

    at: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _at(self.at))


@dataclass(frozen=True, slots=True)
class Crash:
    """Stop ``node`` at ``at``: it sends, receives and ticks no more until a :class:`Restart`."""

    at: float
    node: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _at(self.at))


@dataclass(frozen=True, slots=True)
class Restart:
    """Start the crashed ``node`` again at ``at``, from what its durable state kept."""

    at: float
    node: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _at(self.at))


@dataclass(frozen=True, slots=True)
class ClockChange:
    """Set a node's clock skew (seconds ahead of true time) and/or drift (rate error)."""

    at: float
    node: str
    skew: float | None = None
    drift: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _at(self.at))
        for name in ("skew", "drift"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise ConfigError(f"clock.{name}", "must be a number", v)


@dataclass(frozen=True, slots=True)
class LossBurst:
    """The directed link ``src -> dst`` loses messages with probability ``loss`` for
    ``duration`` seconds."""

    at: float
    src: str
    dst: str
    duration: float
    loss: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _at(self.at))
        object.__setattr__(self, "duration", parse_duration(self.duration, "loss_burst.duration"))
        object.__setattr__(self, "loss", parse_probability(self.loss, "loss_burst.loss"))


Fault = Partition | OneWay | Isolate | Heal | Crash | Restart | ClockChange | LossBurst


class FaultSchedule:
    """An ordered list of faults (sorted by time; ties keep the given order)."""

    def __init__(self, faults: Sequence[Fault] = ()) -> None:
        ordered = sorted(enumerate(faults), key=lambda p: (p[1].at, p[0]))
        self.faults: tuple[Fault, ...] = tuple(f for _, f in ordered)
        #: each fault's index in the given list, so an error names the entry the user wrote
        self.given_index: tuple[int, ...] = tuple(i for i, _ in ordered)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.faults)

    def __len__(self) -> int:
        return len(self.faults)

    def __repr__(self) -> str:
        return f"FaultSchedule({list(self.faults)!r})"

    def validate(self, world: World, duration: float | None = None) -> None:
        """Raise ConfigError for anything that would fail or be meaningless during the run."""
        down: set[str] = set()
        for i, f in enumerate(self.faults):
            where = f"faults[{self.given_index[i]}] ({type(f).__name__} at {f.at}s)"
            try:
                if duration is not None and f.at > duration:
                    raise ConfigError("at", f"must be within the workload phase ({duration}s)",
                                      f.at)
                _validate_one(world, f, down)
            except ConfigError as err:
                raise err.prefixed(where) from None


def _node(world: World, node: str, param: str) -> str:
    if not isinstance(node, str) or not world.topology.has_node(node):
        raise ConfigError(param, "must name a known node", node)
    return node


def expand_members(world: World, members: Sequence[str], param: str) -> list[str]:
    """Node ids for a list of node ids and zone names; a node named twice is an error."""
    out: list[str] = []
    seen: set[str] = set()
    topo = world.topology
    for m in members:
        if isinstance(m, str) and topo.has_node(m):
            nodes = [m]
        elif isinstance(m, str) and topo.has_zone(m):
            nodes = topo.nodes_in(m)
        else:
            raise ConfigError(param, "must name known nodes or zones", m)
        for n in nodes:
            if n in seen:
                raise ConfigError(param, "must name each node once", n)
            seen.add(n)
            out.append(n)
    return out


def _validate_one(world: World, f: Fault, down: set[str]) -> None:
    if isinstance(f, Partition):
        seen: set[str] = set()
        for g in f.groups:
            for n in expand_members(world, g, "partition group"):
                if n in seen:
                    raise ConfigError("partition groups", "must name each node once", n)
                seen.add(n)
    elif isinstance(f, OneWay):
        expand_members(world, f.srcs, "one_way.srcs")
        expand_members(world, f.dsts, "one_way.dsts")
    elif isinstance(f, Isolate | ClockChange):
        _node(world, f.node, f"{type(f).__name__.lower()}.node")
    elif isinstance(f, Crash):
        if _node(world, f.node, "crash.node") in down:
            raise ConfigError("crash.node", "must be up at that time (it is already down)",
                              f.node)
        down.add(f.node)
    elif isinstance(f, Restart):
        if _node(world, f.node, "restart.node") not in down:
            raise ConfigError("restart.node", "must be down at that time (it is up)", f.node)
        down.discard(f.node)
    elif isinstance(f, LossBurst):
        _node(world, f.src, "loss_burst.src")
        _node(world, f.dst, "loss_burst.dst")
        if not world.topology.connected(f.src, f.dst):
            raise ConfigError("loss_burst", "must name a link of the topology",
                              f"{f.src}->{f.dst}")
    # A Heal needs no validation: it removes partitions and bursts but restarts no node.


def _describe(f: Fault) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in f.__slots__:
        value = getattr(f, name)
        if name != "at" and value is not None:
            fields[name] = [list(g) for g in value] if name == "groups" else value
    return fields


def apply_fault(world: World, f: Fault, label: str) -> None:
    """Apply one fault now and record it in the trace (``label`` names its partition)."""
    net = world.network
    world.record_fault("fault", action=type(f).__name__.lower(), label=label, **_describe(f))
    cut: Cut | None = None
    if isinstance(f, Partition):
        groups: dict[str, int] = {}
        for i, g in enumerate(f.groups):
            for n in expand_members(world, g, "partition group"):
                groups[n] = i
        cut = Cut(label, groups=groups)
    elif isinstance(f, OneWay):
        cut = Cut(label, srcs=frozenset(expand_members(world, f.srcs, "one_way.srcs")),
                  dsts=frozenset(expand_members(world, f.dsts, "one_way.dsts")))
    elif isinstance(f, Isolate):
        cut = Cut(label, groups={f.node: 0, **{n: 1 for n in world.node_ids if n != f.node}})
    elif isinstance(f, Heal):
        world.heal()
    elif isinstance(f, Crash):
        world.crash(f.node)
    elif isinstance(f, Restart):
        world.restart(f.node)
    elif isinstance(f, ClockChange):
        world.node(f.node).set_clock(skew=f.skew, drift=f.drift)
    elif isinstance(f, LossBurst):
        now = world.now
        net.loss_burst(f.src, f.dst, now, now + f.duration, f.loss)
    if cut is not None:
        net.add_cut(cut)
        duration = getattr(f, "duration", None)
        if duration is not None:
            world.schedule(duration, lambda: _end_cut(world, label))


def _end_cut(world: World, label: str) -> None:
    if any(c.label == label for c in world.network.cuts):
        world.network.remove_cut(label)
        world.record_fault("heal", label=label)


_SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "partition": ("duration",), "one_way": ("to", "duration"), "isolate": ("duration",),
    "heal": (), "crash": (), "restart": (), "clock": ("skew", "drift"),
    "loss_burst": ("to", "duration", "loss"),
}


def fault_from_spec(spec: Mapping[str, Any]) -> Fault:
    """Build a fault from a mapping such as ``{"at": "2s", "crash": "n1"}``.

    Forms: ``partition: [[..], [..]]``, ``one_way: [srcs], to: [dsts]``, ``isolate: node``,
    ``heal: true``, ``crash: node``, ``restart: node``, ``clock: node, skew, drift``,
    ``loss_burst: src, to: dst, duration, loss``; plus ``duration`` where it applies.
    """
    if not isinstance(spec, Mapping) or "at" not in spec:
        raise ConfigError("fault", "must be a mapping with 'at' and one fault kind", spec)
    kinds = [k for k in spec if k in _SPEC_KEYS]
    if len(kinds) != 1:
        raise ConfigError("fault", f"must name exactly one of {sorted(_SPEC_KEYS)}", dict(spec))
    kind = kinds[0]
    for key in sorted(spec):
        if key not in ("at", kind, *_SPEC_KEYS[kind]):
            raise ConfigError(f"fault {kind}", f"accepts only {['at', kind, *_SPEC_KEYS[kind]]}",
                              key)
    at, v = spec["at"], spec[kind]
    if kind == "partition":
        return Partition(at, v, spec.get("duration"))
    if kind == "one_way":
        return OneWay(at, v, spec.get("to", ()), spec.get("duration"))
    if kind == "isolate":
        return Isolate(at, v, spec.get("duration"))
    if kind == "heal":
        return Heal(at)
    if kind == "crash":
        return Crash(at, v)
    if kind == "restart":
        return Restart(at, v)
    if kind == "clock":
        return ClockChange(at, v, spec.get("skew"), spec.get("drift"))
    return LossBurst(at, v, spec.get("to", ""), spec.get("duration", 0.0), spec.get("loss", 1.0))


def random_schedule(world: World, duration: Any, *, rate: float = 0.5,
                    kinds: Sequence[str] = ("partition", "crash", "clock", "loss_burst"),
                    mean_fault: Any = 1.0, max_down: int = 1) -> FaultSchedule:
    """A random but valid schedule drawn from the world's ``"nemesis"`` stream.

    Faults start at Poisson times (``rate`` per second) within ``duration``; partitions,
    crashes (followed by a restart) and loss bursts last Exp(``mean_fault``) seconds.
    """
    total = parse_duration(duration, "duration")
    mean = parse_duration(mean_fault, "mean_fault")
    rng = world.rng("nemesis")
    nodes = world.node_ids
    down_until: dict[str, float] = {}
    faults: list[Fault] = []
    t = 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= total:
            break
        kind = kinds[rng.randrange(len(kinds))]
        span = min(rng.expovariate(1.0 / mean), total - t) if mean > 0 else 0.0
        if kind == "partition" and len(nodes) > 1:
            order = list(nodes)
            rng.shuffle(order)
            cut = rng.randrange(1, len(order))
            faults.append(Partition(t, (tuple(sorted(order[:cut])), tuple(sorted(order[cut:]))),
                                    span))
        elif kind == "isolate":
            faults.append(Isolate(t, nodes[rng.randrange(len(nodes))], span))
        elif kind == "crash":
            up = [n for n in nodes if down_until.get(n, -1.0) < t]
            if up and len(nodes) - len(up) < max_down:
                node = up[rng.randrange(len(up))]
                faults.append(Crash(t, node))
                if t + span < total:
                    faults.append(Restart(t + span, node))
                    down_until[node] = t + span
                else:
                    down_until[node] = float("inf")
        elif kind == "clock":
            node = nodes[rng.randrange(len(nodes))]
            faults.append(ClockChange(t, node, rng.uniform(-0.5, 0.5), rng.uniform(-0.01, 0.01)))
        elif kind == "loss_burst":
            src = nodes[rng.randrange(len(nodes))]
            peers = world.topology.neighbours(src)
            if peers:
                faults.append(LossBurst(t, src, peers[rng.randrange(len(peers))], span))
    return FaultSchedule(faults)
