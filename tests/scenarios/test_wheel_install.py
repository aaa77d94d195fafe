"""A built wheel is a complete install: its bundled scenarios list and run from anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from sim.cli import bundled

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis", "out")


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=1800)


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_venv_lists_and_runs_the_bundled_scenarios(tmp_path: Path) -> None:
    source = tmp_path / "source"  # build from a copy: the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    built = _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp_path / "dist", source,
                 cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("crdtsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"sim/bundled/{name}.yaml" for name in bundled()} <= names
    assert "crdtsim/__init__.py" in names  # the Python façade (crdtsim.hunt, crdtsim.run) ships too

    venv = tmp_path / "venv"
    # A venv without a pip of its own, filled by this pip (--python) with the wheel alone, from no
    # index, and no byte-compiling at install time. Its dependencies are this interpreter's own
    # (a .pth file appends its site-packages to the new venv's path, after the new venv's own):
    # the test is about what the wheel holds, and copying matplotlib and numpy into a fresh venv
    # would cost more than the rest of the test. The editable install of this checkout lives in
    # those site-packages too, but only as a .pth hook, and a directory on sys.path does not run
    # the .pth files inside it: `import sim` can only find the wheel's copy (asserted below).
    assert _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path).returncode == 0
    installed = _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
                     "--no-compile", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    site = _run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
    (Path(site.stdout.strip()) / "crdtsim-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    where = _run(venv / "bin" / "python", "-c", "import sim.cli; print(sim.__file__); print(sim.cli.scenarios_dir())",
                 cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    package, scenarios = (Path(line) for line in where.stdout.splitlines())
    assert package.is_relative_to(venv) and scenarios.is_relative_to(venv)  # the wheel's copies, not this checkout
    assert sorted(p.name for p in scenarios.glob("*.yaml")) == sorted(f"{name}.yaml" for name in bundled())

    listed = _run(venv / "bin" / "crdtsim", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(bundled())

    ran = _run(venv / "bin" / "crdtsim", "run", "--quiet", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("scenario quickstart  seed 42  OK")
    cart = _run(venv / "bin" / "crdtsim", "run", "cart", "--quiet", cwd=tmp_path)
    assert cart.returncode == 0 and cart.stdout.startswith("scenario cart "), cart.stderr
    for template in ("data", "app"):  # the templates and the app's data files are in the wheel too
        assert _run(venv / "bin" / "crdtsim", "init", template, "--template", template, cwd=tmp_path).returncode == 0
    checked = _run(venv / "bin" / "crdtsim", "validate", "data.yaml", "app.yaml", cwd=tmp_path)
    assert checked.returncode == 0 and checked.stdout == "data.yaml: ok\napp.yaml: ok\n", checked.stderr
    assert "sim/apps/external/todo.js" in names and "sim/templates/data.yaml" in names
