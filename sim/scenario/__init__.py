"""Scenarios: YAML (or Python dicts) describing a world, its data, workload, faults and checks."""

from sim.scenario.build import ScenarioRun, build, run_scenario
from sim.scenario.errors import ScenarioError
from sim.scenario.load import Scenario
from sim.scenario.schema import scenario_schema

__all__ = ["Scenario", "ScenarioError", "ScenarioRun", "build", "run_scenario", "scenario_schema"]
