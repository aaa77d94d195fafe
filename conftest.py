"""Shared test configuration, for the tests and for the doctests of the packages and docs.

It sits at the repository root so that it also applies to ``README.md``, ``docs/`` and the
modules' doctests, not only to ``tests/``.

Hypothesis runs with a fixed, derandomized profile in CI (``CI=true``) so CI cannot flake, and
locally with a randomized profile of the same size (``dev``), so each run tries new examples and
the whole suite stays within minutes on a busy two-core machine. The deeper search is an explicit
opt-in (``HYPOTHESIS_PROFILE=deep``). None depends on the machine's speed: no deadline, and no
health check that times input generation.

Under ``CI=true`` a test skipped because a tool is missing fails instead: CI installs every
tool the suite needs (``.ci/install-tools``), so a missing one is a broken set-up, not a skip.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

#: health checks whose outcome depends on how fast this machine is at the moment
SPEED_HEALTH_CHECKS = [HealthCheck.too_slow]

settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=SPEED_HEALTH_CHECKS,
)
# As many examples as CI, drawn afresh each run (and failures replayed from the example database).
settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    suppress_health_check=SPEED_HEALTH_CHECKS,
)
# The deeper search, on request: the whole-run property (tests/sim/replication/test_whole_run_properties.py)
# and every property test whose example count follows the profile.
settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[*SPEED_HEALTH_CHECKS, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

#: skip reasons that mean "a tool or package this test needs is absent"
MISSING_TOOL = re.compile(r"is not installed|could not import", re.IGNORECASE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if MISSING_TOOL.search(reason):
            report.outcome = "failed"
            report.longrepr = f"{reason}: CI must provide it (add it to .ci/install-tools)"


@pytest.fixture(scope="session", autouse=True)
def _dask_scratch_space_in_pytest_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Dask's local clusters keep lock files in ``dask-scratch-space`` under the system's
    temporary directory, and nothing ever removes them: in the suite they go into pytest's
    temporary directory instead, removed with it when the suite passes."""
    where = str(tmp_path_factory.mktemp("dask"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DASK_TEMPORARY_DIRECTORY", where)  # dask reads it when first imported, here or in a child
        dask = sys.modules.get("dask")
        if dask is not None:  # imported already (by a module under test): set its configuration too
            patch.setitem(dask.config.config, "temporary-directory", where)
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a slow test run first (each file kept whole, so its module fixtures are built
    once, and otherwise in the order collected): on a few workers, the long tests then overlap
    the many short ones instead of leaving one worker running them alone at the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)  # a stable sort: collection order otherwise
