"""Project-wide guards: typing, lint, and the purity of the ``crdt`` package."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.slow
def test_mypy_passes() -> None:
    result = _run("mypy", "--no-error-summary")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_passes() -> None:
    result = _run("ruff", "check", "crdt", "sim", "crdtsim", "tests", "conftest.py")
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


# -- no global RNG ---------------------------------------------------------------------------

#: what a module may take from ``random`` / ``numpy.random``: classes and constructors of
#: explicit generators, which the world seeds from its named streams
RANDOM_ALLOWED = {"Random"}
NUMPY_RANDOM_ALLOWED = {"default_rng", "Generator", "SeedSequence", "BitGenerator", "PCG64", "Philox", "SFC64"}


def global_rng_uses(source: str, modules: dict[str, str] | None = None) -> list[str]:
    """Uses of the global ``random`` module or numpy's global RNG in ``source`` (and its doctests).

    Returns one ``line: what`` entry per use: an attribute of ``random`` other than
    ``random.Random``, any ``from random import`` other than ``Random``, and the same for
    ``numpy.random`` however it was imported. ``modules`` are names already bound to those
    modules (a doctest sees its module's imports).
    """
    import ast
    import doctest

    tree = ast.parse(source)
    bound = dict(modules or {})  # local name -> "random" | "numpy" | "numpy.random"
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("random", "numpy", "numpy.random"):
                    top = alias.name.split(".")[0]  # ``import numpy.random`` binds ``numpy``
                    bound[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            allowed = {"random": RANDOM_ALLOWED, "numpy.random": NUMPY_RANDOM_ALLOWED}.get(node.module or "")
            for alias in node.names:
                if allowed is not None and alias.name not in allowed:
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                if node.module == "numpy" and alias.name == "random":
                    bound[alias.asname or "random"] = "numpy.random"
                elif allowed is not None and alias.name in allowed:
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"  # a generator class
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            # a generator built without a seed draws it from the OS: the run cannot be replayed
            func, made = node.func, None
            if isinstance(func, ast.Name) and "." in bound.get(func.id, ""):
                made = bound[func.id]
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                module = bound.get(func.value.id) or ""
                if func.attr in {"random": RANDOM_ALLOWED, "numpy.random": NUMPY_RANDOM_ALLOWED}.get(module, set()):
                    made = f"{module}.{func.attr}"
            elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)
                  and isinstance(func.value.value, ast.Name) and bound.get(func.value.value.id) == "numpy"
                  and func.attr in NUMPY_RANDOM_ALLOWED):
                made = f"numpy.random.{func.attr}"
            if made:
                found.append(f"{node.lineno}: {made}() without a seed")
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            examples = doctest.DocTestParser().get_examples(ast.get_docstring(node, clean=False) or "")
            if examples:
                found += [f"doctest: {use}" for use in global_rng_uses("".join(e.source for e in examples), bound)]
        if not isinstance(node, ast.Attribute):
            continue
        target = node.value
        module = None
        if isinstance(target, ast.Name):
            module = bound.get(target.id)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.attr == "random":
            module = "numpy.random" if bound.get(target.value.id) == "numpy" else None
        if module == "random" and node.attr not in RANDOM_ALLOWED:
            found.append(f"{node.lineno}: random.{node.attr}")
        elif module == "numpy.random" and node.attr not in NUMPY_RANDOM_ALLOWED:
            found.append(f"{node.lineno}: numpy.random.{node.attr}")
    return sorted(set(found))


def test_crdt_and_sim_never_use_a_global_rng() -> None:
    files = sorted(p for package in ("crdt", "sim") for p in (ROOT / package).rglob("*.py"))
    assert len(files) > 20  # the scan really saw the packages
    offenders = {str(p.relative_to(ROOT)): uses for p in files if (uses := global_rng_uses(p.read_text()))}
    assert offenders == {}


def test_the_global_rng_scan_finds_every_form_of_use() -> None:
    uses = global_rng_uses(
        "import random\n"
        "import random as r\n"
        "from random import choices, Random\n"
        "import numpy as np\n"
        "from numpy import random as nr\n"
        "from numpy.random import shuffle\n"
        "def f():\n"
        '    """Draws.\n\n    >>> random.sample([1, 2], 1)\n    [2]\n    """\n'
        "    random.expovariate(1.0); random.randrange(3); r.sample([1], 1); random.choices([1])\n"
        "    np.random.rand(); nr.normal(); np.random.default_rng(1); random.Random(2); Random(3)\n"
        "    random.Random(); np.random.default_rng()\n"
        "    Random(); nr.default_rng()\n"
    )
    assert uses == sorted([
        "3: from random import choices", "6: from numpy.random import shuffle",
        "13: random.expovariate", "13: random.randrange", "13: random.sample", "13: random.choices",
        "14: numpy.random.rand", "14: numpy.random.normal", "doctest: 1: random.sample",
        "15: random.Random() without a seed", "16: random.Random() without a seed",
        "15: numpy.random.default_rng() without a seed", "16: numpy.random.default_rng() without a seed",
    ])


# -- no wall time in tests -------------------------------------------------------------------

#: the external-computation tests move their wall-clock timeout to simulated time in their own change
WALL_CLOCK_EXEMPT = {"tests/apps/test_app_external.py"}
WALL_CLOCK = {"time", "perf_counter", "monotonic", "process_time", "time_ns", "perf_counter_ns", "monotonic_ns"}


def wall_clock_reads(source: str) -> list[str]:
    """Calls that read the wall clock (``time.perf_counter()``, ``from time import monotonic`` …)."""
    import ast

    tree = ast.parse(source)
    imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "time" for alias in node.names if alias.name in WALL_CLOCK}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr in WALL_CLOCK and isinstance(func.value, ast.Name)
                and func.value.id == "time") or (isinstance(func, ast.Name) and func.id in imported):
            found.append((node.lineno, f"{node.lineno}: {ast.unparse(func)}()"))
    return [use for _, use in sorted(found)]


def test_no_test_reads_the_wall_clock() -> None:
    files = sorted((ROOT / "tests").rglob("*.py"))
    offenders = {
        name: uses for p in files
        if (name := str(p.relative_to(ROOT))) not in WALL_CLOCK_EXEMPT and (uses := wall_clock_reads(p.read_text()))
    }
    assert offenders == {}, "a test asserts behaviour, never how long it took: make it a benchmark"


def test_the_wall_clock_scan_finds_each_form() -> None:
    uses = wall_clock_reads(
        "import time\nfrom time import perf_counter as pc, sleep\n"
        "start = time.perf_counter()\nassert pc() - start < 60\ntime.sleep(0)\nsleep(0)\nt = time.monotonic()\n"
    )
    assert uses == ["3: time.perf_counter()", "4: pc()", "7: time.monotonic()"]
