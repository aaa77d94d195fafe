"""The set-up a fresh machine gets: ``.ci/install-tools``, the README's commands, the CI skip rule."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TOOLS = ROOT / ".ci" / "install-tools"


def _setup_commands() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_the_readme_sets_up_with_two_commands_the_first_installing_the_tools() -> None:
    install, test = _setup_commands()
    assert install.startswith(".ci/install-tools && ") and install.endswith("crdtsim run")
    assert test == ".venv/bin/python -m pytest -n auto"
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index(".ci/install-tools") < ci.index("pip install")


def _fake_bin(tmp_path: Path, uid: int, apt: bool) -> Path:
    """A PATH with bash and coreutils but no node; ``id -u`` says ``uid``; apt-get records its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cat", "env"):
        os.symlink(shutil.which(tool), bin_dir / tool)  # type: ignore[arg-type]
    (bin_dir / "id").write_text(f"#!{shutil.which('bash')}\necho {uid}\n")
    if apt:
        (bin_dir / "apt-get").write_text(f'#!{shutil.which("bash")}\necho "$@" >> {tmp_path}/apt.log\n')
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    return bin_dir


def _install_tools(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "bash"), str(INSTALL_TOOLS)], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True)


def test_install_tools_installs_a_missing_node_with_apt_get_as_root(tmp_path: Path) -> None:
    result = _install_tools(_fake_bin(tmp_path, uid=0, apt=True))
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls[0] == "update -qq" and calls[1].startswith("install -y")
    # this PATH has neither python3 nor node nor a browser
    assert calls[1].split()[-4:] == ["python3-venv", "nodejs", "chromium", "chromium-driver"]
    # the fake apt-get installs nothing, so the re-check catches it
    assert result.returncode == 1 and "python3-venv is installed but `python3 -c" in result.stderr


def test_install_tools_names_what_to_install_when_it_cannot(tmp_path: Path) -> None:
    result = _install_tools(_fake_bin(tmp_path, uid=1000, apt=True))
    assert result.returncode == 1
    missing = "python3-venv nodejs chromium chromium-driver"
    assert f"missing {missing}; install it with: sudo apt-get install {missing}" in result.stderr
    assert not (tmp_path / "apt.log").exists()


def test_install_tools_does_nothing_when_every_tool_is_there() -> None:
    if shutil.which("node") is None:
        pytest.skip("node (Node.js) is not installed")
    result = subprocess.run([str(INSTALL_TOOLS)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""


def _env(ci: str, **extra: str) -> dict[str, str]:
    """This process's environment with ``CI`` set to ``ci``, or unset (Hypothesis reads any CI as CI)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    return {**env, **({"CI": ci} if ci else {}), **extra}


PROBE = '''
import pytest

def test_needs_a_tool():
    pytest.skip("frobnicate is not installed")

def test_needs_a_module():
    pytest.importorskip("no_such_module_anywhere")

def test_skipped_for_another_reason():
    pytest.skip("only on Tuesdays")
'''


@pytest.mark.parametrize("ci, outcome", [("true", "2 failed, 1 skipped"), ("", "3 skipped")])
def test_under_ci_a_skip_for_a_missing_tool_fails(tmp_path: Path, ci: str, outcome: str) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = _env(ci, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:randomly", "-p", "no:xdist",
         "--rootdir", str(tmp_path), "test_probe.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert outcome in result.stdout, result.stdout
    if ci:
        assert "CI must provide it (add it to .ci/install-tools)" in result.stdout


PROFILE_PROBE = '''
import json, os

def pytest_collection_finish(session):
    from hypothesis import settings
    s = settings.default
    with open(os.environ["PROBE_OUT"], "w") as f:
        json.dump({"items": [i.nodeid for i in session.items], "deadline": s.deadline and str(s.deadline),
                   "suppressed": sorted(h.name for h in s.suppress_health_check)}, f)
'''


@pytest.mark.parametrize("ci", ["true", ""])
def test_the_readme_doctests_run_without_speed_dependent_health_checks(tmp_path: Path, ci: str) -> None:
    import json

    (tmp_path / "profile_probe.py").write_text(PROFILE_PROBE)
    out = tmp_path / "probe.json"
    env = _env(ci, PYTHONPATH=str(tmp_path), PROBE_OUT=str(out))
    # from another directory, as a user checking the README alone would run it
    subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "profile_probe", "-p", "no:xdist",
                    str(ROOT / "README.md")], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    probe = json.loads(out.read_text())
    assert probe["items"] == ["README.md::README.md"]
    assert probe["deadline"] is None and probe["suppressed"] == ["too_slow"]


def test_every_test_file_and_directory_tests_readme_names_exists() -> None:
    text = (ROOT / "tests" / "README.md").read_text()
    # a pattern such as tests/crdt/test_<type>.py names its directory
    named = [p.rsplit("/", 1)[0] if "<" in p else p.rstrip("/") for p in re.findall(r"`(tests/[^`]*)`", text)]
    assert len(named) >= 10  # the table really was read
    assert [p for p in named if not (ROOT / p).exists()] == []
    files = set(re.findall(r"`(\w+\.py)`", text)) - {"__init__.py"}  # conftest.py, the shared helpers
    assert len(files) >= 3 and [f for f in files if not [*ROOT.glob(f), *(ROOT / "tests").rglob(f)]] == []
    assert list((ROOT / "tests").rglob("__init__.py")) == []  # as it says: file names are unique instead
    directories = sorted(str(d.relative_to(ROOT)) for d in (ROOT / "tests").iterdir() if d.is_dir()
                         and d.name not in ("__pycache__", "golden"))
    assert [d for d in directories if d not in named] == []  # and every test directory has its row


def test_files_with_a_slow_test_run_first_each_kept_whole() -> None:
    from types import SimpleNamespace

    import conftest  # the root conftest.py

    def item(path: str, slow: bool = False) -> SimpleNamespace:
        return SimpleNamespace(path=Path(path), name=f"{path}{'-slow' if slow else ''}",
                               get_closest_marker=lambda name: object() if slow and name == "slow" else None)

    items = [item("a"), item("b"), item("b", slow=True), item("b"), item("c"), item("d", slow=True), item("e")]
    conftest.pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [i.name for i in items] == ["b", "b-slow", "b", "d-slow", "a", "c", "e"]
