"""crdtsim from Python: the command line's ``run``, ``sweep`` and ``hunt`` as functions.

A thin façade over :mod:`sim`: each function takes what the command takes (a scenario file, a
plain dict, or a loaded :class:`~sim.scenario.Scenario`) and returns the result object the
command renders. Bad input raises :class:`~sim.errors.SimError` (a
:class:`~sim.scenario.ScenarioError` for a scenario) with the one-line message the command
prints.

>>> import crdtsim
>>> scenario = crdtsim.load("scenarios/hunt/summing-merge.yaml")
>>> crdtsim.run(scenario).ok
False
>>> found = crdtsim.hunt(scenario, budget=20, workers=0)
>>> found.found, found.check, found.minimal.size
(True, 'convergence', 1)
>>> [c.name for c in crdtsim.run(found.minimal_yaml).checks if not c.ok]
['quiescence', 'convergence', 'invariants']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.errors import SimError
from sim.hunt import HuntResult, hunt
from sim.runloop import RunResult
from sim.scenario import Scenario, ScenarioError, run_scenario
from sim.sweep import SweepResult, sweep

__all__ = ["HuntResult", "RunResult", "Scenario", "ScenarioError", "SimError", "SweepResult", "hunt", "load",
           "run", "sweep"]


def load(scenario: str | Path | dict[str, Any] | Scenario) -> Scenario:
    """A validated scenario from a file path, a YAML text (one with a newline), or a plain dict.

    A name of a bundled scenario (``crdtsim list``) is looked up as ``crdtsim run NAME`` does.
    """
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, dict):
        return Scenario.from_data(scenario)
    if isinstance(scenario, str) and "\n" in scenario:
        return Scenario.from_yaml_text(scenario, "<text>")
    path = Path(scenario)
    if not path.exists() and path.suffix not in (".yaml", ".yml"):
        from sim.cli import bundled

        path = bundled().get(str(scenario), path)
    return Scenario.from_yaml(path)


def run(scenario: str | Path | dict[str, Any] | Scenario, seed: int | None = None,
        out: str | Path | None = None) -> RunResult:
    """Run ``scenario`` (under ``seed`` instead of its own) like ``crdtsim run``; its result."""
    finished = run_scenario(load(scenario), seed=seed, out=out)
    assert finished.result is not None
    return finished.result
