"""The space a hunt searches: candidate schedules, their bounds, and the plain scenario of each.

A :class:`Candidate` is one point of the space: a run seed, explicit faults (as
:class:`FaultGene`), explicit writes, and, where the scenario's ``hunt:`` section allows it, a
node count, a topology kind and a link loss. :meth:`HuntSpace.scenario` turns a candidate into a
plain scenario (no ``hunt:``, no ``nemesis``, no rate workload) that ``crdtsim run`` replays.
The scenario's own ``faults:`` are the fixed part of every candidate: each plain scenario has
them as written, beside the candidate's, and shrinking leaves them alone (they are the setting
the bug is hunted in, as a one-way cut the user suspects). Every plain scenario draws its link
randomness keyed (``links: {draws: keyed}``, unless the scenario sets ``draws`` itself): a
message's loss and latency then depend on its pair and send time, not on how many messages the
sender sent before, so a shrinking step that removes a write leaves the luck of every other
message as it was.

>>> from sim.scenario import Scenario
>>> space = HuntSpace.of(Scenario.from_data({"zones": {"dc": 3}, "duration": "2s",
...     "data": {"keys": {"k": "ORSet"}}, "workload": {"rate": "2/s"}, "hunt": {"faults": {"max": 1}}}))
>>> c = Candidate(seed=4, faults=(FaultGene("crash", 0.5, 0.25, ("dc-2",)),), writes=(Write(0.25, "dc-1", "k"),))
>>> plain = space.scenario(c)
>>> plain["faults"], plain["workload"]["writes"]
([{'at': 0.5, 'crash': 'dc-2'}, {'at': 0.75, 'restart': 'dc-2'}], [{'at': 0.25, 'node': 'dc-1', 'key': 'k'}])
>>> c.size, "hunt" in plain
(2, False)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from sim.errors import SimError
from sim.scenario import Scenario
from sim.scenario.schema import FAULT_KINDS
from sim.units import parse_duration

__all__ = ["Candidate", "FaultGene", "HuntSpace", "Write", "keyed"]

#: the link draws of every scenario a hunt runs, unless the scenario sets its own
DRAWS = "keyed"

#: topology kinds a hunt may choose: the ones that need no parameters
SIMPLE_TOPOLOGIES = ("complete", "ring", "star", "line")
#: resolution of times and durations in a candidate (seconds): keeps minimal.yaml readable
RESOLUTION = 0.001


def keyed(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (changed in place) with keyed link draws, unless it sets ``links.draws`` itself.

    >>> keyed({"zones": {"dc": 2}})["links"], keyed({"links": {"draws": "sequential"}})["links"]
    ({'draws': 'keyed'}, {'draws': 'sequential'})
    """
    links = data.setdefault("links", {})
    if isinstance(links, dict):  # (a malformed section is the schema's to report)
        links.setdefault("draws", DRAWS)
    return data


def _time(t: float | str) -> float:
    return parse_duration(t, "at")


def _round(t: float) -> float:
    return round(round(t / RESOLUTION) * RESOLUTION, 6)


