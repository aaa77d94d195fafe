"""The quick schema check: it says yes exactly when jsonschema does, and a valid file's run
imports neither jsonschema nor networkx."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.cli import bundled
from sim.scenario.conforms import conforms, knows_every_keyword
from sim.scenario.limits import DEFAULT_LIMITS
from sim.scenario.read import load_yaml, read_text
from sim.scenario.schema import scenario_schema

SCHEMA = scenario_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
BUNDLED = {name: load_yaml(read_text(path, DEFAULT_LIMITS), str(path), DEFAULT_LIMITS)[0]
           for name, path in sorted(bundled().items())}


def test_the_quick_check_knows_every_keyword_of_the_scenario_schema() -> None:
    assert knows_every_keyword(SCHEMA)  # else every file would go to jsonschema
    assert not knows_every_keyword({"type": "object", "dependentRequired": {"a": ["b"]}})


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_bundled_scenario_passes_the_quick_check(name: str) -> None:
    assert conforms(SCHEMA, BUNDLED[name]) and VALIDATOR.is_valid(BUNDLED[name])


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2_000_000) | st.sampled_from([0, -1, 1.5, 10**7, 10**12, 1e300])
    | st.floats(-5, 5, allow_nan=False)
    | st.sampled_from(["", "x", "10ms", "2s", "GCounter", "n", "state", "push-pull", "100/s", "dc-1", "a b"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["every", "mode", "n", "kind", "latency", "x", "type", "between", "at"]), inner, max_size=3),
    max_leaves=6)


def _paths(data: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [where]
    if isinstance(data, dict):
        for k, v in data.items():
            found += _paths(v, (*where, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found += _paths(v, (*where, i))
    return found


def _replaced(data: Any, path: tuple[Any, ...], value: Any, add_key: str | None) -> Any:
    if not path:
        if add_key is not None and isinstance(data, dict):
            return {**data, add_key: value}
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {**data, head: _replaced(data[head], rest, value, add_key)}
    return [_replaced(v, rest, value, add_key) if i == head else v for i, v in enumerate(data)]


_PROBES = [None, -1, 10**12, "x", {"unknown": 1}]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_the_quick_check_agrees_with_jsonschema_on_every_value_replaced(name: str) -> None:
    scenario = BUNDLED[name]
    for path in _paths(scenario)[1:]:
        for probe in _PROBES:
            broken = _replaced(scenario, path, probe, None)
            assert conforms(SCHEMA, broken) == VALIDATOR.is_valid(broken), (path, probe)


@given(st.sampled_from(sorted(BUNDLED)), st.data(), _json,
       st.none() | st.sampled_from(["every", "mode", "kind", "seed", "unknown", "mean", "loss"]))
def test_the_quick_check_agrees_with_jsonschema_on_broken_scenarios(name: str, data: st.DataObject, value: Any,
                                                                   add_key: str | None) -> None:
    scenario = BUNDLED[name]
    path = data.draw(st.sampled_from(_paths(scenario)))
    broken = _replaced(scenario, path, value, add_key)
    assert conforms(SCHEMA, broken) == VALIDATOR.is_valid(broken)


def test_loading_and_building_a_valid_scenario_imports_neither_jsonschema_nor_networkx() -> None:
    code = ("import sys; from sim.cli import bundled; from sim.scenario import Scenario, build; "
            "build(Scenario.from_yaml(bundled()['gossip-1000']), seed=None); "
            "print(sorted(m for m in ('jsonschema', 'networkx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_invalid_scenario_still_gets_jsonschema_s_explanation() -> None:
    from sim.scenario import Scenario, ScenarioError

    with pytest.raises(ScenarioError, match=r"x.yaml:2: seed: expected an integer, found 'many'"):
        Scenario.from_yaml_text("zones: {dc: 3}\nseed: many\n", "x.yaml")
