"""A run's output is all-or-nothing, never shared between runs; interrupts leave nothing behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.cli import bundled, main
from sim.output import OutputError, RunDirectory, child_path
from sim.scenario import Scenario, ScenarioError, build

ROOT = Path(__file__).resolve().parents[2]
# SQLite journals and a workload long enough to interrupt (minutes of wall time; it never finishes here)
LONG = """zones: {dc: 3}
duration: 2000s
quiet_max: 10
entities:
  - {id: counter-1, example: counter, journal: sqlite, rate: 400/s}
"""


def _events(out: Path) -> list[int]:
    counts = []
    for file in sorted((out / "counter-1").glob("*.sqlite")):
        with sqlite3.connect(file) as db:
            counts.append(db.execute("SELECT count(*) FROM events").fetchone()[0])
    return counts


def test_runs_into_the_same_out_never_share_journals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "D"
    digests, counts = [], []
    for _ in range(3):
        assert main(["run", "es-counter", "--out", str(out), "--json", "--quiet", "--force"]) == 0
        digests.append(json.loads(capsys.readouterr().out)["trace_digest"])
        counts.append(_events(out))
    assert counts[0] == counts[1] == counts[2] and counts[0][0] > 0 and len(counts[0]) == 3
    assert digests[0] == digests[1] == digests[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D"]  # no staging or old directory left beside it


def test_an_existing_out_is_refused_without_force_and_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "D"
    out.mkdir()
    assert main(["run", "cart", "--out", str(out), "--quiet"]) == 0  # an empty directory holds no run to lose
    assert "summary.json" in [p.name for p in out.iterdir()]
    capsys.readouterr()
    for p in out.iterdir():
        p.unlink()
    (out / "mine.txt").write_text("keep")
    assert main(["run", "cart", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == f"crdtsim: {out} exists; give --force to replace it\n"
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert main(["run", "cart", "--out", str(out), "--quiet", "--force"]) == 0
    names = [p.name for p in out.iterdir()]
    assert "summary.json" in names and "mine.txt" not in names  # replaced whole


@pytest.mark.parametrize("target", ["file", "/dev/null", "/proc/no/such/dir"])
def test_an_output_that_cannot_be_made_is_one_line_and_exit_2(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a-file" if target == "file" else Path(target)
    if target == "file":
        out.write_text("x")
    assert main(["run", "cart", "--out", str(out), "--quiet", "--force"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"crdtsim: {'cannot create the output directory ' if 'proc' in target else ''}{out}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_write_error_midway_leaves_no_output_and_no_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.trace import Trace

    def full_disk(self: Trace, path: Path) -> None:
        path.write_text("partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Trace, "to_chrome", full_disk)
    out = tmp_path / "D"
    assert main(["run", "es-counter", "--out", str(out), "--quiet", "--trace"]) == 2
    assert capsys.readouterr().err == f"crdtsim: cannot write {out / 'trace.chrome.json'}: No space left on device\n"
    assert list(tmp_path.iterdir()) == []


def test_files_stay_inside_the_run_directory(tmp_path: Path) -> None:
    for bad in ("../x", "/etc/passwd", "a/../../x", ""):
        with pytest.raises(OutputError, match="must lie inside its directory"):
            child_path(tmp_path, bad)
    (tmp_path / "link").symlink_to("/")
    with pytest.raises(OutputError):
        child_path(tmp_path, "link", "tmp")
    assert child_path(tmp_path, "counter-1", "dc-1.sqlite") == tmp_path.resolve() / "counter-1" / "dc-1.sqlite"
    with pytest.raises(OutputError, match="must lie inside"):
        RunDirectory(tmp_path / "out").path("..", "escape.txt")


def test_a_node_id_that_would_escape_is_refused_before_any_file_is_made(tmp_path: Path) -> None:
    scenario = "zones: {dc: ['../../x', dc-2]}\nentities: [{id: c, example: counter, journal: sqlite}]\n"
    with pytest.raises(ScenarioError, match=r"zones.dc\[0\]: expected an id: a letter or digit"):
        Scenario.from_yaml_text(scenario)
    with pytest.raises(ScenarioError, match=r"zones\[\'\.\./x\'\]: expected an id"):
        Scenario.from_yaml_text("zones: {'../x': 2}\n")


def test_a_python_build_into_a_used_directory_does_not_read_the_old_journals(tmp_path: Path) -> None:
    scenario = Scenario.from_yaml(bundled()["es-counter"])
    first = build(scenario, out=tmp_path)
    first.run()
    first.cleanup()
    with pytest.raises(OutputError, match="holds files of an earlier run"):
        build(scenario, out=tmp_path)


@pytest.fixture
def started() -> Iterator[list[int]]:
    """Pids this test started; whatever still runs at the end is killed (a failing test leaves no process)."""
    pids: list[int] = []
    yield pids
    for pid in reversed(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _default_sigint() -> None:
    # A test runner's worker may ignore SIGINT, and an ignored signal stays ignored in its children;
    # Python turns SIGINT into KeyboardInterrupt only when it starts with the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str], tmp_path: Path, started: list[int]) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    process = subprocess.Popen([sys.executable, "-m", "sim.cli", *args], cwd=tmp_path, env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_default_sigint)
    started.append(process.pid)
    return process


def _wait_for(condition: object, process: subprocess.Popen[str], polls: int = 6000) -> None:
    for _ in range(polls):  # 6000 polls 50 ms apart: generous, only a hang runs out of them
        if condition():  # type: ignore[operator]
            return
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.05)
    raise AssertionError("the run never reached the point to interrupt")


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_mid_run_exits_cleanly_and_leaves_nothing(
    tmp_path: Path, sig: int, code: int, word: str, started: list[int]
) -> None:
    (tmp_path / "long.yaml").write_text(LONG)
    process = _start(["run", "long.yaml", "--out", "D", "--quiet", "--trace"], tmp_path, started)
    # interrupt once the journals exist in the staging directory: the worst moment to leave things behind
    _wait_for(lambda: any(tmp_path.glob(".D.crdtsim-*/counter-1/*.sqlite")), process)
    process.send_signal(sig)
    _, err = process.communicate(timeout=300)
    assert process.returncode == code
    assert err == f"crdtsim: {word}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.yaml", "tmp"]
    assert list((tmp_path / "tmp").iterdir()) == []


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker pids from /proc")
def test_sigterm_to_a_sweep_stops_its_workers(tmp_path: Path, started: list[int]) -> None:
    (tmp_path / "long.yaml").write_text(LONG.replace("journal: sqlite, ", ""))
    process = _start(["sweep", "long.yaml", "--seeds", "1-20", "--workers", "2", "--quiet"], tmp_path, started)
    _wait_for(lambda: len(_children(process.pid)) >= 2, process)
    workers = _children(process.pid)
    started.extend(workers)
    time.sleep(0.5)  # let them pick up seeds
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 143 and err == "crdtsim: terminated\n"
    for _ in range(600):  # they are stopped before the sweep exits; allow the kernel a moment to reap
        if not any(_running(w) for w in workers):
            break
        time.sleep(0.1)
    assert not any(_running(w) for w in workers)
    assert list((tmp_path / "tmp").iterdir()) == []
