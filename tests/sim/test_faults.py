import pytest
from sim_helpers import pair

from sim.errors import ConfigError
from sim.faults import (
    Crash,
    FaultSchedule,
    Heal,
    LossBurst,
    Partition,
    Restart,
    fault_from_spec,
    random_schedule,
)
from sim.world import World


def three() -> World:
    w = World(seed=1, trace="full")
    w.add_nodes("eu", 2)
    w.add_nodes("us", 1)
    w.connect_zones("eu", "eu")
    w.connect_zones("eu", "us")
    return w


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ([Crash(1, "ghost")], "crash.node must name a known node, found 'ghost'"),
        ([Partition(1, (("eu-1", "mars"),))], "must name known nodes or zones, found 'mars'"),
        ([Partition(1, (("eu-1",), ("eu-1", "us-1")))], "must name each node once, found 'eu-1'"),
        ([Partition(1, (("eu",), ("eu-2",)))], "must name each node once, found 'eu-2'"),
        ([Restart(1, "eu-1")], "restart.node must be down at that time (it is up), found 'eu-1'"),
        ([Crash(1, "eu-1"), Restart(2, "eu-1"), Restart(3, "eu-1")], "faults[2]"),
        ([Crash(1, "eu-1"), Crash(2, "eu-1")], "must be up at that time"),
    ],
)
def test_invalid_schedules(faults: list, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        three().set_faults(faults)
    assert message in str(info.value)


def test_fault_after_the_workload_phase_is_rejected() -> None:
    w = three()
    w.set_faults([Heal(5)])
    with pytest.raises(ConfigError, match="within the workload phase"):
        w.run(duration="2s")


def test_loss_burst_only_within_its_window() -> None:
    world, got = pair()
    world.set_faults([LossBurst(1.0, "a", "b", duration=1.0)])
    for i in range(30):
        world.schedule(0.05 + i * 0.1, lambda i=i: world.node("a").send("b", "m", i))
    r = world.run(duration="3s")
    delivered = {m.payload for m in got}
    assert delivered == set(range(10)) | set(range(20, 30))
    assert r.metrics["dropped"]["loss"] == 10


def test_faults_and_heals_are_traced() -> None:
    w = three()
    w.set_faults([Partition(0.5, (("eu",), ("us",)), duration=0.5), Crash(1, "us-1")])
    w.run(duration="2s")
    kinds = [(e.kind, e.fields.get("action")) for e in w.trace.events]
    assert ("fault", "partition") in kinds and ("fault", "crash") in kinds
    assert [e.fields["label"] for e in w.trace.events if e.kind == "heal"] == ["fault-0", "all"]
    assert ("restart", None) in kinds  # crashed nodes come back at the end of the workload


def test_specs() -> None:
    assert fault_from_spec({"at": "1s", "crash": "a"}) == Crash(1.0, "a")
    assert fault_from_spec({"at": 0, "loss_burst": "a", "to": "b", "duration": "2s"}) == LossBurst(
        0.0, "a", "b", 2.0
    )
    with pytest.raises(ConfigError, match="found 'colour'"):
        fault_from_spec({"at": 0, "crash": "a", "colour": 1})


def test_random_schedule_is_valid_and_seeded() -> None:
    def make(seed: int) -> FaultSchedule:
        w = World(seed=seed)
        w.add_nodes("z", 6)
        w.connect("z", "ring")
        return random_schedule(w, "20s", rate=2.0, kinds=("partition", "crash", "loss_burst",
                                                           "clock", "isolate"))

    a = make(3)
    assert len(a) > 10
    assert repr(a) == repr(make(3))
    assert repr(a) != repr(make(4))
    w = World(seed=3)
    w.add_nodes("z", 6)
    w.connect("z", "ring")
    w.set_faults(a)  # validates
    assert w.run(duration="20s").quiesced
