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


def _pair_world(link: dict[str, Any]) -> tuple[Any, list[Any]]:
    """``pair(link)`` with a full trace and 200 messages a -> b scheduled, 1 ms apart."""
    world, got = pair(link, trace="full", seed=5)
    for i in range(200):
        world.schedule(i * 0.001, lambda i=i, w=world: w.node("a").send("b", "m", i, 500))
    return world, got


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
        world, got = _pair_world(link)
        world.run(duration="1s")
        runs.append((_events(world), [(m.id, m.copy, m.payload) for m in got]))
    assert runs[0][1] and runs[0] == runs[1]


def _zone_world(zone_senders: bool, monkeypatch: pytest.MonkeyPatch, faults: list[Any]) -> Any:
    """gossip-1000 at 40 nodes (one zone channel), with ``faults`` and duplicates added."""
    monkeypatch.setattr(sim.network, "ZONE_SENDERS", zone_senders)
    data = Scenario.from_yaml(bundled()["gossip-1000"]).data
    links = {"default": {**data["links"]["default"], "duplicate": 0.05}}
    scenario = Scenario.from_data({**data, "zones": {"n": 40}, "duration": "1s", "links": links,
                                   "faults": faults})
    return run_scenario(scenario, trace="full").world


@pytest.mark.parametrize("faults", [
    [],
    [{"at": "0.2s", "partition": [["n-1", "n-2", "n-3"], ["n-4", "n-5"]], "duration": "0.5s"}],
    [{"at": "0.1s", "crash": "n-1"}, {"at": "0.4s", "restart": "n-1"}, {"at": "0.3s", "crash": "n-7"}],
], ids=["plain", "partition", "crashes"])
def test_zone_senders_run_the_same_as_a_link_per_pair(faults: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    shared, links = _zone_world(True, monkeypatch, faults), _zone_world(False, monkeypatch, faults)
    # the shared path really served the pairs; the other opened a link for each
    assert any(node._zone_out for node in shared.nodes) and not shared.network._links
    assert len(links.network._links) > 100
    events = _events(shared)
    assert sum(e[2] == "deliver" for e in events) > 100
    assert events == _events(links)
    assert shared.trace.digest() == links.trace.digest()
    # zone pairs are counted per node, not per link; every other figure is the same
    by_zone, by_link = shared.metrics.to_data(), links.metrics.to_data()
    assert not by_zone.pop("per_link") and by_link.pop("per_link")
    assert by_zone == by_link


def test_a_zone_sender_draws_loss_latency_and_duplicates_as_a_link_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    link = {"latency": {"exponential": {"mean": "10ms"}}, "loss": 0.1, "duplicate": 0.2}
    runs = []
    for zone_senders in (True, False):
        monkeypatch.setattr(sim.network, "ZONE_SENDERS", zone_senders)
        world, got = _pair_world(link)
        world.schedule(0.05, lambda w=world: w.crash("b"))
        world.schedule(0.08, lambda w=world: w.restart("b"))
        m = world.run(duration="1s").metrics
        assert m["duplicated"] and m["dropped"]["loss"] and m["dropped"]["node_down"]
        m.pop("per_link")
        runs.append((_events(world), [(m.id, m.copy, m.payload) for m in got], m))
    assert runs[0] == runs[1]
