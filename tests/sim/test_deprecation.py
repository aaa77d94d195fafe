"""Each old name of the naming scheme (docs/architecture.md, "Names") warns and gives what the
new name gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sim import report
from sim.apps import AppSpec, Registry
from sim.checks import CheckResult
from sim.deprecation import renamed
from sim.hunt import HuntResult
from sim.network import LinkModel
from sim.scenario import Scenario, run_scenario
from sim.sweep import SeedRun, SweepResult
from sim.world import World


def _run_result() -> Any:
    w = World(seed=3)
    w.add_nodes("dc", 2)
    w.connect_zones("dc", "dc")
    return w.run(duration="0.5s")


SCENARIO = {"seed": 2, "zones": {"dc": 2}, "duration": "0.5s", "data": {"keys": {"n": "GCounter"}},
            "workload": {"rate": "10/s"}}
APP = {"zones": {"db": {"todos": {"crdt": "LWWMap", "value": "object"}}}}


def _scenario_run() -> Any:
    return run_scenario(Scenario.from_data(SCENARIO))


def _sweep_result() -> SweepResult:
    return SweepResult("s.yaml", [SeedRun(1, True, digest="d1"), SeedRun(2, False, ("convergence",))])


def _hunt_result() -> HuntResult:
    return HuntResult(scenario="s", seed=1, found=False, runs=3, seconds=0.5)


#: (what the warning names, the old call, the new call)
ALIASES: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
    ("CheckResult.as_dict", lambda: CheckResult("c", False, "m", {"k": 1}).as_dict(),
     lambda: CheckResult("c", False, "m", {"k": 1}).to_data()),
    ("RunResult.as_dict", lambda: _run_result().as_dict(), lambda: _run_result().to_data()),
    (r"sim\.report\.summary\(run\)", lambda: report.summary(_scenario_run()), lambda: _scenario_run().summary()),
    ("SweepResult.to_json", lambda: _sweep_result().to_json(), lambda: _sweep_result().summary()),
    ("HuntResult.to_json", lambda: _hunt_result().to_json(), lambda: _hunt_result().summary()),
    ("Scenario.from_dict", lambda: Scenario.from_dict(SCENARIO).data, lambda: Scenario.from_data(SCENARIO).data),
    ("LinkModel.from_spec", lambda: LinkModel.from_spec({"latency": "5ms", "loss": 0.1}),
     lambda: LinkModel.from_data({"latency": "5ms", "loss": 0.1})),
    ("AppSpec.from_dict", lambda: AppSpec.from_dict(APP, Registry("r")).zones,
     lambda: AppSpec.from_data(APP, Registry("r")).zones),
]


@pytest.mark.parametrize(("old", "call_old", "call_new"), ALIASES, ids=[a[0] for a in ALIASES])
def test_an_old_name_warns_and_forwards(old: str, call_old: Callable[[], Any], call_new: Callable[[], Any]) -> None:
    with pytest.warns(DeprecationWarning, match=rf"^{old} is deprecated, use ") as caught:
        got = call_old()
    assert got == call_new()
    assert caught[0].filename == __file__  # the warning points at the caller, not at the alias


def test_renamed_names_both_names() -> None:
    with pytest.warns(DeprecationWarning, match=r"^a\.old is deprecated, use b\.new "):
        renamed("a.old", "b.new")
