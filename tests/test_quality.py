"""Project-wide guards: typing, lint, and the purity of the ``crdt`` package."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_mypy_passes() -> None:
    result = _run("mypy", "--no-error-summary")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_passes() -> None:
    result = _run("ruff", "check", "crdt", "sim", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_crdt_imports_neither_simpy_nor_the_simulator() -> None:
    code = (
        "import crdt, crdt.testing, sys;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'simpy', 'sim'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_every_public_name_is_exported_once() -> None:
    import crdt
    import sim
    import sim.replication
    import sim.scenario

    for package in (crdt, sim, sim.replication, sim.scenario):
        assert len(package.__all__) == len(set(package.__all__)), package.__name__
        for name in package.__all__:
            assert hasattr(package, name), f"{package.__name__}.{name}"