@dataclass(frozen=True, order=True)
class FaultGene:
    """One fault of a schedule.

    ``nodes`` is the partitioned side, the one-way sources, the crashed node, the loss burst's
    source or the skewed node; ``peers`` the one-way destinations or the burst's destination;
    ``amount`` the burst's loss probability or the clock skew in seconds.
    """

    kind: str
    at: float
    duration: float
    nodes: tuple[str, ...]
    peers: tuple[str, ...] = ()
    amount: float = 0.0

    def specs(self, end: float) -> list[dict[str, Any]]:
        """The scenario fault entries of this gene (a crash brings its restart)."""
        at, until = _round(self.at), _round(self.at + self.duration)
        if self.kind == "partition":
            return [{"at": at, "partition": [list(self.nodes)], "duration": _round(self.duration)}]
        if self.kind == "one_way":
            return [{"at": at, "one_way": list(self.nodes), "to": list(self.peers), "duration": _round(self.duration)}]
        if self.kind == "crash":
            restart = [{"at": until, "restart": self.nodes[0]}] if until < end else []
            return [{"at": at, "crash": self.nodes[0]}, *restart]
        if self.kind == "loss_burst":
            return [{"at": at, "loss_burst": self.nodes[0], "to": self.peers[0], "duration": _round(self.duration),
                     "loss": round(self.amount, 3)}]
        return [{"at": at, "clock": self.nodes[0], "skew": round(self.amount, 3)}]

    @property
    def end(self) -> float:
        return self.at if self.kind == "clock" else self.at + self.duration

    def touches(self) -> tuple[str, ...]:
        return self.nodes + self.peers

    def describe(self) -> str:
        """One line for the report: ``crash dc-2 at 0.500s for 0.250s``."""
        if self.kind == "partition":
            return f"partition {{{', '.join(self.nodes)}}} from the rest at {self.at:.3f}s for {self.duration:.3f}s"
        if self.kind == "one_way":
            return (f"one-way cut {', '.join(self.nodes)} -> {', '.join(self.peers)} at {self.at:.3f}s "
                    f"for {self.duration:.3f}s")
        if self.kind == "crash":
            return f"crash {self.nodes[0]} at {self.at:.3f}s for {self.duration:.3f}s"
        if self.kind == "loss_burst":
            return (f"loss burst {self.nodes[0]} -> {self.peers[0]} ({self.amount:.0%}) at {self.at:.3f}s "
                    f"for {self.duration:.3f}s")
        return f"clock of {self.nodes[0]} skewed {self.amount:+.3f}s at {self.at:.3f}s"


@dataclass(frozen=True, order=True)
class Write:
    """One explicit write: at ``at`` seconds, ``node`` mutates ``key`` (a plausible mutation of its type)."""

    at: float
    node: str
    key: str

    def spec(self) -> dict[str, Any]:
        return {"at": _round(self.at), "node": self.node, "key": self.key}

    def describe(self) -> str:
        return f"{self.node} writes {self.key} at {self.at:.3f}s"


