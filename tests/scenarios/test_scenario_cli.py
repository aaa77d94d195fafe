"""``crdtsim run / validate / list / schema`` as a user drives them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from sim.cli import bundled, main

ROOT = Path(__file__).resolve().parents[2]

SUMMARY_KEYS = {"converged", "convergence_time", "messages", "bytes", "dropped", "invariants", "trace_digest"}


def test_run_without_arguments_runs_the_quickstart(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scenario quickstart  seed 42  OK")
    assert "[ok] convergence: 2/2 keys converged" in out


def test_json_summary_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "cart", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert SUMMARY_KEYS <= set(report)
    assert report["converged"] is True and report["keys"]["cart"]["converged"] is True
    assert report["messages"]["total"] == sum(report["messages"]["by_protocol"].values())


def test_seed_override_changes_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    digests = []
    for seed in ("1", "2", "1"):
        assert main(["run", "cart", "--json", "--quiet", "--seed", seed]) == 0
        digests.append(json.loads(capsys.readouterr().out)["trace_digest"])
    assert digests[0] == digests[2] != digests[1]


def test_a_failed_check_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = yaml.safe_load((ROOT / "scenarios" / "lossy-protocols.yaml").read_text())
    broken["data"] = {"options": {"op": {"reliable": False}}, "keys": {"k": {"type": "ORSet", "protocol": "op"}}}
    broken["quiet_max"] = 30
    file = tmp_path / "unreliable.yaml"
    file.write_text(yaml.safe_dump(broken))
    assert main(["run", str(file), "--json", "--quiet"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["converged"] is False


def test_out_dir_gets_what_the_summary_lists_and_nothing_else(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", "quickstart", "--quiet", "--trace", "--out", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["distinct_states.svg", "faults.svg", "history.jsonl", "latency.svg", "report.html",
                       "requests.svg", "spacetime.svg", "summary.json", "trace.chrome.json", "trace.jsonl",
                       "traffic.svg"]
    assert json.loads((out / "summary.json").read_text())["files"] == written
    assert "files: " + ", ".join(written) in capsys.readouterr().out
    lines = (out / "trace.jsonl").read_text().splitlines()
    assert {json.loads(line)["kind"] for line in lines} >= {"send", "deliver", "fault", "crash", "restart"}
    assert json.loads((out / "trace.chrome.json").read_text())["traceEvents"]
    assert json.loads((out / "summary.json").read_text())["scenario"] == "quickstart"


def test_plots_and_trace_need_an_out_dir(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "quickstart", "--plots"]) == 2
    assert "give --out DIR" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.slow  # it builds every bundled scenario, gossip-100k at its 100,000 nodes
def test_validate_list_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *[str(p) for p in bundled().values()]]) == 0
    assert capsys.readouterr().out.count(": ok") == len(bundled())
    assert main(["list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == list(bundled())
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    for path in bundled().values():  # the exported schema accepts every bundled scenario
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    bad = tmp_path / "bad.yaml"
    bad.write_text("zones: {dc: 2}\nextra: 1\n")
    assert main(["validate", str(bad)]) == 2


def test_the_same_scenario_gives_the_same_digest_under_any_hash_seed() -> None:
    digests = set()
    for hash_seed in ("0", "1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-m", "sim.cli", "run", "partition-heal", "--json", "--quiet"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        ).stdout
        digests.add(json.loads(out)["trace_digest"])
    assert len(digests) == 1


def test_the_scenario_example_in_the_readme_runs_and_holds() -> None:
    import re

    from sim.scenario import Scenario, run_scenario

    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    for block in blocks:
        run = run_scenario(Scenario.from_yaml_text(block, "README.md"))
        # A scenario that selects a broken variant shows a bug: its checks must catch it.
        assert run.result is not None and run.result.ok == ("variant:" not in block)


def test_validating_leaves_no_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    # es-counter and todo-storage keep SQLite files in a temporary directory while they run.
    assert main(["validate", str(bundled()["es-counter"]), str(bundled()["todo-storage"])]) == 0
    assert list(scratch.iterdir()) == []
