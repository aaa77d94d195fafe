"""The two schema validators a scenario meets agree.

A compiled validator (``jsonschema_rs``) decides whether a scenario is valid; only one it
rejects goes to ``jsonschema``, which explains why (sim/scenario/load.py). A scenario the fast
one accepted and ``jsonschema`` would reject would run unchecked, so the two must give the same
verdict on every scenario: the bundled ones, and mutations of them like the hostile-input tests.
"""

from __future__ import annotations

import datetime
import math
import subprocess
import sys
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.benchmarks.hostile import WRONG_VALUES, bundled, paths, replaced
from sim.cli import bundled as bundled_files
from sim.scenario import Scenario, ScenarioError
from sim.scenario.load import _fast_validator, _without_app
from sim.scenario.schema import scenario_schema

SCENARIOS = bundled()


def _verdicts(data: Any) -> tuple[bool, bool]:
    """(jsonschema_rs's verdict, jsonschema's) on ``data``; the first as the loader asks it
    (without the app model's schema when there is no app), and the same as the whole one's."""
    schema = scenario_schema()
    reference = next(jsonschema.Draft202012Validator(schema).iter_errors(data), None) is None
    fast = jsonschema_rs.validator_for(schema).is_valid(data)
    if isinstance(data, dict) and "app" not in data:
        assert _fast_validator(_without_app(schema)).is_valid(data) == fast
    return fast, reference


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_both_validators_accept_every_bundled_scenario(name: str) -> None:
    assert _verdicts(SCENARIOS[name]) == (True, True)


_VALUES = st.one_of(
    st.sampled_from([v for v in WRONG_VALUES if not (isinstance(v, float) and math.isnan(v))]),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["10ms", "1s", "2.5s", "-1s", "100/s", "1MB", "0.5", "push", "pull", "GCounter",
                     "ORSet", "complete", "ring", "majority", "all", "n", "n-1"]),
    st.lists(st.integers(-3, 3) | st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(-3, 3) | st.none() | st.text(max_size=3), max_size=3),
)


@given(name=st.sampled_from(sorted(SCENARIOS)), data=st.data())
def test_both_validators_give_a_mutated_scenario_the_same_verdict(name: str, data: st.DataObject) -> None:
    scenario = SCENARIOS[name]
    mutated = scenario
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(list(paths(mutated))), label="path")
        mutated = replaced(mutated, path, data.draw(_VALUES, label="value"))
    fast, reference = _verdicts(mutated)
    assert fast == reference, mutated


def test_a_value_json_has_no_type_for_goes_to_jsonschema() -> None:
    # YAML's dates and integer keys are no JSON: the compiled validator refuses to look at them
    fast = _fast_validator(scenario_schema())
    with pytest.raises(ValueError):
        fast.is_valid({"seed": datetime.date(2026, 1, 1)})
    with pytest.raises(ScenarioError, match="seed"):
        Scenario.from_data({"zones": {"n": 3}, "seed": datetime.date(2026, 1, 1)})
    with pytest.raises(ScenarioError):
        Scenario.from_data({"zones": {1: 3}})


def test_a_valid_scenario_is_read_without_importing_jsonschema() -> None:
    code = ("import sys; from sim.scenario import Scenario; "
            f"Scenario.from_yaml({str(bundled_files()['gossip-1000'])!r}); "
            "print('jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
