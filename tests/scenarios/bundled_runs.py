"""The bundled scenarios, as the wheel ships them, and their runs at their own seeds.

Bundled means every YAML file the package carries as ``sim.bundled`` (pyproject.toml's
package-data: ``*.yaml`` and ``hunt/*.yaml``): ``crdtsim list`` shows the top-level ones, and
``crdtsim hunt VARIANT`` runs the hunt targets. A scenario is named by its path below
``scenarios/`` without the suffix: ``quickstart``, ``hunt/op-unreliable``.

A run's summary is kept for the rest of the test process, so the expectation test and the
change detector (tests/scenarios/test_change_detector.py) share one run of each scenario.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.cli import scenarios_dir
from sim.scenario import Scenario, ScenarioRun, run_scenario

#: scenarios that take over ~20 s on a busy two-core machine
SLOW = frozenset({"gossip-1000", "delta-vs-state"})
#: scenarios run here at fewer nodes (their ``zones`` replaced), the same otherwise: at full
#: size gossip-100k takes minutes (``crdtsim bench goals --only 100k`` runs it so);
#: tests/scenarios/test_gossip_100k.py validates the full file and runs it at 10,000 nodes
REDUCED: dict[str, dict[str, int]] = {"gossip-100k": {"n": 2000}}

_SUMMARIES: dict[str, dict[str, Any]] = {}


def bundled_paths() -> dict[str, Path]:
    """Every bundled scenario by name, in name order."""
    root = scenarios_dir()
    found = [*root.glob("*.yaml"), *root.glob("hunt/*.yaml")]
    return {p.relative_to(root).with_suffix("").as_posix(): p for p in sorted(found)}


def params() -> list[Any]:
    """The names as pytest parameters, the slow ones marked."""
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in bundled_paths()]


def plain_summary(run: ScenarioRun) -> dict[str, Any]:
    """The run's ``--json`` summary as JSON reads it back (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(run.summary(), sort_keys=True))


def bundled_scenario(name: str, zones: dict[str, int] | None = None) -> Scenario:
    """Bundled scenario ``name`` as its file says, but with ``zones`` (by default the sizes
    :data:`REDUCED` gives it, if any) in place of its own, and validated again at that size."""
    scenario = Scenario.from_yaml(bundled_paths()[name])
    zones = zones if zones is not None else REDUCED.get(name)
    if zones is None:
        return scenario
    return Scenario.from_data({**scenario.data, "zones": zones}, source=scenario.source)


def run_bundled(name: str, out: Path | None = None) -> tuple[ScenarioRun, dict[str, Any]]:
    """Run bundled scenario ``name`` at its seed (its files, such as SQLite journals, in ``out``;
    at the size :data:`REDUCED` gives, if any); its summary is kept for :func:`summary_of`."""
    run = run_scenario(bundled_scenario(name), out=out)
    _SUMMARIES[name] = plain_summary(run)
    return run, _SUMMARIES[name]


def summary_of(name: str) -> dict[str, Any]:
    """The summary of bundled scenario ``name`` at its seed (run now unless already run)."""
    if name not in _SUMMARIES:
        run_bundled(name)
    return _SUMMARIES[name]
