import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.checks import CheckResult
from sim.errors import ConfigError, SimError
from sim.faults import random_schedule
from sim.workload import Workload
from sim.world import World

ROOT = Path(__file__).resolve().parents[2]


def random_world(seed: int) -> World:
    """A small world with gossip, jittery lossy links, a workload and random faults."""
    w = World(seed=seed, tick="50ms")
    w.add_nodes("eu", 4)
    w.add_nodes("us", 3)
    w.connect("eu", "ring")
    w.connect("us", "complete")
    w.define_channel("wan", {"latency": {"exponential": {"mean": "40ms", "min": "20ms"}},
                             "loss": 0.05, "duplicate": 0.05})
    w.connect_zones("eu", "us", channel="wan")
    w.set_default_link({"latency": {"uniform": {"low": "1ms", "high": "9ms"}}})
    for node in w.nodes:
        node.on_message("gossip", lambda m: None)
        rng = w.rng(f"gossip:{node.id}")
        node.every(2, lambda node=node, rng=rng: node.send(
            rng.choice(node.neighbours()), "gossip", None, 16))
        node.on_message("op", lambda m: None)
    w.add_workload(Workload(
        lambda n, op, rng: n.send(n.neighbours()[0], "op", op, 8), rate="30/s",
        mix={"put": 2, "get": 1}))
    w.set_faults(random_schedule(w, "3s", rate=2.0))
    return w


def test_same_seed_same_digest_different_seed_different_digest() -> None:
    a = random_world(11).run(duration="3s")
    b = random_world(11).run(duration="3s")
    c = random_world(12).run(duration="3s")
    assert a.trace_digest == b.trace_digest and a.metrics == b.metrics
    assert a.trace_digest != c.trace_digest


def test_digest_is_independent_of_pythonhashseed() -> None:
    code = ("import sys; sys.path.insert(0, 'tests/sim'); from test_world import random_world; "
            "print(random_world(5).run(duration='3s').trace_digest)")
    digests = set()
    for hashseed in ("0", "1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_quiescence_waits_for_pending_hooks() -> None:
    w = World(seed=1, tick="100ms")
    w.add_nodes("z", 2)
    w.connect_zones("z", "z")
    done_at: list[float] = []
    w.add_pending(lambda: w.now < 2.0)
    w.add_check("late", lambda world: CheckResult("late", True, details={"t": world.now}))
    r = w.run(duration="1s")
    done_at.append(r.phases["quiet"][1])
    assert r.ok and r.quiesced
    assert done_at[0] == pytest.approx(2.0)
    assert r.checks[0].details["t"] == pytest.approx(2.0)


def test_never_quiet_is_a_reported_liveness_failure() -> None:
    w = World(seed=1, tick="100ms")
    w.add_nodes("z", 2)
    w.connect_zones("z", "z")
    w.add_pending(lambda: True)
    r = w.run(duration="1s", quiet_max=20)
    assert not r.quiesced and not r.ok
    assert r.checks[0].name == "quiescence" and not r.checks[0].ok
    assert r.phases["quiet"][1] - r.phases["quiet"][0] == pytest.approx(2.0)


def test_failed_check_is_a_result() -> None:
    w = World(seed=1)
    w.add_nodes("z", 1)
    w.add_check("nope", lambda world: CheckResult("nope", False, "replicas differ"))
    r = w.run(duration="1s")
    assert r.quiesced and not r.ok


def test_world_runs_once_and_rejects_bad_input() -> None:
    w = World(seed=1)
    w.add_nodes("z", 1)
    w.run(duration="1s")
    with pytest.raises(SimError, match="runs once"):
        w.run(duration="1s")
    with pytest.raises(ConfigError, match="found 'soon'"):
        World(seed=1, tick="soon")
    with pytest.raises(ConfigError, match="found 1.5"):
        World(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="found 'verbose'"):
        World(trace="verbose")


DOC_EXAMPLE = ROOT / "docs" / "engine.md"


def test_docs_example_runs() -> None:
    """The example in docs/engine.md stays true."""
    text = DOC_EXAMPLE.read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, str(DOC_EXAMPLE), "exec"), namespace)


def test_schedule_calls_a_function_that_returns_a_value_and_ignores_the_value() -> None:
    w = World(seed=1)
    w.add_nodes("dc", 1)
    calls: list[float] = []

    def note() -> int:  # returns something, as a command or an update does
        calls.append(w.now)
        return len(calls)

    w.schedule(0.25, note)
    w.node("dc-1").after(0.5, note)
    w.run(duration="1s")
    assert calls == [0.25, 0.5]
