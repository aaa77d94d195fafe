"""The pytest plugin, from a fresh project that only has crdtsim installed (the entry point)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.hunt import hunt

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
GOOD = """\
seed: 5
duration: 1s
zones: {dc: 3}
data: {keys: {k: ORSet}}
workload: {rate: 10/s}
"""


def _project(pytester: pytest.Pytester, tests: str, **files: str) -> None:
    for name, text in files.items():
        (pytester.path / name).write_text(text)
    pytester.makepyfile(test_scenarios=tests)


def test_a_marked_test_runs_once_per_seed_and_passes(pytester: pytest.Pytester) -> None:
    _project(pytester, """
import pytest

@pytest.mark.crdtsim("good.yaml", seeds=[1, 2, 3])
def test_good(crdtsim_run):
    assert crdtsim_run.result.ok

@pytest.mark.crdtsim({"zones": {"dc": 2}, "duration": "1s", "data": {"keys": {"c": "GCounter"}},
                      "workload": {"rate": "5/s"}})
def test_dict_uses_its_own_seed(crdtsim_run, crdtsim_seed):
    assert crdtsim_seed == 0 and crdtsim_run.values("c")[0] == crdtsim_run.values("c")[1]
""", **{"good.yaml": GOOD})
    result = pytester.runpytest_subprocess("-v", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_good?seed=1? PASSED*", "*test_good?seed=3? PASSED*"])


def test_a_failing_scenario_explains_the_check_and_how_to_rerun(pytester: pytest.Pytester, tmp_path: Path) -> None:
    found = hunt(ROOT / "scenarios" / "hunt" / "op-unreliable.yaml", budget=40, workers=0, out=tmp_path)
    assert found.minimal_yaml is not None and found.minimal is not None
    _project(pytester, """
import pytest

@pytest.mark.crdtsim("minimal.yaml")
def test_lost_op_stays_fixed(crdtsim_run):
    pass

@pytest.mark.crdtsim("minimal.yaml", fails="convergence")
def test_the_checker_still_catches_it(crdtsim_run):
    assert not crdtsim_run.result.ok
""", **{"minimal.yaml": found.minimal_yaml})
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    seed = found.minimal.seed
    result.stdout.fnmatch_lines([
        f"*scenario hunt-op-unreliable-minimal failed under seed {seed}:*",
        "*[[]FAIL[]] convergence: 0/1 keys converged; diverged: k*",
        f"*re-run: crdtsim run */minimal.yaml --seed {seed}*",
        f"*or: pytest ?test_scenarios.py::test_lost_op_stays_fixed?seed={seed}?? --crdtsim-seed {seed}*",
    ])
    assert "Traceback" not in result.stdout.str()


def test_crdtsim_seed_replays_one_seed(pytester: pytest.Pytester) -> None:
    _project(pytester, """
import pytest

@pytest.mark.crdtsim("good.yaml", seeds=range(1, 20))
def test_good(crdtsim_run, crdtsim_seed):
    assert crdtsim_seed == 7 and crdtsim_run.result.seed == 7
""", **{"good.yaml": GOOD})
    result = pytester.runpytest_subprocess("--crdtsim-seed", "7", "-v", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_good?seed=7? PASSED*"])


def test_an_expected_failure_that_holds_is_reported(pytester: pytest.Pytester) -> None:
    _project(pytester, """
import pytest

@pytest.mark.crdtsim("good.yaml", fails="invariants")
def test_expects_a_bug(crdtsim_run):
    pass
""", **{"good.yaml": GOOD})
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*expected the invariants check to fail, but it held*"])
