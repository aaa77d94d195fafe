"""The run loop: ticks and phases.

``warm-up`` (ticks run, no workload, no faults) -> ``workload`` (operations issued, faults on
schedule) -> heal everything and restart crashed nodes -> ``quiet`` (no new operations; tick
until no message is in flight and no pending hook reports work, at most ``quiet_max`` ticks)
-> checks -> :class:`RunResult`.

Never going quiet is reported as a failed ``"quiescence"`` check (a liveness failure), not a
hang. Periodic node tasks run from ONE tick process in sorted node order, so a tick over 100k
nodes costs one loop, not 100k processes.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from sim.checks import CheckResult
from sim.deprecation import renamed
from sim.errors import ConfigError, SimError
from sim.units import parse_duration

if TYPE_CHECKING:
    from sim.world import World

__all__ = ["RunResult", "run"]


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run produced. ``ok`` is True when the world went quiet and every check passed."""

    seed: int
    phases: dict[str, tuple[float, float]]
    ticks: int
    quiesced: bool
    checks: tuple[CheckResult, ...]
    metrics: dict[str, Any]
    trace_digest: str | None
    trace_events: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """The run went quiet within its bound and every check held."""
        return self.quiesced and all(c.ok for c in self.checks)

    def to_data(self) -> dict[str, Any]:
        """The result as plain data: seed, outcome, phases, checks, metrics and the trace digest."""
        return {
            "seed": self.seed, "ok": self.ok, "quiesced": self.quiesced, "ticks": self.ticks,
            "phases": {k: list(v) for k, v in self.phases.items()},
            "checks": [c.to_data() for c in self.checks], "metrics": self.metrics,
            "trace_digest": self.trace_digest, "trace_events": self.trace_events,
        }

    def as_dict(self) -> dict[str, Any]:
        """Deprecated name of :meth:`to_data`."""
        renamed("RunResult.as_dict", "RunResult.to_data")
        return self.to_data()


def _tick_loop(world: World) -> Generator[simpy.Event, None, None]:
    tick = 0
    timeout = world.env.timeout
    while True:
        world.tick_count = tick
        world.metrics.roll_tick(tick)
        every_tick = world.every_tick()
        if every_tick is not None:
            for node, task in every_tick:  # the same order, without the modulo per task
                if node.up:
                    task()
        else:
            for _, _, every, node, task in world.tasks():
                if node.up and tick % every == 0:
                    task()
        tick += 1
        yield timeout(world.tick)


def _advance(world: World, until: float) -> None:
    if until > world.env.now:
        world.network.run_events(until)


_frozen_at_exit = False
#: whether a world ran with the cyclic GC disabled in this process (see run)
_ran_without_gc = False


def _freeze_at_exit() -> None:
    """At exit, leave every object to the operating system (``gc.freeze()``) instead of
    letting the interpreter's final collection traverse and free a large world one object at a
    time (at 20,000 nodes that took 2 of 15 CPU seconds). Only the exit is affected: in the
    process, a world that nothing refers to is collected as before."""
    global _frozen_at_exit
    if not _frozen_at_exit:
        atexit.register(gc.freeze)
        _frozen_at_exit = True


def run(world: World, duration: Any = "10s", warmup: Any = 0.0, quiet_max: int = 1000,
        require_connected: bool = True) -> RunResult:
    """Run ``world`` through its phases once and return the result.

    When ``world.gc_disabled_during_run()``, Python's cyclic GC is disabled for the run and
    re-enabled afterwards (even if the run raises): the engine's per-message objects form no
    cycles, but their allocations trigger collections that rescan every node, link and graph
    object of a large world. What exists before the run and what the run keeps join the
    oldest generation without being scanned (``gc.freeze``/``unfreeze``), so cyclic garbage
    made by components waits for the next full collection, or for the next such run, which
    collects first from the process's second one on; at the process's exit such a world is
    left to the operating system (:func:`_freeze_at_exit`).
    """
    global _ran_without_gc
    if not (world.gc_disabled_during_run() and gc.isenabled()):
        return _run(world, duration, warmup, quiet_max, require_connected)
    if _ran_without_gc:
        # A world run before in this process may be garbage by now (a sweep, a notebook):
        # freed first, or two large worlds would share the run's peak. The first one has no
        # predecessor, and a build leaves next to none (10 objects at 1,000 nodes, none at
        # 100,000), so it skips the full collection (0.57 s at 100,000 nodes).
        gc.collect()
    _ran_without_gc = True
    gc.disable()
    _freeze_at_exit()
    try:
        return _run(world, duration, warmup, quiet_max, require_connected)
    finally:
        # What exists now, from before the run and made by it, joins the oldest generation
        # unscanned (freeze, then unfreeze: no young collection walks the whole new state once
        # the GC is back on; with the GC off, nothing was collected in between).
        gc.freeze()
        gc.unfreeze()
        gc.enable()


def _run(world: World, duration: Any, warmup: Any, quiet_max: int,
         require_connected: bool) -> RunResult:
    if world.started:
        raise SimError("a world runs once; build a new World for another run")
    span = parse_duration(duration, "duration")
    warm = parse_duration(warmup, "warmup")
    if isinstance(quiet_max, bool) or not isinstance(quiet_max, int) or quiet_max < 0:
        raise ConfigError("quiet_max", "must be a non-negative integer of ticks", quiet_max)
    world.validate(span, require_connected)
    world.started = True
    env, trace = world.env, world.trace
    phases: dict[str, tuple[float, float]] = {}

    trace.record("phase", name="start")
    for node in world.nodes:
        node.start()
    env.process(_tick_loop(world))

    _advance(world, env.now + warm)
    phases["warmup"] = (0.0, env.now)

    t0 = env.now
    trace.record("phase", name="workload")
    for i, fault in enumerate(world.faults):
        label = f"fault-{i}"
        world.schedule(fault.at, lambda f=fault, lb=label: world.apply(f, lb))  # type: ignore[misc]
    for workload in world.workloads:
        workload.start(world, span)
    _advance(world, t0 + span)
    for workload in world.workloads:
        workload.stop()
    phases["workload"] = (t0, env.now)

    trace.record("phase", name="heal")
    world.heal()
    for node in world.nodes:
        if not node.up:
            world.restart(node.id)

    t1 = env.now
    trace.record("phase", name="quiet")
    quiesced = False
    for waited in range(quiet_max + 1):
        if world.network.in_flight == 0 and not world.pending():
            quiesced = True
            break
        if waited == quiet_max:
            break
        _advance(world, env.now + world.tick)
    phases["quiet"] = (t1, env.now)

    world.history.close()
    results: list[CheckResult] = []
    if not quiesced:
        pending = world.pending()
        results.append(CheckResult(
            "quiescence", False,
            f"not quiet after {quiet_max} ticks: {world.network.in_flight} messages in flight"
            + (", components still pending" if pending else ""),
            {"in_flight": world.network.in_flight, "pending": pending, "quiet_max": quiet_max},
        ))
    try:
        for name, check in world.checks:
            result = check(world)
            trace.record("check", name=name, ok=result.ok)
            results.append(result)
    finally:
        world.end()
    trace.record("phase", name="end")
    return RunResult(
        seed=world.seed, phases=phases, ticks=world.tick_count, quiesced=quiesced,
        checks=tuple(results), metrics=world.metrics.to_data(),
        trace_digest=trace.digest(), trace_events=trace.count,
    )
