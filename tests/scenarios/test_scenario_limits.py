"""Every size of a run is bounded up front, with the figure and the bound, and --limit raises a bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import bundled, main
from sim.errors import SimError
from sim.scenario import Scenario, ScenarioError
from sim.scenario.feasibility import figures
from sim.scenario.limits import Limits

DATA = "data: {keys: {k: GCounter}}\n"
CASES = [
    # (yaml, path, the message's expected-and-found, the --limit that lets it through)
    ("zones: {dc: 1000000}\n", "zones.dc",
     "expected at most 100,000 nodes in all (raise with --limit nodes=N), found 1,000,000", None),
    ("zones: {dc: 5000}\n", "zones.dc",
     "expected at most 1,000,000 links (raise with --limit links=N), found 12,497,500", "links=20000000"),
    ("zones: {dc: 3}\n" + DATA + "workload: {rate: 1e12/s}\n", "workload.rate",
     "at most 1,000,000 operations (rate x duration) (raise with --limit operations=N), found 5,000,000,000,000", None),
    ("zones: {dc: 3}\nduration: 1e9s\n", "duration", "at most 1,000,000 ticks", None),
    ("zones: {dc: 3}\ntick: 1e-99s\n", "tick", "found 5e+99", None),
    ("zones: {dc: 3}\nquiet_max: 5000000\n", "quiet_max", "at most 1,000,000 ticks", "ticks=6000000"),
    ("zones: {dc: 3}\nnemesis: {rate: 1e6/s}\n", "nemesis.rate", "at most 10,000 faults", None),
    ("zones: {dc: 3}\nentities: [{id: c, example: counter, rate: 1e9/s}]\n", "entities[0].rate", "operations", None),
    ("zones: {dc: 5000}\ntopology: [{between: [dc, dc]}]\nduration: 1000s\n", "duration",
     "at most 20,000,000 node-ticks (nodes x ticks)", "node_ticks=100000000"),
]


@pytest.mark.parametrize("text, path, message, raise_with", CASES, ids=[c[1] + ":" + c[2][:20] for c in CASES])
def test_an_infeasible_scenario_is_refused_with_its_figure_and_the_bound(
    tmp_path: Path, text: str, path: str, message: str, raise_with: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "big.yaml"
    file.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_yaml(file)
    assert f": {path}: " in str(caught.value) and message in str(caught.value), str(caught.value)
    if raise_with is not None:  # the explicit option lets a legitimately big scenario through the check
        name, value = raise_with.split("=")
        assert Scenario.from_yaml(file, Limits().raised(**{name: int(value)})) is not None
        assert main(["validate", str(file), "--limit", "nodes=1", "--limit", raise_with]) == 2  # nodes=1 still bites
        assert "nodes in all" in capsys.readouterr().err


def test_the_cli_option_raises_a_bound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "wide.yaml"
    file.write_text("zones: {dc: 120000}\ntopology: [{between: [dc, dc]}]\nduration: 1s\nquiet_max: 5\n")
    assert main(["validate", str(file)]) == 2
    assert "raise with --limit nodes=N" in capsys.readouterr().err
    assert Scenario.from_yaml(file, Limits.parse(["nodes=200000"])).get("zones") == {"dc": 120000}


def test_bad_limit_options_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for option in ("node=5", "nodes", "nodes=0", "nodes=-3", "nodes=1.5", "nodes=x"):
        with pytest.raises(SimError):
            Limits.parse([option])
        assert main(["validate", str(bundled()["cart"]), "--limit", option]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "limit" in err


def test_every_bundled_scenario_is_within_the_default_limits() -> None:
    limits = Limits()
    for name, path in bundled().items():
        sizes = figures(Scenario.from_yaml(path).data)
        for limit, value in sizes.items():
            assert value <= getattr(limits, limit), (name, limit, value)
    assert figures(Scenario.from_yaml(bundled()["gossip-1000"]).data)["nodes"] == 1000
    assert figures(Scenario.from_yaml(bundled()["gossip-100k"]).data)["nodes"] == 100_000


def test_a_session_lifetime_shorter_than_a_tick_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "ttl.yaml"
    file.write_text("zones: {db: 1, server: 1, client: 2}\napp: {spec: todo, session_ttl: 10ms}\n")
    with pytest.raises(ScenarioError, match=r"app.session_ttl: expected a session lifetime of at least one tick"):
        Scenario.from_yaml(file)
    file.write_text("zones: {db: 1, server: 1, client: 2}\napp: {spec: todo, session_ttl: 0s}\n")
    with pytest.raises(ScenarioError, match=r"app.session_ttl: expected a positive duration"):
        Scenario.from_yaml(file)
