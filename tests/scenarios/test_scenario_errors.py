"""Bad scenarios give one clear line: file, line, YAML path, expected, found; exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import Scenario, ScenarioError, build

BASE = "zones:\n  dc: 3\n"
CASES = [
    # (yaml after the zones, line, path, text in the message)
    ("links:\n  default:\n    latency: -5ms\n", 5, "links.default.latency", "found '-5ms'"),
    ("links:\n  default: {loss: 1.5}\n", 4, "links.default.loss", "expected a number <= 1, found 1.5"),
    ("data:\n  keys:\n    hits: GCounter\nworkload:\n  writ: majority\n", 7, "workload.writ", "a known key"),
    ("faults:\n  - {at: 1s, crash: dc-9}\n", 4, "faults[0].crash", "found 'dc-9'"),
    ("faults:\n  - {at: 1s, restart: dc-1}\n", 4, "faults[0].restart", "down at that time"),
    ("data:\n  keys:\n    hits: {type: GCountr}\n", 5, "data.keys.hits.type", "found 'GCountr'"),
    ("seed: many\n", 3, "seed", "expected an integer, found 'many'"),
    ("topology:\n  - {zone: web, kind: ring}\n", 4, "topology[0].zone", "found 'web'"),
    ("tick: 0s\n", 3, "tick", "positive duration"),
    ("data:\n  keys:\n    hits: GCounter\nworkload:\n  keys: [nope]\n", 7, "workload.keys[0]", "found 'nope'"),
    # dc-1 and dc-3 replicate only through dc-2, which hosts no replicator: they never would
    ("topology:\n  - {zone: dc, kind: line}\ndata:\n  nodes: [dc-1, dc-3]\n  keys:\n    hits: GCounter\n", 6,
     "data.nodes", "a connected graph through links between replicas"),
]


@pytest.mark.parametrize("extra, line, path, text", CASES, ids=[c[2] for c in CASES])
def test_bad_scenario_names_file_line_path_expected_and_found(
    tmp_path: Path, extra: str, line: int, path: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(BASE + extra)
    with pytest.raises(ScenarioError) as caught:
        build(Scenario.from_yaml(file))
    message = str(caught.value)
    assert message.startswith(f"{file}:{line}: {path}: expected "), message
    assert text in message
    assert main(["run", str(file), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"crdtsim: {message}" and "Traceback" not in err


def test_yaml_syntax_error_gives_its_line(tmp_path: Path) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text("zones:\n  dc: 3\n  links: [\n")
    with pytest.raises(ScenarioError, match=r"broken.yaml:4: \(document\): expected valid YAML"):
        Scenario.from_yaml(file)


def test_missing_file_and_unknown_bundled_name_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "does-not-exist.yaml", "--quiet"]) == 2
    assert main(["run", "no-such-bundled-scenario", "--quiet"]) == 2
    assert "crdtsim list" in capsys.readouterr().err


def test_python_built_scenarios_are_validated_by_the_same_schema() -> None:
    with pytest.raises(ScenarioError, match=r"<python>: zones.dc: expected"):
        Scenario.from_dict({"zones": {"dc": 0}})


def test_validate_rejects_cut_off_replicas_and_accepts_what_runs_on_a_ring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.yaml"
    cut.write_text(BASE + "topology:\n  - {zone: dc, kind: line}\n"
                   "data:\n  nodes: [dc-1, dc-3]\n  keys:\n    c: GCounter\n")
    assert main(["validate", str(cut)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    # Levels above local, event sourcing and volatile op replicas on a ring: all validate and run.
    ring = tmp_path / "ring.yaml"
    ring.write_text(
        "seed: 3\nduration: 2s\nzones:\n  dc: 6\ntopology:\n  - {zone: dc, kind: ring}\n"
        "data:\n  protocol: op\n  durable: false\n  keys:\n    c: GCounter\n"
        "workload:\n  rate: 20/s\n  write: majority\n  read: all\n  reads: 0.3\n"
        "entities:\n  - {id: counter-1, example: counter}\n"
        "faults:\n  - {at: 1s, crash: dc-2}\n  - {at: 1.5s, restart: dc-2}\n")
    assert main(["validate", str(ring)]) == 0
    assert main(["run", str(ring), "--quiet"]) == 0
    assert "Traceback" not in capsys.readouterr().err
