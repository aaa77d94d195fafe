"""``crdtsim hunt`` from the shell: reports, exit codes, and one line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.hunt.targets import target_scenario

TARGETS = Path(__file__).resolve().parents[2] / "scenarios" / "hunt"


def _write(tmp_path: Path, data: dict[str, object], name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_hunt_prints_the_report_and_exits_1_with_a_replayable_minimal_yaml(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["hunt", str(TARGETS / "op-unreliable.yaml"), "--budget", "60", "--workers", "2",
                 "--out", str(tmp_path), "--json", "--quiet"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["found"] and report["failing_check"] == "convergence"
    assert report["runs"] <= 60 and report["runs_to_failure"] <= report["runs"]
    assert report["after"]["size"] == {"faults": 1, "writes": 1}
    assert report["before"]["size"]["faults"] >= report["after"]["size"]["faults"]
    assert report["replay"] == f"crdtsim run {tmp_path / 'minimal.yaml'}"
    assert main(["run", str(tmp_path / "minimal.yaml"), "--quiet"]) == 1
    assert "[FAIL] convergence" in capsys.readouterr().out
    assert json.loads((tmp_path / "report.json").read_text()) == report


def test_hunt_text_report_shows_both_schedules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", str(TARGETS / "first-writer-wins.yaml"), "--budget", "5", "--workers", "0",
                 "--out", str(tmp_path), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "invariants fails without any fault" in out
    assert "before shrinking:" in out and "after shrinking: 0 faults, 2 writes" in out
    assert f"replay: crdtsim run {tmp_path / 'minimal.yaml'}" in out


def test_a_correct_protocol_exits_0_with_no_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = target_scenario("op-unreliable")
    del data["data"]["variant"]
    assert main(["hunt", str(_write(tmp_path, data)), "--budget", "16", "--workers", "0", "--quiet"]) == 0
    assert "no failure in 16 runs" in capsys.readouterr().out


@pytest.mark.parametrize("budget", ["0", "-3", "soon", "0s"])
def test_a_zero_or_meaningless_budget_is_one_line_and_exit_2(budget: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", str(TARGETS / "op-unreliable.yaml"), f"--budget={budget}", "--quiet"]) == 2
    assert "budget: expected" in _one_line_error(capsys)


@pytest.mark.parametrize("hunt, expected", [
    ({"nodes": {"min": 4, "max": 2}}, "hunt.nodes.min: expected a minimum no greater than the maximum (2), found 4"),
    ({"writes": {"min": 9, "max": 3}}, "hunt.writes.min: expected a minimum no greater than the maximum (3), found 9"),
    ({"loss": {"max": 1.5}}, "hunt.loss.max: expected a number within [0, 1], found 1.5"),
    ({"faults": {"longest": "10s"}}, "hunt.faults.longest: expected a duration within (0, 3.0s], found '10s'"),
    ({"writes": {"keys": ["nope"]}}, "hunt.writes.keys[0]: expected a key among ['k'], found 'nope'"),
    ({"topology": ["grid"]}, "hunt.topology[0]: expected a topology without parameters"),
    ({"faults": {"max": 0}, "writes": {"max": 0, "min": 0}}, "hunt: expected room for at least one fault or one write"),
])
def test_impossible_hunt_bounds_are_one_line_with_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], hunt: dict[str, object], expected: str) -> None:
    data = target_scenario("op-unreliable")
    data["hunt"] = hunt
    path = _write(tmp_path, data)
    assert main(["hunt", str(path), "--budget", "5", "--quiet"]) == 2
    err = _one_line_error(capsys)
    assert err.startswith(f"crdtsim: {path}:") and expected in err, err


def test_an_unknown_variant_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = target_scenario("op-unreliable")
    data["data"]["variant"] = "no-such-bug"
    assert main(["run", str(_write(tmp_path, data)), "--quiet"]) == 2
    expected = "data.variant: expected a known variant (one of ['cut-off-replicas', 'delta-acausal'"
    assert expected in _one_line_error(capsys)


@pytest.mark.parametrize("write, expected", [
    ({"at": "1s", "node": "dc-1", "key": "k", "op": "frobnicate"}, "workload.writes[0].op: expected a mutation among"),
    ({"at": "9s", "node": "dc-1", "key": "k"}, "workload.writes[0].at: expected a time within the workload phase"),
    ({"at": "1s", "node": "dc-9", "key": "k"}, "workload.writes[0].node: expected a node hosting the data"),
    ({"at": "1s", "node": "dc-1", "key": "x"}, "workload.writes[0].key: expected a key among ['k']"),
])
def test_bad_explicit_writes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          write: dict[str, object], expected: str) -> None:
    data = target_scenario("op-unreliable")
    data["workload"] = {"writes": [write]}
    assert main(["run", str(_write(tmp_path, data)), "--quiet"]) == 2
    assert expected in _one_line_error(capsys)


def test_the_readme_example_is_what_hunt_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    readme = (TARGETS.parents[1] / "README.md").read_text()
    shown = readme.split("hunt scenarios/hunt/op-unreliable.yaml: convergence", 1)[1].split("```", 1)[0]
    minimal = readme.split("name: hunt-op-unreliable-minimal", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(TARGETS.parents[1])
    assert main(["hunt", "scenarios/hunt/op-unreliable.yaml", "--out", str(tmp_path), "--quiet"]) == 1
    printed = capsys.readouterr().out.split("hunt scenarios/hunt/op-unreliable.yaml: convergence", 1)[1]

    def untimed(text: str) -> str:  # wall times and the output directory differ from run to run
        return re.sub(r"[\d.]+s\)", "…s)", text.split("replay:")[0])

    assert untimed(printed) == untimed(shown)
    assert (tmp_path / "minimal.yaml").read_text().split("name: hunt-op-unreliable-minimal", 1)[1] == minimal


@pytest.mark.slow
def test_hunt_on_a_dask_cluster_finds_what_the_pool_finds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    distributed = pytest.importorskip("distributed")
    target = str(TARGETS / "delta-acausal.yaml")
    assert main(["hunt", target, "--budget", "40", "--workers", "2", "--json", "--quiet", "--out", str(tmp_path)]) == 1
    on_pool = json.loads(capsys.readouterr().out)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        assert main(["hunt", target, "--budget", "40", "--dask", cluster.scheduler_address, "--json", "--quiet",
                     "--out", str(tmp_path)]) == 1
        on_dask = json.loads(capsys.readouterr().out)
    for report in (on_pool, on_dask):
        del report["seconds"], report["shrink"]["seconds"]
    assert on_dask == on_pool and on_pool["found"]


def test_hunt_reports_an_unreachable_dask_scheduler_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", str(TARGETS / "op-unreliable.yaml"), "--dask", "tcp://127.0.0.1:1", "--quiet"]) == 2
    assert "cannot connect to the Dask scheduler" in _one_line_error(capsys)


def test_a_variant_name_hunts_its_bundled_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", "first-writer-wins", "--budget", "5", "--workers", "0", "--out", str(tmp_path),
                 "--quiet"]) == 1
    assert capsys.readouterr().out.startswith(f"hunt {TARGETS / 'first-writer-wins.yaml'}: invariants fails")
