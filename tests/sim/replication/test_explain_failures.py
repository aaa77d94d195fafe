"""A failed run explains itself: for each broken variant the text summary, ``--json`` and
report.html name the diverged key, the replicas holding each state and what differs; a failed
invariant names the acknowledged write it lost by request id, node and time."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from cluster import faulty_cluster
from test_broken_variants import BROKEN

from sim.htmlreport import build_report
from sim.replication import KeySpec
from sim.report import render
from sim.scenario import Scenario, ScenarioRun


def _run(keys: dict[str, KeySpec], options: dict[str, Any], seed: int = 1) -> ScenarioRun:
    world, dd = faulty_cluster(keys, seed, options)
    scenario = Scenario.from_data({"name": "broken", "seed": seed, "zones": {"dc": 3}, "duration": "3s",
                                   "quiet_max": 300})
    run = ScenarioRun(scenario, world, dd)
    run.run()
    return run


@pytest.mark.parametrize("name, keys, options", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_variant_says_who_holds_what(name: str, keys: dict[str, KeySpec], options: dict[str, Any]) -> None:
    run = _run(keys, options)
    s = run.summary()
    text, page = render(s), build_report(s, run.history.records(), {})
    printed = json.loads(json.dumps(s))  # what --json prints
    assert not s["ok"]
    diverged = [k for k, v in s["keys"].items() if not v["converged"]]
    lost = s["invariants"]["lost_writes"] if s["invariants"] else {}
    assert diverged or lost or s["invariants"]["violations"], name
    live = sorted(run.data.states("k"))
    for key in diverged:
        states = printed["keys"][key]["states"]
        assert len(states) >= 2
        assert sorted(n for state in states for n in state["nodes"]) == live  # every live replica, once
        lines = printed["keys"][key]["difference"]["lines"]
        assert lines and all(isinstance(line, str) and line for line in lines)
        assert f"{key} diverged: {len(states)} distinct states" in text
        for state in states:
            assert f"  {', '.join(state['nodes'])}: " in text
            assert f"<td>{html.escape(', '.join(state['nodes']))}</td>" in page
        for line in lines:
            assert f"differs: {line}" in text
            assert html.escape(line) in page
        assert f'id="key-{key}"' in page


def test_a_lost_acknowledged_write_is_named_by_request_node_and_time() -> None:
    name, keys, options = next(b for b in BROKEN if b[0] == "first-writer-wins register")
    run = _run(keys, options)
    s = run.summary()
    writes = s["invariants"]["lost_writes"]["k"]
    assert writes
    ops = {op.id: op for op in run.history.operations}
    for w in writes:
        op = ops[w["request"]]  # the request the history recorded
        assert (op.node, op.invoked, op.type, op.key) == (w["node"], w["time"], "ok", "k")
        assert op.args == w["args"]
    first = writes[0]
    where = f"k: lost request {first['request']} ({first['f']} {first['args']}) at {first['node']}, "
    assert f"{where}t={first['time']:.3f}s" in render(s)
    assert "request" not in s["invariants"]["violations"]["k"]  # the check's wording stays the same
    page = build_report(s, run.history.records(), {})
    assert f'<td class="num">{first["request"]}</td><td>{first["node"]}</td><td>{first["time"]:.3f}s</td>' in page


def test_a_converged_key_has_no_states_listed() -> None:
    s = _run({"k": BROKEN[0][1]["k"]}, {}).summary()
    assert s["ok"] and "states" not in s["keys"]["k"] and "difference" not in s["keys"]["k"]
