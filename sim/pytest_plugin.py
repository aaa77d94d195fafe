"""A pytest plugin: scenarios as regression tests under fixed seeds (installed with crdtsim).

Mark a test with the scenario (a file, a bundled name or a dict) and the seeds; take the
``crdtsim_run`` fixture. The test runs once per seed and fails with the failing checks'
explanations and the command that re-runs that seed alone::

    import pytest

    @pytest.mark.crdtsim("minimal.yaml", seeds=[1, 2, 3])
    def test_the_lost_write_stays_fixed(crdtsim_run):
        assert crdtsim_run.result.ok

Without ``seeds`` the scenario's own seed is used. ``fails="convergence"`` turns the test
around: the named check must fail (a known bug kept as a demonstration of the checker).
``pytest --crdtsim-seed N`` runs every marked test under seed ``N`` only. A relative path is
looked up next to the test module first, then from the current directory.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

__all__ = ["crdtsim_run", "crdtsim_seed"]

MARKER = "crdtsim"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crdtsim", "crdtsim scenarios")
    group.addoption("--crdtsim-seed", type=int, default=None, metavar="N",
                    help="run every @pytest.mark.crdtsim test under this seed only")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "crdtsim(scenario, seeds=None, fails=None): run a crdtsim scenario (file, bundled name or dict) under each "
        "seed with the crdtsim_run fixture; fail with the checks' explanations and the re-run command",
    )


def _marker(node: Any) -> pytest.Mark:
    marker = node.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        raise pytest.UsageError(f"{node.nodeid}: crdtsim_run needs @pytest.mark.crdtsim(scenario, seeds=[...])")
    return marker


def _scenario(spec: Any, test_file: Path) -> tuple[Any, str]:
    """The scenario object and how to name it on the command line."""
    from sim.cli import _scenario_path
    from sim.scenario import Scenario

    if isinstance(spec, dict):
        return Scenario.from_data(spec), "<dict>"
    path = Path(spec)
    if not path.is_absolute() and (test_file.parent / path).exists():
        path = test_file.parent / path
    else:
        path = _scenario_path(str(spec))
    return Scenario.from_yaml(path), str(path)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crdtsim_seed" not in metafunc.fixturenames:
        return
    marker = _marker(metafunc.definition)
    seeds = marker.kwargs.get("seeds")
    override = metafunc.config.getoption("--crdtsim-seed")
    if override is not None:
        seeds = [override]
    elif seeds is None:
        scenario, _ = _scenario(marker.args[0], Path(str(metafunc.definition.fspath)))
        seeds = [scenario.seed]
    seeds = list(seeds)
    metafunc.parametrize("crdtsim_seed", seeds, ids=[f"seed={s}" for s in seeds])


@pytest.fixture
def crdtsim_seed(request: pytest.FixtureRequest) -> int:
    """The seed this parametrized run uses (from the marker's ``seeds`` or ``--crdtsim-seed``)."""
    return int(request.param)


@pytest.fixture
def crdtsim_run(request: pytest.FixtureRequest, crdtsim_seed: int) -> Any:
    """Run the marked scenario under ``crdtsim_seed``; the finished ``ScenarioRun``.

    The verdict comes as the test's own failure (not a fixture error), just before its body.
    """
    from sim.scenario import run_scenario

    marker = _marker(request.node)
    scenario, where = _scenario(marker.args[0], Path(str(request.node.fspath)))
    run = run_scenario(scenario, seed=crdtsim_seed)
    request.node.stash[_RUN] = (run, where, crdtsim_seed, marker.kwargs.get("fails"))
    return run


_RUN = pytest.StashKey[tuple[Any, str, int, "str | None"]]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    if _RUN not in item.stash:
        return
    run, where, seed, expected = item.stash[_RUN]
    failed = [c for c in run.result.checks if not c.ok]
    rerun = f"re-run: crdtsim run {shlex.quote(where)} --seed {seed}\n   or: " if where != "<dict>" else "re-run: "
    rerun += f"pytest {shlex.quote(item.nodeid)} --crdtsim-seed {seed}"
    if expected is None and failed:
        lines = [f"scenario {run.scenario.name} failed under seed {seed}:"]
        lines += [f"  [FAIL] {c.name}: {c.message}" for c in failed]
        pytest.fail("\n".join([*lines, rerun]), pytrace=False)
    if expected is not None and expected not in {c.name for c in failed}:
        pytest.fail(f"scenario {run.scenario.name} under seed {seed}: expected the {expected} check to fail, "
                    f"but it held\n{rerun}", pytrace=False)
