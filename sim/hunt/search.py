"""The search: fresh schedules, and mutants of the schedules that came closest to failing.

Every passing run reports closeness *signals* (:data:`sim.hunt.runner.SIGNALS`): how long the
network took to go quiet, how many messages were dropped, how long replicas stayed apart after
the last write, how many writes at different nodes were concurrent. Different bugs come close
in different ways (a lost message shows as drops, a forwarding bug as concurrent writes racing
each other, and faults that drop many messages make the latter rarer), so the search keeps the
best schedules of *each* signal and picks a parent from one signal's best, most of the time
mutating it: it adds a fault next to a write, moves a fault onto a write, stretches a fault,
drops one, gathers writes into a burst, adds a write concurrent with another at another node,
or draws a new run seed (and half the other mutants get one too, where links draw keyed: see
:data:`RESEED`). Fresh schedules gather their writes in bursts or spread them over the
run, and place faults (none, sometimes) around the writes, where a lost or delayed message
matters. Everything comes from one seeded ``random.Random``; batches are fixed in size, so the
same hunt seed proposes the same schedules whatever the number of workers.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace

from sim.hunt.runner import SIGNALS
from sim.hunt.space import Candidate, FaultGene, HuntSpace, Write

__all__ = ["Search"]

#: how many of the best schedules seen so far are kept as parents, for each signal
ELITES = 4
#: the kinds of fresh schedule, drawn in turn: writes in bursts with faults around them, the
#: same bursts and no fault, writes spread over the run with faults
STRATA = ("bursts", "race", "spread")
#: the share of each batch made of mutants once there are parents (the rest are fresh draws)
MUTANTS = 0.8
#: how soon after its own write a writer crashes, at most, when a crash covers it (seconds)
CRASH_AFTER = 0.02
#: the chance that a mutant whose moves kept its parent's run seed gets a new one, where the runs
#: draw their links keyed: a keyed mutant keeps the luck of every message its moves left alone,
#: so without new seeds the search re-rolls luck far less often than over sequential draws (where
#: any change re-rolls every later draw), and a bug that needs the right messages lost is slow to
#: find (op-accept-lost: none in 200 runs from one hunt seed in four)
RESEED = 0.5


def _rng(seed: int, name: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class Search:
    """Proposes batches of candidates and learns from their scores."""

    space: HuntSpace
    seed: int
    rng: random.Random = field(init=False)
    #: signal -> the best schedules by it so far: (-value, order seen, candidate), best first
    elites: dict[str, list[tuple[float, int, Candidate]]] = field(default_factory=dict)
    proposed: int = 0
    learned: int = 0
    drawn: int = 0

    def __post_init__(self) -> None:
        self.rng = _rng(self.seed, "hunt")

    # -- the loop's interface -----------------------------------------------------------------

    def batch(self, size: int) -> list[Candidate]:
        out: list[Candidate] = []
        while len(out) < size:
            if self.elites and self.rng.random() < MUTANTS:
                best = self.elites[self.rng.choice(sorted(self.elites))]
                parent = best[min(int(self.rng.expovariate(0.5)), len(best) - 1)][2]
                child = self.mutate(parent)
            else:
                child = self.fresh()
            if self.space.valid(child):
                out.append(child)
        self.proposed += len(out)
        return out

    def learn(self, candidate: Candidate, signals: dict[str, float]) -> None:
        """Keep ``candidate`` among the parents of each signal by which it is one of the closest so far."""
        self.learned += 1
        for name in SIGNALS:
            value = signals.get(name, 0.0)
            if value <= 0:
                continue  # nothing came close this way
            best = self.elites.setdefault(name, [])
            best.append((-value, self.learned, candidate))
            best.sort(key=lambda e: (e[0], e[1]))
            del best[ELITES:]

    def closest(self) -> str:
        """The best value of each signal so far, for the progress bar."""
        return " ".join(f"{name} {-best[0][0]:.0f}" for name, best in sorted(self.elites.items())) or "-"

    # -- fresh draws --------------------------------------------------------------------------

    def fresh(self) -> Candidate:
        rng, space = self.rng, self.space
        c = Candidate(seed=rng.randrange(2**31))
        if space.node_range is not None:
            c = replace(c, nodes=rng.randint(*space.node_range))
        if space.topologies is not None:
            c = replace(c, topology=rng.choice(space.topologies))
        if space.loss_range is not None:
            c = replace(c, loss=round(rng.uniform(*space.loss_range), 3))
        # Fresh draws take three kinds in turn (stratified, so that even the first few runs try
        # each): bursts of writes with faults around them (the most telling single run: many
        # updates in flight when a message is lost or a node goes down), the same with no fault
        # and one node not writing (some bugs need nothing else, and faults that drop messages
        # slow the race down), and writes spread over the run with faults.
        kind = STRATA[self.drawn % len(STRATA)] if space.writes[1] and space.max_faults else None
        self.drawn += 1
        if space.writes[1] and (kind in ("race", "bursts") or (kind is None and rng.random() < 0.5)):
            c = replace(c, writes=self._bursts(c, idle=kind == "race"))
        else:
            c = replace(c, writes=tuple(self._write(c) for _ in range(rng.randint(*space.writes))))
        if space.max_faults and kind != "race":
            faults = tuple(self._fault(c) for _ in range(rng.randint(1, space.max_faults)))
            c = replace(c, faults=faults)
        return c

    def _bursts(self, c: Candidate, idle: bool = False) -> tuple[Write, ...]:
        """As many writes as allowed, in one or two bursts a few ticks wide, the writers of each
        burst taken round the nodes in a shuffled order (so that they differ). With ``idle``,
        one writer of several stays out: a replica that only hears of the others' writes is
        where pull and anti-entropy bugs live."""
        rng, space = self.rng, self.space
        count, bursts = space.writes[1], rng.randint(1, 2)
        end = space.duration_of(c)
        writers = list(space.writers_of(c))
        if idle and len(writers) > 1:
            writers.remove(rng.choice(writers))
        writes: list[Write] = []
        for b in range(bursts):
            start, width = rng.uniform(0, end * 0.8), rng.uniform(1, 4) * space.tick
            rng.shuffle(writers)
            for i in range(count // bursts + (b < count % bursts)):
                writes.append(Write(round(min(end, start + rng.uniform(0, width)), 3), writers[i % len(writers)],
                                    rng.choice(space.keys)))
        return tuple(writes)

    def _write(self, c: Candidate, near: float | None = None) -> Write:
        rng, space = self.rng, self.space
        end = space.duration_of(c)
        at = rng.uniform(0, end * 0.8) if near is None else min(end, max(0.0, near + rng.uniform(-0.05, 0.05)))
        return Write(round(at, 3), rng.choice(space.writers_of(c)), rng.choice(space.keys))

    def _fault(self, c: Candidate) -> FaultGene:
        rng, space = self.rng, self.space
        nodes = space.nodes_of(c)
        end = space.duration_of(c)
        kind = rng.choice(space.kinds)
        if len(nodes) < 2 and kind != "clock":
            kind = "clock"
        order = list(nodes)
        rng.shuffle(order)
        if c.writes and rng.random() < 0.8:
            # Cover a write: start just before it, so the messages it sends meet the fault,
            # and put its writer first (the side cut off, the source of a cut or a burst). A
            # crash takes another node down just before, or, half the time, the writer itself
            # just after: what it sent is still in flight, and what it held may be gone.
            write = rng.choice(c.writes)
            at = write.at - rng.uniform(0.0, 0.1)
            if write.node in order:
                order.remove(write.node)
                after = kind == "crash" and rng.random() < 0.5
                order.insert(0 if kind != "crash" or after else len(order), write.node)
                if after:
                    at = write.at + rng.uniform(0.0, CRASH_AFTER)
        else:
            at = rng.uniform(0, end * 0.9)
        at = round(min(max(at, 0.0), end), 3)
        duration = round(rng.uniform(space.tick, space.longest), 3)
        if kind == "partition":
            cut = rng.randint(1, len(order) - 1)
            return FaultGene(kind, at, duration, tuple(sorted(order[:cut])))
        if kind == "one_way":
            cut = rng.randint(1, len(order) - 1)
            return FaultGene(kind, at, duration, tuple(sorted(order[:cut])), tuple(sorted(order[cut:])))
        if kind == "crash":
            return FaultGene(kind, at, duration, (order[0],))
        if kind == "loss_burst":
            return FaultGene(kind, at, duration, (order[0],), (order[1],), round(rng.uniform(0.5, 1.0), 3))
        return FaultGene("clock", at, 0.0, (order[0],), (), round(rng.uniform(-1.0, 1.0), 3))

    # -- mutation -----------------------------------------------------------------------------

    def mutate(self, parent: Candidate) -> Candidate:
        child = parent
        for _ in range(1 + int(self.rng.random() < 0.4)):
            child = self._mutate_once(child)
        if self.space.keyed and child.seed == parent.seed and self.rng.random() < RESEED:
            child = replace(child, seed=self.rng.randrange(2**31))
        return child

    def _mutate_once(self, c: Candidate) -> Candidate:
        rng, space = self.rng, self.space
        moves = ["seed", "add_fault", "move_fault", "stretch", "add_write", "concurrent_write", "drop", "burst"]
        if space.node_range is not None or space.topologies is not None or space.loss_range is not None:
            moves.append("links")
        move = rng.choice(moves)
        faults, writes = list(c.faults), list(c.writes)
        if move == "seed":
            return replace(c, seed=rng.randrange(2**31))
        if move == "add_fault" and len(faults) < space.max_faults:
            return replace(c, faults=(*faults, self._fault(c)))
        if move in ("move_fault", "stretch") and faults:
            i = rng.randrange(len(faults))
            f = faults[i]
            if move == "move_fault":
                target = rng.choice(writes).at if writes else rng.uniform(0, space.duration_of(c))
                f = replace(f, at=round(max(0.0, target + rng.uniform(-0.15, 0.05)), 3))
            else:
                f = replace(f, duration=round(min(space.longest, max(space.tick, f.duration * rng.choice((0.5, 2.0)))),
                                              3))
            faults[i] = f
            return replace(c, faults=tuple(faults))
        if move == "add_write" and len(writes) < space.writes[1]:
            return replace(c, writes=(*writes, self._write(c)))
        if move == "concurrent_write" and writes and len(writes) < space.writes[1]:
            w = self._write(c, near=rng.choice(writes).at)
            return replace(c, writes=(*writes, w))
        if move == "burst" and len(writes) > 1:
            # Gather a few writes around another one: more of them in flight at once.
            around = rng.choice(writes).at
            for i in rng.sample(range(len(writes)), rng.randint(1, len(writes) - 1)):
                at = round(min(space.duration_of(c), max(0.0, around + rng.uniform(-1, 1) * space.tick)), 3)
                writes[i] = replace(writes[i], at=at)
            return replace(c, writes=tuple(writes))
        if move == "drop":
            if faults and (not writes or rng.random() < 0.5) and (len(faults) > 1 or writes):
                faults.pop(rng.randrange(len(faults)))
            elif len(writes) > space.writes[0]:
                writes.pop(rng.randrange(len(writes)))
            return replace(c, faults=tuple(faults), writes=tuple(writes))
        if move == "links":
            fresh = self.fresh()
            return replace(c, nodes=fresh.nodes, topology=fresh.topology, loss=fresh.loss)
        return replace(c, seed=rng.randrange(2**31))
