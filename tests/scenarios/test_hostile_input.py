"""Hostile input: every bad file gets one line and exit 2, with no traceback, no hang, no memory
blow-up and no file written outside the run's own directory.

The cases come from ``sim/benchmarks/hostile.py`` (one list per class of the hostile-input report: binary,
non-UTF-8, control characters, sizes, numbers, NaN and negatives, ids, app sections, duplicate
keys, YAML structure, aliases, special files); the property test mutates the bundled scenarios.
Bounds here are generous on purpose: a hang is caught by the alarm, not by timing the case.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import tempfile
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.benchmarks.hostile import SPECIAL_FILES, WRONG_VALUES, bundled, dump, paths, replaced, text_cases
from sim.cli import main

CASES = list(text_cases())
#: a case that takes this long has hung: most take well under a second, the largest topology the
#: limits admit (a complete graph of 999 nodes) minutes of wall time on a busy machine under tracemalloc
HANG_SECONDS = 600
#: Python memory one case may allocate at its peak: that largest topology takes about 210 MiB,
#: a blow-up reaches gigabytes
MEMORY_BYTES = 512 * 2**20
SCENARIOS = bundled()


@functools.cache
def _validation_peak(name: str) -> int:
    """Peak Python memory of validating the bundled scenario as written (gossip-100k builds
    100,000 nodes: about 600 MiB), so a mutation is bounded by what its original needs."""
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / f"{name}.yaml"
        file.write_text(dump(SCENARIOS[name]), encoding="utf-8")
        with _bounded() as peak:
            assert main(["validate", str(file)]) == 0
    return peak["bytes"]


@contextmanager
def _bounded() -> Iterator[dict[str, int]]:
    """Fail a case that hangs (an alarm) and measure its peak Python memory."""
    def hung(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {HANG_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_SECONDS)
    tracemalloc.start()
    peak: dict[str, int] = {}
    try:
        yield peak
    finally:
        peak["bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _assert_refused(argv: list[str], capsys: pytest.CaptureFixture[str], shown: str) -> None:
    with _bounded() as peak:
        code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    assert err.count("\n") == 1 and err.startswith(f"crdtsim: {shown}"), err
    assert "Traceback" not in err
    assert peak["bytes"] < MEMORY_BYTES, peak


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose only temporary directory is ``scratch``: anything written shows."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return tmp_path


def _written(sandbox: Path, *allowed: str) -> list[str]:
    extra = sorted(p.name for p in sandbox.iterdir() if p.name not in {"scratch", *allowed})
    return extra + sorted(f"scratch/{p.name}" for p in (sandbox / "scratch").iterdir())


@pytest.mark.parametrize("cls, name, raw", CASES, ids=[f"{c}:{n}" for c, n, _ in CASES])
def test_a_hostile_file_gets_one_line_and_exit_2(
    sandbox: Path, cls: str, name: str, raw: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    file = sandbox / "case.yaml"
    file.write_bytes(raw)
    _assert_refused(["run", str(file), "--quiet", "--out", str(sandbox / "run")], capsys, f"{file}:")
    assert _written(sandbox, "case.yaml") == []  # no run directory, no journal, nothing in the temp dir


@pytest.mark.parametrize("special", SPECIAL_FILES)
def test_a_special_file_is_refused_without_reading_it(
    sandbox: Path, special: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if special == "fifo":
        special = str(sandbox / "pipe.yaml")
        os.mkfifo(special)
    elif not os.path.exists(special):
        pytest.skip(f"{special} is absent here")
    _assert_refused(["run", special, "--quiet", "--out", "run"], capsys, f"{special}: (document): expected a regular")
    assert _written(sandbox, "pipe.yaml") == []


def test_every_class_of_the_report_has_cases() -> None:
    classes = {cls for cls, _, _ in CASES}
    assert classes == {"binary", "non-utf8", "control", "size", "numbers", "negative-nan", "ids", "app",
                       "duplicates", "structure", "aliases"}
    assert all(sum(c == cls for c, _, _ in CASES) >= 3 for cls in classes)


_VALUES = st.one_of(
    st.sampled_from(WRONG_VALUES),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(-3, 3) | st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(-3, 3) | st.none(), max_size=3),
)


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], deadline=None)
@given(name=st.sampled_from(sorted(SCENARIOS)), data=st.data())
def test_a_mutated_bundled_scenario_is_valid_or_one_line_exit_2(
    sandbox: Path, name: str, data: st.DataObject, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = SCENARIOS[name]
    path = data.draw(st.sampled_from(list(paths(scenario))), label="path")
    value = data.draw(_VALUES, label="value")
    if isinstance(value, float) and math.isnan(value) and path == ():
        value = None
    file = sandbox / "mutated.yaml"
    file.write_text(dump(replaced(scenario, path, value)), encoding="utf-8")
    with _bounded() as peak:
        code = main(["validate", str(file)])  # validate builds everything `run` builds, without running
    err = capsys.readouterr().err
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    assert peak["bytes"] < MEMORY_BYTES + _validation_peak(name), (peak, _validation_peak(name))
    if code == 2:
        assert err.count("\n") == 1 and err.startswith(f"crdtsim: {file}:"), err
    assert _written(sandbox, "mutated.yaml") == []
