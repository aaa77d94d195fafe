"""Every bundled scenario, at its fixed seed, gives the summary stored in ``golden/``.

A behaviour change that alters any figure (convergence times, messages, bytes, drops, the
trace digest) fails here; when the change is intended, regenerate the files with
``CRDTSIM_UPDATE_GOLDEN=1 python -m pytest tests/scenarios`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sim.cli import bundled
from sim.scenario import Scenario, run_scenario

GOLDEN = Path(__file__).parent / "golden"
SLOW = {"gossip-1000", "delta-vs-state"}


def _params() -> list[object]:
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in bundled()]


@pytest.mark.parametrize("name", _params())
def test_bundled_scenario_matches_its_golden_summary(name: str) -> None:
    run = run_scenario(Scenario.from_yaml(bundled()[name]))
    got = json.loads(json.dumps(run.summary(), sort_keys=True))
    path = GOLDEN / f"{name}.json"
    if os.environ.get("CRDTSIM_UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert got == expected
    assert got["ok"], got["checks"]  # every bundled scenario demonstrates a system that works


def test_every_bundled_scenario_has_a_golden_file_and_a_description() -> None:
    names = set(bundled())
    assert {p.stem for p in GOLDEN.glob("*.json")} == names
    for name, path in bundled().items():
        assert Scenario.from_yaml(path).get("description"), name
