"""A run without entities or a generated topology does not import event sourcing or networkx."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_loading_and_building_a_valid_scenario_imports_neither_networkx_nor_event_sourcing() -> None:
    code = ("import sys; from sim.cli import bundled; from sim.scenario import Scenario, build; "
            "build(Scenario.from_yaml(bundled()['gossip-1000']), seed=None); "
            "print(sorted(m for m in ('networkx', 'sim.eventsourcing') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_invalid_scenario_gets_jsonschema_s_explanation_at_its_line() -> None:
    from sim.scenario import Scenario, ScenarioError

    with pytest.raises(ScenarioError, match=r"x.yaml:2: seed: expected an integer, found 'many'"):
        Scenario.from_yaml_text("zones: {dc: 3}\nseed: many\n", "x.yaml")
