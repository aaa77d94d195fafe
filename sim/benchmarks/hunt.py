"""``crdtsim bench hunt``: runs to the first failure, hunt against random seeds, and shrinking.

For every registered broken variant (:mod:`sim.replication.variants`), on its hunt target
(:func:`sim.hunt.targets.target_scenario`: three replicas, a few writes, rare faults):

* **random**: the scenario under seeds 1…N (what ``crdtsim sweep`` runs: a random workload and
  a random fault schedule, ``--nemesis-rate`` faults per second), with keyed link draws as every
  run of a hunt has them (``links: {draws: keyed}``); runs to the first failure from ten evenly
  spaced starting seeds, median;
* **hunt**: ``crdtsim hunt`` with search seeds 0…9; runs to the first failure (every run counts,
  the scenario as written included: it is the last run of the first batch), median; then
  faults and writes in ``minimal.yaml`` (median and worst) and the seconds shrinking took,
  median;
* **smallest**: the smallest failing schedule (faults + writes, the same check failing) found by
  trying every schedule of one, two, then three elements on a grid (writes at 0.2 s, 0.3 s and
  1 s at each node; each kind of fault the hunt may use from 50 ms before 0.2 s and 1 s, on each
  node or pair, and a crash just after 0.3 s), under the target's seed and two others; where a
  size needs more than ``limit`` runs (as on an eight-node ring), the same over writes alone
  under the target's seed. The hunts' own minimal schedules count too (each replays its
  failure): the least of all, exact where the grid tried every smaller size, else an upper
  bound ("<=3"); "-" where none finds one.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sim.hunt import Candidate, FaultGene, HuntSpace, Write, hunt
from sim.hunt.runner import Runner
from sim.hunt.space import keyed
from sim.hunt.targets import target_scenario
from sim.replication.variants import VARIANTS
from sim.scenario import Scenario
from sim.sweep import sweep

__all__ = ["established", "main", "random_runs", "searched", "smallest"]

WRITE_TIMES = (0.2, 0.3, 1.0)
FAULT_TIMES = (0.2, 1.0)
#: run seeds the smallest-schedule search tries: the target's own and these
OTHER_SEEDS = (2, 3)


def random_runs(failed: Sequence[int], seeds: int, starts: int = 10) -> list[int | None]:
    """Runs until the first failing seed, from ``starts`` evenly spaced starting seeds of 1…``seeds``.

    >>> random_runs([5, 9], 10, starts=2)
    [5, 4]
    """
    out: list[int | None] = []
    for k in range(starts):
        start = 1 + k * seeds // starts
        later = [s for s in failed if s >= start]
        out.append(later[0] - start + 1 if later else None)
    return out


def _grid(space: HuntSpace) -> tuple[list[Write], list[FaultGene]]:
    nodes = space.node_ids
    writes = [Write(t, n, space.keys[0]) for t in WRITE_TIMES for n in nodes]
    faults: list[FaultGene] = []
    for t in FAULT_TIMES:
        at, d = round(t - 0.05, 3), 0.3
        for n in nodes:
            faults += [FaultGene("partition", at, d, (n,)), FaultGene("crash", at, d, (n,)),
                       FaultGene("clock", at, 0.0, (n,), (), 0.5)]
        for a, b in itertools.permutations(nodes, 2):
            faults += [FaultGene("one_way", at, d, (a,), (b,)), FaultGene("loss_burst", at, d, (a,), (b,), 1.0)]
    # and a crash just after the writes at 0.3 s: volatile state lost before it spread
    faults += [FaultGene("crash", WRITE_TIMES[1] + 0.005, 0.3, (n,)) for n in nodes]
    return writes, [f for f in faults if f.kind in space.kinds] if space.max_faults else []


def searched(space: HuntSpace, check: str, runner: Runner, most: int = 3, limit: int = 5000,
             seeds: Sequence[int] | None = None, faults: bool = True) -> tuple[int | None, int]:
    """The fewest faults + writes of a grid schedule failing ``check`` under one of ``seeds``
    (default: the target's and :data:`OTHER_SEEDS`), and the largest size every grid schedule
    of which was tried: (None, k) when none of up to ``k`` elements fails, ``k`` below ``most``
    where one more needs more than ``limit`` runs, as on a large ring. ``faults=False``: writes
    alone."""
    writes, grid_faults = _grid(space)
    faults_ = grid_faults if faults else []
    seeds = (space.base.seed, *OTHER_SEEDS) if seeds is None else tuple(seeds)
    for size in range(1, most + 1):
        if math.comb(len(writes) + len(faults_), size) * len(seeds) > limit:
            return None, size - 1
        candidates = []
        for n_faults in range(size + 1):
            for fs in itertools.combinations(faults_, n_faults):
                for ws in itertools.combinations(writes, size - n_faults):
                    for seed in seeds:
                        c = Candidate(seed=seed, faults=fs, writes=ws)
                        if space.valid(c):
                            candidates.append(c)
        results = runner.map([space.scenario(c) for c in candidates])
        if any(r["signature"] and r["signature"][0] == check for r in results):
            return size, size - 1
    return None, most


def smallest(space: HuntSpace, check: str, runner: Runner, most: int = 3, limit: int = 5000,
             seeds: Sequence[int] | None = None, faults: bool = True) -> int | None:
    """:func:`searched`'s size alone: None where no grid schedule of up to ``most`` elements
    fails, or one more needs more than ``limit`` runs."""
    return searched(space, check, runner, most, limit, seeds, faults)[0]


def established(grid: int | None, through: int, found: Sequence[int]) -> int | str | None:
    """The smallest failing schedule known: the least of the grid's and the hunts' own minimal
    schedules (each replays its failure), exact where the grid tried every smaller size, else
    an upper bound ("<=3").

    A failure that only a few seeds in a hundred show (a write in flight as its writer crashes,
    over lossy links) escapes a grid tried under three seeds; the shrinker, which tries dozens
    of seeds per schedule, may still reach it, and a grid with nothing smaller says it is least.

    >>> established(2, 1, [2, 3]), established(None, 2, [2, 6]), established(None, 1, [3, 5])
    (2, 2, '<=3')
    >>> established(None, 3, []), established(3, 2, [2])
    (None, 2)
    """
    sizes = [s for s in (grid, *found) if s is not None]
    if not sizes:
        return None
    least = min(sizes)
    return least if least <= through + 1 else f"<={least}"


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def bench_variant(name: str, seeds: int, hunts: int, budget: int, workers: int | None,
                  exhaustive: bool, nemesis_rate: float = 0.03) -> dict[str, Any]:
    # Keyed link draws, as every run of a hunt has them: the random seeds sweep the same runs.
    data = keyed(target_scenario(name, nemesis_rate))
    with tempfile.TemporaryDirectory(prefix="crdtsim-bench-") as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        swept = sweep(path, range(1, seeds + 1), workers=workers)
    random = random_runs(swept.failed, seeds)
    found, sizes, shrink_s, checks = [], [], [], []
    for seed in range(hunts):
        r = hunt(data, budget=budget, seed=seed, workers=workers)
        found.append(r.runs_to_failure)
        if r.minimal is not None:
            sizes.append(r.minimal.size)
            shrink_s.append(r.shrink_seconds)
            checks.append(r.check)
    check = statistics.mode(checks) if checks else None
    least: int | str | None = None
    if exhaustive and check is not None:
        with Runner(workers=workers) as runner:
            space = HuntSpace.of(Scenario.from_data(data))
            grid, through = searched(space, check, runner)
            if grid is None and through < 3:  # too many schedules with faults (a ring): writes alone
                grid = smallest(space, check, runner, seeds=(space.base.seed,), faults=False, limit=2500)
            least = established(grid, through, sizes)
    return {"variant": name, "random_failures": len(swept.failed), "seeds": seeds,
            "random_median": _median(random), "hunt_median": _median(found),
            "hunt_found": sum(f is not None for f in found),
            "hunts": hunts, "size_median": _median(sizes), "size_max": max(sizes) if sizes else None,
            "smallest": least, "shrink_seconds": _median(shrink_s), "check": check}


def _row(r: dict[str, Any]) -> str:
    def f(v: Any, spec: str = "") -> str:
        return "-" if v is None else format(v, spec)

    ratio = (r["random_median"] / r["hunt_median"]) if r["random_median"] and r["hunt_median"] else None
    return (f"{r['variant']:<20} {f(r['random_median'], '.1f'):>8} {f(r['hunt_median'], '.1f'):>6} "
            f"{f(ratio, '.1f'):>6}x {r['hunt_found']:>3}/{r['hunts']:<3} {f(r['size_median'], '.0f'):>5} "
            f"{f(r['size_max']):>5} {f(r['smallest']):>8} {f(r['shrink_seconds'], '.2f'):>8}s  {r['check'] or '-'}")


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="crdtsim bench hunt", description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=sorted(VARIANTS), help="which variants (default: all)")
    parser.add_argument("--seeds", type=int, default=400, help="random seeds swept per variant")
    parser.add_argument("--hunts", type=int, default=10, help="hunt seeds per variant (median over them)")
    parser.add_argument("--budget", type=int, default=200, help="runs per hunt")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    parser.add_argument("--nemesis-rate", type=float, default=0.03,
                        help="faults per second of the random schedules the sweep draws (default 0.03)")
    parser.add_argument("--no-exhaustive", action="store_true", help="skip the smallest-schedule search")
    args = parser.parse_args(list(argv))
    started = time.perf_counter()
    print(f"random: sweep of seeds 1-{args.seeds} under a nemesis of {args.nemesis_rate} faults/s, links drawn "
          "keyed as in every hunt run; "
          f"hunt: {args.hunts} search seeds, budget {args.budget} runs")
    print(f"{'variant':<20} {'random':>8} {'hunt':>6} {'ratio':>7} {'found':>7} {'size':>5} {'max':>5} "
          f"{'smallest':>8} {'shrink':>9}  check")
    print("(runs to the first failure: medians; size = faults + writes after shrinking; "
          "smallest = exhaustive grid or the hunts' least)")
    for name in args.variants:
        row = bench_variant(name, args.seeds, args.hunts, args.budget, args.workers, not args.no_exhaustive,
                            args.nemesis_rate)
        print(_row(row), flush=True)
    print(f"{time.perf_counter() - started:.0f}s in all")
    return 0
