import pytest
from sim_helpers import pair

from sim.faults import ClockChange, Crash, Restart


def test_crash_drops_messages_clears_volatile_keeps_durable() -> None:
    world, got = pair({"latency": "100ms"})
    b = world.node("b")
    starts: list[float] = []
    crashes: list[float] = []

    def start() -> None:
        starts.append(world.now)
        b.volatile["cache"] = "warm"

    b.on_start(start)
    b.on_crash(lambda: crashes.append(world.now))
    b.durable["log"] = [1, 2]
    world.set_faults([Crash(0.5, "b"), Restart(1.5, "b")])
    world.schedule(0.45, lambda: world.node("a").send("b", "m", "lost"))  # arrives at 0.55
    while_down: list[dict[str, str]] = []
    world.schedule(0.6, lambda: while_down.append(dict(b.volatile)))
    world.schedule(2.0, lambda: world.node("a").send("b", "m", "kept"))
    r = world.run(duration="3s")
    assert [m.payload for m in got] == ["kept"]
    assert r.metrics["dropped"]["node_down"] == 1
    assert starts == [0.0, 1.5]  # restart reruns start hooks
    assert crashes == [0.5]
    assert b.durable["log"] == [1, 2]
    assert while_down == [{}]  # the crash cleared volatile state
    assert b.volatile == {"cache": "warm"}  # refilled by the start hook


def test_timers_of_a_crashed_incarnation_never_fire() -> None:
    world, _ = pair()
    fired: list[float] = []
    world.node("a").on_start(lambda: world.node("a").after(1.0, lambda: fired.append(world.now)))
    world.set_faults([Crash(0.5, "a"), Restart(0.7, "a")])
    world.run(duration="3s")
    assert fired == [pytest.approx(1.7)]


def test_clock_skew_and_drift() -> None:
    world, _ = pair()
    readings: dict[str, float] = {}
    a = world.node("a")
    world.set_faults([ClockChange(1.0, "a", skew=0.25), ClockChange(2.0, "a", drift=0.5)])
    world.schedule(1.5, lambda: readings.setdefault("skewed", a.local_time()))
    world.schedule(3.0, lambda: readings.setdefault("drifted", a.local_time()))
    world.schedule(3.0, lambda: readings.setdefault("b", world.node("b").local_time()))
    world.run(duration="4s")
    assert readings["skewed"] == pytest.approx(1.75)
    assert readings["drifted"] == pytest.approx(2.25 + 1.5)
    assert readings["b"] == pytest.approx(3.0)


def test_periodic_tasks_and_sorted_neighbours() -> None:
    from sim.world import World

    w = World(seed=1, tick="100ms")
    w.add_nodes("z", 12)
    w.connect("z", "ring")
    assert w.node("z-1").neighbours() == ["z-12", "z-2"]
    calls: list[tuple[str, int]] = []
    for n in reversed(w.node_ids):
        w.node(n).every(2, lambda n=n: calls.append((n, w.tick_count)))
    w.run(duration="0.5s")
    ticks = sorted({t for _, t in calls})
    assert ticks == [0, 2, 4]
    assert [n for n, t in calls if t == 0] == sorted(w.node_ids)


@pytest.mark.parametrize("mixed", [False, True], ids=["every-tick", "mixed-periods"])
def test_tasks_run_by_node_then_registration_and_skip_down_nodes(mixed: bool) -> None:
    from sim.world import World

    w = World(seed=1, tick="100ms")
    w.add_nodes("z", 3)
    w.connect("z", "ring")
    calls: list[tuple[int, str, str]] = []
    for n in reversed(w.node_ids):
        for name in ("first", "second"):
            w.node(n).every(1, lambda n=n, name=name: calls.append((w.tick_count, n, name)))
    if mixed:
        w.node("z-2").every(2, lambda: calls.append((w.tick_count, "z-2", "even")))
    assert (w.every_tick() is None) is mixed
    w.schedule(0.15, lambda: w.node("z-3").crash())
    w.run(duration="0.3s")
    expected = []
    for tick in range(3):
        for n in ("z-1", "z-2", "z-3"):
            if n == "z-3" and tick >= 2:
                continue  # down: its tasks are skipped
            expected += [(tick, n, "first"), (tick, n, "second")]
            if mixed and n == "z-2" and tick % 2 == 0:
                expected.append((tick, n, "even"))
    assert calls[:len(expected)] == expected


def test_one_handler_per_kind() -> None:
    from sim.errors import ConfigError

    world, _ = pair()
    with pytest.raises(ConfigError, match="one handler"):
        world.node("b").on_message("m", lambda m: None)


def test_a_paused_task_runs_once_resumed_in_its_registration_place() -> None:
    from sim.world import World

    w = World(seed=1, tick="100ms")
    w.add_nodes("z", 2)
    w.connect("z", "ring")
    calls: list[tuple[int, str]] = []
    node = w.node("z-1")

    def paused() -> None:
        calls.append((w.tick_count, "paused"))

    node.every(1, paused, paused=True)
    node.every(1, lambda: calls.append((w.tick_count, "later")))
    w.schedule(0.15, lambda: node.resume(paused))
    w.schedule(0.25, lambda: node.resume(paused))  # resuming a running task changes nothing
    w.run(duration="0.35s")
    assert calls == [(0, "later"), (1, "later"), (2, "paused"), (2, "later"), (3, "paused"), (3, "later")]
