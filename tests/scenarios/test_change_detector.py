"""CHANGE DETECTOR, not a statement of correctness: every bundled scenario, at its seed, gives
exactly the ``--json`` summary stored in ``change_detector/`` (every float, byte count and the
trace digest).

What each scenario must show is asserted by ``test_scenario_expectations.py``. This test only
says that something changed; when the change is intended (a new encoding, another drop order),
refresh the files with

    CRDTSIM_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/scenarios/test_change_detector.py

and say in the commit why the figures moved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bundled_runs import bundled_paths, params, summary_of

STORED = Path(__file__).parent / "change_detector"
REFRESH = "CRDTSIM_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/scenarios/test_change_detector.py"


@pytest.mark.parametrize("name", params())
def test_bundled_scenario_gives_the_stored_summary(name: str) -> None:
    got = summary_of(name)
    path = STORED / f"{name}.json"
    if os.environ.get("CRDTSIM_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"no stored summary for {name}: {REFRESH}"
    expected = json.loads(path.read_text())
    changed = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
    assert got == expected, f"{name} changed in {changed}; if intended: {REFRESH}"


def test_every_stored_summary_belongs_to_a_bundled_scenario() -> None:
    stored = sorted(p.relative_to(STORED).with_suffix("").as_posix() for p in STORED.rglob("*.json"))
    assert [n for n in stored if n not in bundled_paths()] == []
