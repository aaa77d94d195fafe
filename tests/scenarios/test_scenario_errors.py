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
    # durations and rates carry a unit: a bare 20 could be seconds or milliseconds
    ("links:\n  default: {latency: {exponential: {mean: 20}}}\n", 4, "links.default.latency.exponential.mean",
     "expected a duration with a unit: 250us, 5ms, 2s"),
    ("data:\n  keys: {hits: GCounter}\nworkload: {rate: 20}\n", 5, "workload.rate", "a rate with a unit: 100/s"),
    ("warmup: .nan\n", 3, "warmup", "expected a finite number, found nan"),
    # protocol options are checked where they are written
    ("data:\n  options:\n    op: {retransmit: false}\n  keys: {hits: GCounter}\n", 5, "data.options.op.retransmit",
     "expected an integer, found False"),
    ("data:\n  options:\n    state: {mode: sideways}\n  keys: {hits: GCounter}\n", 5, "data.options.state.mode",
     "found 'sideways'"),
    ("data:\n  options:\n    delta: {fanout: 0}\n  keys: {hits: GCounter}\n", 5, "data.options.delta.fanout",
     "expected a number >= 1, found 0"),
    ("data:\n  options:\n    delta: {pull: true}\n  keys: {hits: GCounter}\n", 5, "data.options.delta.pull",
     "a known key (one of ['bp', 'causal', 'every', 'fanout', 'rr', 'spread_written'])"),
    # a restart before its crash is reported at the restart the user wrote, not at the sorted position
    ("faults:\n  - {at: 2s, crash: dc-1}\n  - {at: 1s, restart: dc-1}\n", 5, "faults[1].restart", "down at that time"),
    ("faults:\n  - {at: 1s, clock: dc-1, skew: 1.0e+9}\n", 4, "faults[0].skew", "a number <= 86400"),
    ("data:\n  nodes: [dc-1, dc-9]\n  keys: {hits: GCounter}\n", 4, "data.nodes[1]", "a known node, found 'dc-9'"),
    ("entities:\n  - {id: c, example: counter, replicas: [dc-9]}\n", 4, "entities[0].replicas[0]", "found 'dc-9'"),
    ("topology:\n  - {zone: dc, kind: random_regular, params: {d: 3}}\n", 4, "topology[0].params.d",
     "an integer in [1, 2]"),
    ("entities:\n  - {id: ../../x, example: counter, journal: sqlite}\n", 4, "entities[0].id",
     "expected an id: a letter or digit"),
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


APP_BASE = "zones: {db: 1, server: 1, client: 2}\n"
APP_CASES = [
    ("app:\n  spec: todo\n  todos:\n    - {at: 1s, node: client-9, title: milk}\n", 5, "app.todos[0].node",
     "a node of an app zone holding 'edits' (one of ['client-1', 'client-2']), found 'client-9'"),
    ("app:\n  spec: todo\n  todos:\n    - {at: 1s, node: db-1, title: milk}\n", 5, "app.todos[0].node", "found 'db-1'"),
    ("app:\n  spec: todo\n  attacks:\n    - {at: 1s, node: client-1, replay: nobody}\n", 5,
     "app.attacks[0].replay", "an app node"),
    ("app:\n  spec: todo\n  exports:\n    - {at: 1s, node: client-1}\n", 5, "app.exports[0].node",
     "holding 'export_request'"),
    ("app:\n  spec: todo\n  variant: {filter: x}\n", 4, "app.variant.filter", "a known key"),
    ("app:\n  spec: todo\n  todos: [{at: 1s}]\n", 4, "app.todos[0]", "expected the key 'node'"),
    ("app:\n  spec: todo\n  storage: {client: disk}\n", 4, "app.storage.client", "one of 'sqlite', 'memory'"),
    ("app:\n  registry: todo\n  zones:\n    db:\n      x: {crdt: LWWMap, value: object, init: 5}\n", 6,
     "app.zones.db.x.init", "a mapping of keys to object values, found 5"),
    ("app:\n  registry: todo\n  zones:\n    db:\n      x: {crdt: GSet, value: number, init: [a]}\n", 6,
     "app.zones.db.x.init", "a list of number values"),
    ("app:\n  registry: todo\n  zones:\n    db:\n      x: {crdt: LWWMap, value: object, computer: /db/y}\n", 6,
     "app.zones.db.x.computer", "expected to name a declared state or computation"),
    ("app:\n  spec: todo\n  session_ttl: 10ms\n", 4, "app.session_ttl", "at least one tick"),
    ("app: [1, 2]\n", 2, "app", "expected a mapping"),
]


@pytest.mark.parametrize("extra, line, path, text", APP_CASES, ids=[c[2] for c in APP_CASES])
def test_bad_app_section_names_file_line_path_expected_and_found(
    tmp_path: Path, extra: str, line: int, path: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(APP_BASE + extra)
    assert main(["validate", str(file)]) == 2
    message = capsys.readouterr().err.strip().removeprefix("crdtsim: ")
    assert message.startswith(f"{file}:{line}: {path}: expected "), message
    assert text in message and "\n" not in message


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
        Scenario.from_data({"zones": {"dc": 0}})


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


def test_the_schema_knows_exactly_the_options_each_protocol_accepts() -> None:
    from sim.replication.delta_gossip import DeltaGossip
    from sim.replication.op_broadcast import OpBroadcast
    from sim.replication.state_gossip import StateGossip
    from sim.scenario import scenario_schema

    options = scenario_schema()["$defs"]["protocol_options"]["properties"]
    assert {name: set(options[name]["properties"]) for name in options} == {
        cls.name: set(cls.option_names) for cls in (StateGossip, DeltaGossip, OpBroadcast)}


def test_the_app_schema_knows_every_attack_and_the_keys_the_app_section_reads() -> None:
    from sim.apps.attacks import ATTACKS
    from sim.scenario.app import _KEYS
    from sim.scenario.app_schema import APP_PROPERTIES

    kinds = {name for item in APP_PROPERTIES["attacks"]["items"]["anyOf"]
             for name in item["required"] if name not in ("at", "node")}
    assert kinds == set(ATTACKS)
    assert set(APP_PROPERTIES) == _KEYS


@pytest.mark.parametrize("app, path", [
    ({"login": "maybe"}, "app.login"),
    ({"delivery": "twice"}, "app.delivery"),
    ({"eager": "yes"}, "app.eager"),
    ({"attacks": [{"at": "1s", "node": "client-1", "steal": "client-2"}]}, "app.attacks[0]"),
])
def test_the_app_models_switches_and_attacks_are_checked_at_their_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], app: dict[str, object], path: str) -> None:
    import yaml

    scenario = yaml.safe_load((Path(__file__).parents[2] / "scenarios" / "todo.yaml").read_text())
    scenario["app"].update(app)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(scenario))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f": {path}" in err and err.count("\n") == 1, err
