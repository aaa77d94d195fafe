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
from sim.report import summary
from sim.scenario import Scenario, run_scenario

GOLDEN = Path(__file__).parent / "golden"
SLOW = {"gossip-1000", "delta-vs-state"}
#: scenarios whose golden run is the same scenario at fewer nodes (zones -> node count); the
#: full size runs in test_gossip_100k_converges_at_full_size
REDUCED = {"gossip-100k": {"n": 2000}}


def _params() -> list[object]:
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in bundled()]


def _golden_scenario(name: str) -> Scenario:
    scenario = Scenario.from_yaml(bundled()[name])
    if name in REDUCED:
        scenario = Scenario.from_dict({**scenario.data, "zones": REDUCED[name]}, source=scenario.source)
    return scenario


@pytest.mark.parametrize("name", _params())
def test_bundled_scenario_matches_its_golden_summary(name: str) -> None:
    run = run_scenario(_golden_scenario(name))
    got = json.loads(json.dumps(summary(run), sort_keys=True))
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


@pytest.mark.slow
def test_gossip_100k_converges_at_full_size() -> None:
    scenario = Scenario.from_yaml(bundled()["gossip-100k"])
    assert scenario.data["zones"] == {"n": 100_000}
    run = run_scenario(scenario)
    got = summary(run)
    assert got["ok"] and got["quiesced"], got["checks"]
    assert got["keys"]["news"]["converged"] and len(got["keys"]["news"]["value"]) == 1
    # every replica heard it: at least one delivered state message per node but the writer
    assert got["messages"]["total"] > 100_000
