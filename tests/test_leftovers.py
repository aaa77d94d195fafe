"""The suite leaves nothing behind: no file in the temporary directory outside pytest's own.

A doctest that makes a temporary directory for its example must remove it, and so must every
test that does not use pytest's ``tmp_path`` (which pytest removes for a test that passes:
``tmp_path_retention_policy`` in pyproject.toml). The notebook tests check that their kernels
stop and take their connection files along (tests/notebooks/test_notebooks.py); Dask's scratch
space goes into pytest's temporary directory (the root conftest.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: where the doctests are collected from (pyproject.toml's testpaths, without tests/)
DOCTEST_SOURCES = [*sorted((ROOT / "crdt").rglob("*.py")), *sorted((ROOT / "sim").rglob("*.py")),
                   *sorted((ROOT / "crdtsim").rglob("*.py")), ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_doctests_that_make_temporary_files_remove_them(tmp_path: Path) -> None:
    sources = [p for p in DOCTEST_SOURCES if ">>> " in (text := p.read_text()) and "tempfile" in text]
    assert {ROOT / "sim" / "output.py", ROOT / "docs" / "scenarios.md"} <= set(sources)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:randomly",
                          "--basetemp", str(tmp_path / "pytest"), *map(str, sources)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "TMPDIR": str(scratch)})
    assert ran.returncode == 0, ran.stdout[-3000:]
    passed = re.match(r"(\d+) passed in ", ran.stdout.splitlines()[-1])
    assert passed and int(passed[1]) >= len(sources), ran.stdout[-500:]  # at least one doctest a file, each passed
    assert sorted(p.name for p in scratch.iterdir()) == []


def test_dask_keeps_its_scratch_space_in_pytest_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    dask = pytest.importorskip("dask")  # the root conftest.py points it there
    assert Path(dask.config.get("temporary-directory")).is_relative_to(tmp_path_factory.getbasetemp())
