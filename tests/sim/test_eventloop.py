"""The world's event loop (``step`` inlined) against SimPy's public ``Environment.run``.

The loop reads SimPy internals; runs must be the same event by event through ``env.run``.
"""

from typing import Any

import pytest
import simpy

import sim.eventloop
from sim.cli import bundled
from sim.eventloop import run
from sim.scenario import Scenario, run_scenario


def _scenario_events(name: str, inline: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], str]:
    monkeypatch.setattr(sim.eventloop, "INLINE_LOOP", inline)
    world = run_scenario(Scenario.from_yaml(bundled()[name]), trace="full").world
    return [(e.seq, e.t, e.kind, dict(e.fields)) for e in world.trace.events], world.trace.digest()


@pytest.mark.parametrize("name", ["quickstart", "crash-restart", "partition-heal", "es-counter"])
def test_a_scenario_runs_the_same_through_simpy_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    inline, public = _scenario_events(name, True, monkeypatch), _scenario_events(name, False, monkeypatch)
    assert sum(e[2] == "deliver" for e in inline[0]) > 50  # a run with real traffic
    assert inline == public


# Zone senders (a zone's nodes reached without a link each, delivered in the world's loop
# itself): gossip among 40 nodes with loss, duplicates, a crash (deliveries to a node that is
# down) and a partition.
ZONE_GOSSIP = """
name: zone-gossip
seed: 3
tick: 100ms
duration: 1s
quiet_max: 200
zones: {n: 40}
topology:
  - {between: [n, n]}
links:
  default: {latency: {exponential: {mean: 10ms}}, loss: 0.1, duplicate: 0.05}
data:
  protocol: state
  keys: {total: GCounter}
workload: {rate: 200/s}
faults:
  - {at: 150ms, crash: n-3}
  - {at: 200ms, crash: n-7}
  - {at: 600ms, restart: n-3}
  - {at: 700ms, restart: n-7}
  - {at: 400ms, partition: [[n-1, n-2, n-4], [n-5, n-6]], duration: 200ms}
"""


def test_zone_deliveries_run_the_same_through_simpy_run(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = []
    for inline in (True, False):
        monkeypatch.setattr(sim.eventloop, "INLINE_LOOP", inline)
        world = run_scenario(Scenario.from_yaml_text(ZONE_GOSSIP), trace="full").world
        assert not world.network._links and world.metrics.delivered > 1_000  # zone senders only
        runs.append(([(e.seq, e.t, e.kind, dict(e.fields)) for e in world.trace.events], world.trace.digest(),
                     world.metrics.to_data()))
    inline, public = runs
    assert any(e[2] == "drop" and e[3].get("cause") == "node_down" for e in inline[0])
    assert any(e[3].get("copy") == 1 for e in inline[0] if e[2] == "deliver")
    assert inline == public


def _timeline(inline: bool, monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str]]:
    """Timeouts, a process and an event at exactly the ``until`` of a run, run in two calls."""
    monkeypatch.setattr(sim.eventloop, "INLINE_LOOP", inline)
    env = simpy.Environment()
    seen: list[tuple[float, str]] = []

    def proc(env: simpy.Environment) -> Any:
        for i in range(5):
            yield env.timeout(0.25)
            seen.append((env.now, f"proc {i}"))

    env.process(proc(env))
    for t in (0.5, 0.1, 1.0, 0.7):
        env.timeout(t).callbacks.append(lambda _e, t=t: seen.append((env.now, f"timeout {t}")))
    run(env, until=0.5)  # the timeout at 0.5 and the process's step at 0.5 run in the next call
    seen.append((env.now, "paused"))
    run(env, until=2)
    seen.append((env.now, "end"))
    return seen


def test_until_stops_before_events_at_that_time_as_simpy_does(monkeypatch: pytest.MonkeyPatch) -> None:
    inline = _timeline(True, monkeypatch)
    assert inline == _timeline(False, monkeypatch)
    assert inline.index((0.5, "paused")) < inline.index((0.5, "timeout 0.5"))
    assert inline[-1] == (2, "end")


@pytest.mark.parametrize("inline", [True, False])
def test_a_failed_event_nobody_defused_raises_a_copy_of_its_error(
        inline: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.eventloop, "INLINE_LOOP", inline)
    env = simpy.Environment()
    env.timeout(0.1).callbacks.append(lambda _e: env.event().fail(ValueError("boom")))
    with pytest.raises(ValueError, match="boom") as raised:
        run(env, until=1)
    assert isinstance(raised.value.__cause__, ValueError)


@pytest.mark.parametrize("inline", [True, False])
def test_until_in_the_past_is_refused(inline: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.eventloop, "INLINE_LOOP", inline)
    env = simpy.Environment(initial_time=1.0)
    with pytest.raises(ValueError, match="must be greater than the current simulation time"):
        run(env, until=0.5)
