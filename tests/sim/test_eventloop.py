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
