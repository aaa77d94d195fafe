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


def test_every_public_crdt_name_is_exported_once() -> None:
    import crdt

    assert len(crdt.__all__) == len(set(crdt.__all__))
    for name in crdt.__all__:
        assert hasattr(crdt, name), name
