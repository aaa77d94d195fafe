"""``crdtsim bench apps``: how fast app scenarios run, seed after seed.

Runs a bundled app scenario (the todo app with forged and stolen sessions, by default) under
many seeds, as the leak test does, and prints runs per second and delivered messages per wall
second, with the bare SimPy event rate measured in the same run as the baseline, so a busy
machine still gives a comparable ratio. Every run must pass its checks: a benchmark of a broken
run would measure the wrong thing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sim.benchmarks.engine import bench_floor

__all__ = ["AppBench", "measure", "main"]


@dataclass(frozen=True, slots=True)
class AppBench:
    scenario: str
    seeds: int
    wall: float
    delivered: int
    floor: float

    @property
    def runs_per_second(self) -> float:
        return self.seeds / self.wall

    @property
    def messages_per_second(self) -> float:
        return self.delivered / self.wall


def measure(scenario: str = "todo-access", seeds: int = 50, duration: str | None = "0.8s") -> AppBench:
    """Run ``scenario`` under seeds ``0 … seeds-1`` (the workload phase cut to ``duration``)."""
    from sim.cli import bundled
    from sim.errors import SimError
    from sim.scenario import Scenario, run_scenario

    data = Scenario.from_yaml(bundled()[scenario]).data
    if duration is not None:
        from sim.units import parse_duration

        data["duration"] = duration
        span = parse_duration(duration, "duration")  # faults must fall in the shorter workload phase
        data["faults"] = [f for f in data.get("faults", []) if parse_duration(f["at"], "at") < span]
    model = Scenario.from_data(data)
    delivered = 0
    start = time.perf_counter()
    for seed in range(seeds):
        run = run_scenario(model, seed=seed)
        if run.result is None or not run.result.ok:
            raise SimError(f"{scenario} failed its checks at seed {seed}: nothing to benchmark")
        delivered += run.result.metrics["delivered"]
    wall = time.perf_counter() - start
    return AppBench(scenario, seeds, wall, delivered, bench_floor(200_000, width=100))


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="crdtsim bench apps", description=__doc__)
    parser.add_argument("--scenario", default="todo-access", help="a bundled app scenario (default todo-access)")
    parser.add_argument("--seeds", type=int, default=50, help="how many seeds to run (default 50)")
    parser.add_argument("--duration", default="0.8s", help="the workload phase of each run (default 0.8s)")
    args = parser.parse_args(list(argv))
    from sim.cli import bundled
    from sim.errors import SimError

    if args.scenario not in bundled():
        parser.error(f"no bundled scenario {args.scenario!r} (see `crdtsim list`)")
    try:
        bench = measure(args.scenario, args.seeds, args.duration)
    except SimError as error:
        print(f"crdtsim bench apps: {error}", file=sys.stderr)
        return 1
    print(f"{bench.scenario}: {bench.seeds} seeds in {bench.wall:.1f}s  ({bench.runs_per_second:.2f} runs/s)")
    print(f"delivered    : {bench.messages_per_second:12,.0f} messages/s")
    print(f"simpy floor  : {bench.floor:12,.0f} events/s  (timeout + one callback)")
    print(f"app/floor    : {bench.messages_per_second / bench.floor:12.4f}")
    return 0
