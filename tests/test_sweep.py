"""``crdtsim sweep``: seed specs, the process pool, a real Dask cluster, failing seeds and exit codes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

import sim.sweep
from sim.cli import main
from sim.errors import SimError
from sim.runloop import RunResult
from sim.scenario import Scenario, run_scenario
from sim.scenario.build import ScenarioRun
from sim.sweep import ERROR, SeedRun, parse_seeds, rerun_command, run_seed, sweep

TINY = """\
name: tiny
seed: 1
tick: 100ms
duration: 1s
quiet_max: 100
zones: {dc: 3}
links:
  default: {latency: 10ms, loss: 0.1}
data:
  protocol: delta
  keys: {hits: GCounter, cart: ORSet}
workload: {rate: 20/s}
"""

# Op-based replication that sends each operation once (no retransmission) over lossy links: some
# seeds lose an operation for good, and the checker must say those replicas did not converge.
LOSSY = """\
name: lossy
seed: 1
tick: 100ms
duration: 1s
quiet_max: 100
zones: {dc: 3}
links:
  default: {latency: 10ms, loss: 0.2}
data:
  protocol: op
  options: {op: {reliable: false}}
  keys: {cart: ORSet}
workload: {rate: 10/s}
"""

SEEDS = [1, 2, 3, 4, 5, 6]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture
def lossy(tmp_path: Path) -> Path:
    path = tmp_path / "lossy.yaml"
    path.write_text(LOSSY, encoding="utf-8")
    return path


def _serial(path: Path, seeds: list[int]) -> list[tuple[int, bool, str]]:
    """The same seeds run one after another in this process, the way ``crdtsim run`` does."""
    scenario = Scenario.from_yaml(path)
    reports = [run_scenario(scenario, seed=seed, trace="digest").summary() for seed in seeds]
    return [(r["seed"], r["ok"], r["trace_digest"]) for r in reports]


# -- seed specs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "seeds"), [
    ("7", [7]),
    ("1-5", [1, 2, 3, 4, 5]),
    ("1,5,9", [1, 5, 9]),
    ("1-3,20-22", [1, 2, 3, 20, 21, 22]),
    (" 9, 1-2 ,2,0 ", [0, 1, 2, 9]),  # spaces allowed; sorted; repeats once
    ("4-4", [4]),
])
def test_parse_seeds(spec: str, seeds: list[int]) -> None:
    assert parse_seeds(spec) == seeds


def test_parse_seeds_covers_a_large_range() -> None:
    assert parse_seeds("1-500") == list(range(1, 501))


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty entry"),
    ("1,,3", "empty entry"),
    ("1-", "'1-'"),
    ("-5", "'-5'"),
    ("a-b", "'a-b'"),
    ("1.5", "'1.5'"),
    ("1-2-3", "'1-2-3'"),
    ("9-3", "the start is after the end"),
    ("0-99999999999", "too many seeds"),
])
def test_parse_seeds_rejects(spec: str, message: str) -> None:
    with pytest.raises(SimError, match=message):
        parse_seeds(spec)


# -- the process pool ----------------------------------------------------------------------


def test_pool_results_are_ordered_and_equal_to_serial_runs(tiny: Path) -> None:
    arrived: list[int] = []
    result = sweep(tiny, [6, 3, 1, 5, 2, 4, 3], workers=2, on_run=lambda run: arrived.append(run.seed))
    assert sorted(arrived) == SEEDS
    assert [run.seed for run in result.runs] == SEEDS
    assert [(run.seed, run.ok, run.digest) for run in result.runs] == _serial(tiny, SEEDS)
    assert len({run.digest for run in result.runs}) == len(SEEDS)  # each seed is its own run
    assert result.ok and result.failed == [] and result.by_check == {}
    assert all(run.convergence_time is not None for run in result.runs)


def test_failing_seeds_name_the_check_and_the_rerun_command(lossy: Path) -> None:
    result = sweep(lossy, range(1, 9), workers=2)
    serial = _serial(lossy, list(range(1, 9)))
    assert [(run.seed, run.ok, run.digest) for run in result.runs] == serial
    failed = [seed for seed, ok, _ in serial if not ok]
    assert 0 < len(failed) < 8  # some seeds lose an operation for good, some are lucky
    assert result.failed == failed
    assert result.by_check["convergence"] == failed
    assert set(result.by_check) <= {"convergence", "invariants", "quiescence"}
    assert result.rerun(failed[0]) == f"crdtsim run {lossy} --seed {failed[0]}"
    text = result.render()
    assert f"convergence: {len(failed)} seeds" in text
    for seed in failed:
        assert f"crdtsim run {lossy} --seed {seed}" in text


def test_the_rerun_command_reproduces_the_failing_seed(lossy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing = next(run for run in sweep(lossy, range(1, 5), workers=2).runs if not run.ok)
    capsys.readouterr()
    assert main(["run", str(lossy), "--seed", str(failing.seed), "--json", "--quiet"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["trace_digest"] == failing.digest
    assert [c["name"] for c in report["checks"] if not c["ok"]] == list(failing.failed)


def test_a_crash_inside_a_run_is_a_failed_seed_with_its_error(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = ScenarioRun.run

    def crash_on_seed_3(self: ScenarioRun) -> RunResult:
        if self.scenario.seed == 3:
            raise RuntimeError("replica exploded")
        return original(self)

    monkeypatch.setattr(ScenarioRun, "run", crash_on_seed_3)
    assert run_seed(str(tiny), 3) == {"seed": 3, "ok": False, "failed": [ERROR], "digest": None,
                                      "convergence_time": None, "error": "RuntimeError: replica exploded"}
    if multiprocessing.get_start_method() != "fork":
        pytest.skip("pool workers see the patch only when forked")
    result = sweep(tiny, [1, 2, 3, 4], workers=2)
    assert result.failed == [3]
    assert result.by_check == {ERROR: [3]}
    assert result.runs[2].error == "RuntimeError: replica exploded"
    assert "RuntimeError: replica exploded" in result.render()


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="needs forked pool workers")
def test_a_dead_worker_process_fails_its_seeds_not_the_sweep(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ScenarioRun, "run", lambda self: os._exit(3))
    result = sweep(tiny, [1, 2], workers=1)
    assert result.failed == [1, 2]
    assert all(run.failed == (ERROR,) and "BrokenProcessPool" in (run.error or "") for run in result.runs)


# -- nothing left behind ---------------------------------------------------------------------


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory of this process, of its forked pool workers and of any child it starts."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", None)  # so tempfile reads TMPDIR again
    assert tempfile.gettempdir() == str(root)
    return root


def test_a_finished_sweep_leaves_no_temporary_directory(tiny: Path, private_tmp: Path) -> None:
    assert sweep(tiny, [1, 2, 3], workers=2).ok
    assert list(private_tmp.iterdir()) == []


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="needs forked pool workers")
def test_a_worker_dying_inside_its_work_directory_leaves_nothing(
    tiny: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die_inside(self: ScenarioRun) -> RunResult:
        if self.workdir is not None and self.workdir.is_dir() and self.workdir.is_relative_to(private_tmp):
            os._exit(3)  # inside its work directory, and no cleanup of any kind runs
        raise AssertionError(f"the run's work directory {self.workdir} is not under {private_tmp}")

    monkeypatch.setattr(ScenarioRun, "run", die_inside)
    result = sweep(tiny, [1, 2], workers=1)
    assert result.failed == [1, 2]
    assert all("BrokenProcessPool" in (run.error or "") for run in result.runs)  # the worker really died
    assert list(private_tmp.iterdir()) == []


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="needs forked pool workers")
def test_an_interrupted_sweep_stops_its_workers_and_leaves_nothing(
    tiny: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ScenarioRun.run
    running = multiprocessing.get_context("fork").Event()  # shared with the forked workers

    def seed_2_hangs(self: ScenarioRun) -> RunResult:
        if self.scenario.seed == 2:  # stays inside its work directory until the parent stops it
            running.set()
            while True:
                signal.pause()
        assert running.wait(timeout=600)  # seed 1 reports only once seed 2 is mid-run
        return original(self)

    def interrupt(run: SeedRun) -> None:
        raise KeyboardInterrupt  # Ctrl-C while seed 2 runs

    monkeypatch.setattr(ScenarioRun, "run", seed_2_hangs)
    with pytest.raises(KeyboardInterrupt):
        sweep(tiny, [1, 2], workers=2, on_run=interrupt)
    assert running.is_set()
    assert list(private_tmp.iterdir()) == []


def test_bad_scenarios_fail_before_any_work_is_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: object) -> None:
        raise AssertionError("the pool must not start for a bad scenario")

    monkeypatch.setattr(sim.sweep, "_on_pool", no_pool)
    bad = tmp_path / "bad.yaml"
    bad.write_text("zones: {dc: 3}\nworkload: {rate: 5/s}\n", encoding="utf-8")  # a workload without data
    with pytest.raises(SimError, match=r"bad\.yaml:2: workload"):
        sweep(bad, [1, 2])
    with pytest.raises(SimError, match="readable scenario file"):
        sweep(tmp_path / "missing.yaml", [1])
    with pytest.raises(SimError, match="no seeds"):
        sweep(bad, [])


def test_seed_run_and_result_round_trip_through_json(lossy: Path) -> None:
    result = sweep(lossy, [1, 2, 3], workers=1)
    data = json.loads(json.dumps(result.summary()))
    assert [SeedRun.from_data(run) for run in data["runs"]] == result.runs
    assert data["failed"] == result.failed and data["by_check"] == result.by_check
    assert [f["command"] for f in data["failures"]] == [rerun_command(lossy, s) for s in result.failed]


# -- the command line ----------------------------------------------------------------------


def test_cli_exit_codes(tiny: Path, lossy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(tiny), "--seeds", "1-3", "--workers", "2", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == f"sweep {tiny}: all 3 seeds passed"

    assert main(["sweep", str(lossy), "--seeds", "1-4", "--workers", "2", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "convergence: " in out and f"crdtsim run {lossy} --seed " in out

    for argv in (["--seeds", "1-x"], ["--seeds", "5-1"], ["--seeds", "1", "--workers", "0"]):
        assert main(["sweep", str(tiny), *argv]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith("crdtsim: ") and "Traceback" not in captured.err
    assert main(["sweep", str(tiny.parent / "missing.yaml"), "--seeds", "1"]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # the pool or a cluster, not both
        main(["sweep", str(tiny), "--seeds", "1", "--workers", "2", "--dask", "tcp://127.0.0.1:8786"])
    assert exit_.value.code == 2


def test_cli_json(lossy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(lossy), "--seeds", "1-4", "--workers", "2", "--json"]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["seeds"] == 4 and data["ok"] is False and data["failed"]
    assert [run["seed"] for run in data["runs"]] == [1, 2, 3, 4]
    assert "4 seeds in" in captured.err  # timing goes to stderr, so stdout stays the same from sweep to sweep


# -- a real Dask cluster -------------------------------------------------------------------


@pytest.mark.slow
def test_dask_cluster_gives_the_same_results_as_the_pool(lossy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    distributed = pytest.importorskip("distributed")
    seeds = ["--seeds", "1-8", "--json", "--quiet"]
    assert main(["sweep", str(lossy), *seeds, "--workers", "2"]) == 1
    on_pool = json.loads(capsys.readouterr().out)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        assert main(["sweep", str(lossy), *seeds, "--dask", cluster.scheduler_address]) == 1
        on_dask = json.loads(capsys.readouterr().out)
        # and through the library, as from a notebook
        result = sweep(lossy, range(1, 9), dask=cluster.scheduler_address)
    assert on_dask == on_pool
    assert result.summary() == {**on_pool, "scenario": str(lossy)}
    assert [(r.seed, r.ok, r.digest) for r in result.runs] == _serial(lossy, list(range(1, 9)))


# A workload that runs for minutes of wall time: stopped mid-run, never finished
ENDLESS = """\
zones: {dc: 3}
duration: 2000s
quiet_max: 10
entities:
  - {id: counter-1, example: counter, journal: sqlite, rate: 400/s}
"""


@pytest.mark.slow
def test_a_dask_worker_stopped_mid_seed_leaves_nothing(tmp_path: Path, private_tmp: Path) -> None:
    distributed = pytest.importorskip("distributed")
    endless = tmp_path / "endless.yaml"
    endless.write_text(ENDLESS, encoding="utf-8")
    with distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None,
                                  local_directory=str(private_tmp)) as cluster, \
            distributed.Client(cluster.scheduler_address) as client:
        client.submit(run_seed, str(endless), 1, pure=False)
        for _ in range(6000):  # 50 ms apart: generous, only a hang runs out of them
            if list(private_tmp.rglob("crdtsim-sweep-*/counter-1/*.sqlite")):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the seed never started")
    # the cluster is closed with the seed still running in its worker
    assert list(private_tmp.rglob("crdtsim-*")) == []
