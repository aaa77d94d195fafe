"""The delivery fast path (straight onto SimPy's heap) against SimPy's public ``schedule``.

The fast path uses SimPy internals; these runs must be the same event by event with every
delivery scheduled through ``Environment.schedule`` instead.
"""

from typing import Any

import pytest
from sim_helpers import pair

import sim.network
from sim.cli import bundled
from sim.scenario import Scenario, run_scenario


def _events(world: Any) -> list[tuple[int, float, str, dict[str, Any]]]:
    return [(e.seq, e.t, e.kind, dict(e.fields)) for e in world.trace.events]


def _scenario_run(fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(sim.network, "HEAP_FAST_PATH", fast)
    return run_scenario(Scenario.from_yaml(bundled()["quickstart"]), trace="full").world


def test_a_scenario_runs_the_same_through_the_public_api(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, public = _scenario_run(True, monkeypatch), _scenario_run(False, monkeypatch)
    events = _events(fast)
    assert sum(e[2] == "deliver" for e in events) > 100  # a run with real traffic
    assert events == _events(public)
    assert fast.trace.digest() == public.trace.digest()


@pytest.mark.parametrize("link", [
    {"latency": {"exponential": {"mean": "10ms"}}, "loss": 0.1, "duplicate": 0.2},
    {"latency": {"uniform": {"low": "1ms", "high": "30ms"}}, "fifo": True},
    {"latency": "2ms", "bandwidth": "1MB/s"},
])
def test_every_link_path_matches_the_public_api(link: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    runs = []
    for fast in (True, False):
        monkeypatch.setattr(sim.network, "HEAP_FAST_PATH", fast)
        world, got = pair(link, trace="full", seed=5)
        for i in range(200):
            world.schedule(i * 0.001, lambda i=i, w=world: w.node("a").send("b", "m", i, 500))
        world.run(duration="1s")
        runs.append((_events(world), [(m.id, m.copy, m.payload) for m in got]))
    assert runs[0][1] and runs[0] == runs[1]
