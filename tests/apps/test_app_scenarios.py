"""The todo scenarios: challenges 0, 5 and 6, and the leak checker over many seeds."""

from __future__ import annotations

import pytest

from sim.apps.checks import find_leaks, work_for_disconnected
from sim.apps.runtime import EffectTypeError
from sim.cli import bundled, main
from sim.scenario import Scenario, build, run_scenario


def test_todo_runs_from_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(bundled()["todo"])]) == 0
    assert "[ok] app.leaks" in capsys.readouterr().out


def test_no_work_for_a_disconnected_client_and_it_catches_up() -> None:
    run = build(Scenario.from_yaml(bundled()["todo-on-demand"]))
    result = run.run()
    assert result.ok, result.checks
    events = run.world.trace.events
    computed_for_2 = [e.t for e in events if e.kind == "app.compute" and e.fields["subscriber"] == "client-2"
                      and e.fields["node"] != "client-2"]
    assert computed_for_2 and not [t for t in computed_for_2 if 0.5 < t < 2.5]
    assert not work_for_disconnected(events)
    titles = [dict(t)["title"] for t in run.app.node("client-2").value("my_todos")]
    assert titles == ["milk", "offline edit"]  # the offline edit went out after reconnecting


def test_incompatible_effect_rejected_in_the_scenario_and_raised_by_default() -> None:
    run = run_scenario(Scenario.from_yaml(bundled()["todo-incompatible"]))
    assert run.app.counters["effects_rejected"] >= 1
    assert "computation /db/calculate_user_count sent a GSetAdd op" in run.app.rejected[0]
    data = Scenario.from_yaml(bundled()["todo-incompatible"]).data
    data["app"]["on_incompatible"] = "raise"
    with pytest.raises(EffectTypeError, match="which holds a LWWRegister of number"):
        run_scenario(Scenario.from_dict(data))


def test_access_scenario_rejects_attacks() -> None:
    run = run_scenario(Scenario.from_yaml(bundled()["todo-access"]))
    assert run.result is not None and run.result.ok
    assert run.app.counters["sessions_rejected_forged"] == 1
    assert run.app.node("client-4").value("my_todos") == () or all(
        dict(t)["user"] == "u4" for t in run.app.node("client-4").value("my_todos"))


def _small(broken: bool) -> Scenario:
    data = Scenario.from_yaml(bundled()["todo-access"]).data
    data.update(duration="0.8s", zones={"db": 1, "server": 1, "client": 3})
    data["app"].update(workload={"rate": "8/s"}, attacks=[{"at": "0.3s", "node": "client-3", "forge": "u1"},
                                                          {"at": "0.4s", "node": "client-3", "replay": "client-1"}])
    if broken:
        data["app"]["variant"] = {"filter_rule": "filter_todos_broken"}
    return Scenario.from_dict(data)


@pytest.mark.slow
def test_no_leak_over_200_seeds_and_the_broken_rule_is_caught() -> None:
    scenario = _small(broken=False)
    attacks = 0
    for seed in range(200):
        run = run_scenario(scenario, seed=seed)
        assert run.result is not None and run.result.ok, (seed, run.result and run.result.checks)
        assert not find_leaks(run.world.trace.events, ["client"]), seed
        attacks += sum(n for k, n in run.app.counters.items() if k.startswith("sessions_rejected"))
    assert attacks >= 200
    caught = 0
    for seed in range(20):
        run = run_scenario(_small(broken=True), seed=seed)
        caught += bool(find_leaks(run.world.trace.events, ["client"]))
    assert caught >= 15  # a seed where only one user wrote cannot leak