@dataclass(frozen=True)
class Candidate:
    """One schedule of the space. ``None`` fields keep what the scenario says."""

    seed: int
    faults: tuple[FaultGene, ...] = ()
    writes: tuple[Write, ...] = ()
    nodes: int | None = None
    topology: str | None = None
    loss: float | None = None
    duplicate: float | None = None
    duration: float | None = None

    @property
    def size(self) -> int:
        """Faults plus writes: what shrinking minimises first."""
        return len(self.faults) + len(self.writes)

    def describe(self) -> dict[str, Any]:
        """The schedule for the report: faults, writes and nodes, one line each."""
        out: dict[str, Any] = {"seed": self.seed, "faults": [f.describe() for f in sorted(self.faults)],
                               "writes": [w.describe() for w in sorted(self.writes)]}
        for name in ("nodes", "topology", "loss", "duplicate", "duration"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


def _bounds(scenario: Scenario, path: tuple[str, ...], low: float, high: float, default: tuple[float, float],
            integer: bool = False) -> tuple[float, float]:
    spec = scenario.get("hunt", {})
    for part in path:
        spec = spec.get(part, {}) if isinstance(spec, dict) else {}
    lo, hi = spec.get("min", default[0]), spec.get("max", default[1])
    for name, value in (("min", lo), ("max", hi)):
        if integer and value != int(value):
            raise scenario.error(("hunt", *path, name), "a whole number", value)
        if not low <= value <= high:
            raise scenario.error(("hunt", *path, name), f"a number within [{low}, {high}]", value)
    if lo > hi:
        raise scenario.error(("hunt", *path, "min"), f"a minimum no greater than the maximum ({hi})", lo)
    return lo, hi


@dataclass
class HuntSpace:
    """What the scenario's ``hunt:`` section lets vary, resolved against the scenario."""

    base: Scenario
    zone: str | None
    node_ids: list[str]
    keys: list[str]
    duration: float
    tick: float
    max_faults: int
    kinds: tuple[str, ...]
    longest: float
    writes: tuple[int, int]
    write_nodes: list[str] | None = None
    node_range: tuple[int, int] | None = None
    topologies: tuple[str, ...] | None = None
    loss_range: tuple[float, float] | None = None
    link: dict[str, Any] = field(default_factory=dict)
    #: the scenario's own ``faults:``, in every candidate as written (the fixed part of each schedule)
    fixed: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, scenario: Scenario) -> HuntSpace:
        """Resolve the scenario's ``hunt:`` section; impossible bounds raise a one-line ScenarioError."""
        hunt = scenario.get("hunt", {})
        # Without replicated data (event-sourced entities, an app) only the faults vary; the
        # scenario's own workload stays.
        data = scenario.get("data") or {"keys": {}}
        if not data["keys"] and "writes" in hunt:
            raise scenario.error(("hunt", "writes"), "a 'data' section for the hunt's writes to update", hunt["writes"])
        zones = scenario.get("zones")
        zone = next(iter(zones)) if len(zones) == 1 and isinstance(next(iter(zones.values())), int) else None
        node_ids = cls._node_ids(zones)
        duration = parse_duration(scenario.get("duration", "5s"), "duration")
        tick = parse_duration(scenario.get("tick", "100ms"), "tick")
        faults = hunt.get("faults", {})
        with scenario.at("hunt", "faults", "longest"):
            longest = parse_duration(faults.get("longest", duration / 2), "longest")
        if not 0 < longest <= duration:
            raise scenario.error(("hunt", "faults", "longest"), f"a duration within (0, {duration}s]",
                                 faults.get("longest"))
        keys = list(hunt.get("writes", {}).get("keys", sorted(data["keys"])))
        for index, key in enumerate(keys):
            if key not in data["keys"]:
                raise scenario.error(("hunt", "writes", "keys", index), f"a key among {sorted(data['keys'])}", key)
        # Writes go where the scenario's own writes may: its workload's nodes, else its replicas.
        write_nodes = hunt.get("writes", {}).get("nodes", scenario.get("workload", {}).get("nodes", data.get("nodes")))
        for index, node in enumerate(write_nodes or ()):
            if node not in node_ids:
                raise scenario.error(("hunt", "writes", "nodes", index), f"a node among {node_ids}", node)
        rate = scenario.get("workload", {}).get("rate", "10/s")
        from sim.units import parse_rate

        default_writes = max(1, min(20, round(parse_rate(rate, "rate") * duration))) if keys else 0
        lo, hi = _bounds(scenario, ("writes",), 0, 1000, (min(1, default_writes), default_writes), integer=True)
        space = cls(scenario, zone, node_ids, keys, duration, tick, int(faults.get("max", 3)),
                    tuple(faults.get("kinds", FAULT_KINDS)), longest, (int(lo), int(hi)), write_nodes,
                    link=dict(scenario.get("links", {}).get("default", {})),
                    fixed=copy.deepcopy(list(scenario.get("faults", []))))
        space._varying(hunt)
        if space.max_faults == 0 and space.writes[1] == 0:
            raise scenario.error(("hunt",), "room for at least one fault or one write (faults.max or writes.max > 0)",
                                 hunt)
        return space

    @staticmethod
    def _node_ids(zones: dict[str, Any]) -> list[str]:
        ids: list[str] = []
        for zone, spec in zones.items():
            ids += [f"{zone}-{i}" for i in range(1, spec + 1)] if isinstance(spec, int) else list(spec)
        return sorted(ids)

    def _varying(self, hunt: dict[str, Any]) -> None:
        s = self.base
        if "nodes" in hunt:
            lists = "nodes" in s.get("data", {}) or "nodes" in s.get("workload", {}) or s.get("topology")
            if self.zone is None or lists:
                raise s.error(("hunt", "nodes"), "a scenario with one zone given as a node count (and no node lists)",
                              s.get("zones"))
            lo, hi = _bounds(s, ("nodes",), 1, 100, (1, 100), integer=True)
            self.node_range = (int(lo), int(hi))
        if "topology" in hunt:
            for index, kind in enumerate(hunt["topology"]):
                if kind not in SIMPLE_TOPOLOGIES:
                    raise s.error(("hunt", "topology", index), f"a topology without parameters {SIMPLE_TOPOLOGIES}",
                                  kind)
            if self.zone is None or s.get("topology"):
                raise s.error(("hunt", "topology"), "a scenario with one zone and no topology of its own",
                              s.get("topology", s.get("zones")))
            self.topologies = tuple(hunt["topology"])
        if "loss" in hunt:
            self.loss_range = _bounds(s, ("loss",), 0, 1, (0, 1))

    @property
    def keyed(self) -> bool:
        """Whether this space's runs draw their links keyed (see :func:`keyed`)."""
        links = self.base.get("links", {})
        return (links.get("draws", DRAWS) if isinstance(links, dict) else DRAWS) == "keyed"

    # -- nodes of a candidate -----------------------------------------------------------------

    def nodes_of(self, c: Candidate) -> list[str]:
        if c.nodes is None or self.zone is None:
            return self.node_ids
        return [f"{self.zone}-{i}" for i in range(1, c.nodes + 1)]

    def writers_of(self, c: Candidate) -> list[str]:
        nodes = self.nodes_of(c)
        return [n for n in (self.write_nodes or nodes) if n in nodes]

    def valid(self, c: Candidate) -> bool:
        """Whether the candidate names only its own nodes and crashes no node twice at once."""
        nodes = set(self.nodes_of(c))
        if any(not set(f.touches()) <= nodes for f in c.faults) or any(w.node not in nodes for w in c.writes):
            return False
        end = self.duration_of(c)
        if any(w.at > end for w in c.writes) or any(f.at > end for f in c.faults) or self.fixed_end > end:
            return False
        crashes = sorted((f.nodes[0], f.at, f.at + f.duration) for f in c.faults if f.kind == "crash")
        for (n1, _, end1), (n2, start2, _) in zip(crashes, crashes[1:], strict=False):
            if n1 == n2 and start2 <= end1 + RESOLUTION:
                return False
        return all(f.kind != "partition" or 0 < len(f.nodes) < len(nodes) for f in c.faults)

    @property
    def fixed_end(self) -> float:
        """When the last of the scenario's own faults ends (0 without any)."""
        ends = [_time(f["at"]) + _time(f.get("duration", 0.0)) for f in self.fixed]
        return max(ends, default=0.0)

    def duration_of(self, c: Candidate) -> float:
        return self.duration if c.duration is None else c.duration

    # -- the plain scenario ----------------------------------------------------------------------

    def scenario(self, c: Candidate, name: str | None = None) -> dict[str, Any]:
        """The plain scenario of ``c``: the scenario's own faults and ``c``'s, explicit writes, no hunt,
        no nemesis."""
        data = copy.deepcopy(self.base.data)
        for key in ("hunt", "nemesis", "faults"):
            data.pop(key, None)
        data["seed"] = c.seed
        keyed(data)
        if name is not None:
            data["name"] = name
            data.pop("description", None)
        end = self.duration_of(c)
        if c.duration is not None:
            data["duration"] = c.duration
        if self.keys:
            workload = {k: v for k, v in data.get("workload", {}).items() if k in ("write",)}
            workload["writes"] = [w.spec() for w in sorted(c.writes)]
            data["workload"] = workload
        faults = copy.deepcopy(self.fixed) + [spec for f in sorted(c.faults) for spec in f.specs(end)]
        if faults:
            data["faults"] = sorted(faults, key=lambda f: _time(f["at"]))  # stable: the scenario's own first
        if c.nodes is not None and self.zone is not None:
            data["zones"] = {self.zone: c.nodes}
        if c.topology is not None and self.zone is not None:
            data["topology"] = [{"zone": self.zone, "kind": c.topology}]
        if c.loss is not None or c.duplicate is not None:
            links = data.setdefault("links", {})
            link = links.setdefault("default", {})
            for name_, value in (("loss", c.loss), ("duplicate", c.duplicate)):
                if value is not None:
                    link[name_] = round(value, 3)
        return data

    def simplify_links(self, c: Candidate) -> list[Candidate]:
        """Candidates with simpler links than ``c``: no loss or half as much, no duplication."""
        out = []
        loss = c.loss if c.loss is not None else self.link.get("loss", 0.0)
        if loss:
            out.append(replace(c, loss=0.0))
            if loss > 0.01:
                out.append(replace(c, loss=round(loss / 2, 3)))
        duplicate = c.duplicate if c.duplicate is not None else self.link.get("duplicate", 0.0)
        if duplicate:
            out.append(replace(c, duplicate=0.0))
        return out


def check_budget(runs: int | None, seconds: float | None) -> None:
    """A hunt needs a positive budget of runs or of time."""
    if runs is None and seconds is None:
        raise SimError("budget: expected a number of runs (200) or a duration (30s), found nothing")
    if runs is not None and runs < 1:
        raise SimError(f"budget: expected at least 1 run, found {runs}")
    if seconds is not None and seconds <= 0:
        raise SimError(f"budget: expected a positive duration, found {seconds}s")
