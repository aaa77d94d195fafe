"""``crdtsim bench apps``: it runs passing scenarios and reports rates (never judged by speed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.benchmarks.apps import measure
from sim.cli import main
from sim.errors import SimError


def test_measure_runs_every_seed_and_reports_positive_rates() -> None:
    bench = measure("todo-access", seeds=2, duration="0.5s")
    assert bench.seeds == 2 and bench.delivered > 0
    assert bench.runs_per_second > 0 and bench.messages_per_second > 0 and bench.floor > 0


def test_a_scenario_that_fails_its_checks_is_not_benchmarked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no quiet phase: the replicas cannot have converged when the checks run
    unquiet = tmp_path / "unquiet.yaml"
    unquiet.write_text("seed: 1\nzones: {dc: 3}\nquiet_max: 0\nlinks: {default: {latency: 50ms}}\n"
                       "data: {keys: {cart: ORSet}}\nworkload: {rate: 50/s}\n")
    monkeypatch.setattr("sim.cli.bundled", lambda: {"unquiet": unquiet})
    with pytest.raises(SimError, match="unquiet failed its checks at seed 0"):
        measure("unquiet", seeds=1, duration="1s")


def test_the_cli_prints_the_figures_and_refuses_an_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "apps", "--seeds", "1", "--duration", "0.3s"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("todo-access: 1 seeds in ") and "app/floor" in out
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "apps", "--scenario", "nope"])
    assert exit_.value.code == 2 and "no bundled scenario 'nope'" in capsys.readouterr().err
