"""The request history: invocations and completions, their outcomes, the summary and the file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from crdt import GCounter, ORSet
from sim.cli import bundled, main
from sim.history import HISTORY_SCHEMA, History, percentiles
from sim.replication import DistributedData, KeySpec, Majority
from sim.scenario import Scenario, run_scenario
from sim.world import World


def _clock(times: list[float]):  # type: ignore[no-untyped-def]
    return iter(times).__next__


def test_an_operation_is_invoked_then_completed_once() -> None:
    h = History(_clock([1.0, 1.5, 2.0]))
    op = h.invoke("dc-1", "update", "cart", "add", ("milk",), level="majority")
    h.complete(op, "info", reason="timeout")
    h.complete(op, "ok")  # a late answer changes nothing
    assert (op.type, op.reason, op.latency) == ("info", "timeout", 0.5)
    assert [r["type"] for r in h.records()] == ["invoke", "info"]
    assert h.records()[1]["reason"] == "timeout" and h.records()[0]["args"] == ["milk"]


def test_requests_still_open_at_the_end_are_indeterminate() -> None:
    h = History(_clock([0.0, 3.0]))
    op = h.invoke("dc-1", "read", "cart", "get")
    h.close()
    assert op.type == "info" and "end of the run" in op.reason


def test_records_are_in_the_order_things_happened() -> None:
    h = History(_clock([0.0, 0.1, 0.2, 0.3]))
    a = h.invoke("n1", "update", "k", "add", [1])
    b = h.invoke("n2", "update", "k", "add", [2])
    h.complete(b, "ok")
    h.complete(a, "fail")
    assert [(r["id"], r["type"]) for r in h.records()] == [(1, "invoke"), (2, "invoke"), (2, "ok"), (1, "fail")]
    assert [r["index"] for r in h.records()] == [0, 1, 2, 3]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values) == {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert percentiles([]) is None


def test_summary_groups_by_kind_and_level_and_counts_outcomes() -> None:
    h = History(_clock([0.0, 0.002, 0.01, 0.011, 0.02]))
    ok = h.invoke("n1", "update", "k", "add", [1], level="majority")
    h.complete(ok, "ok")
    timed_out = h.invoke("n1", "update", "k", "add", [2], level="majority")
    h.complete(timed_out, "info", reason="timeout")
    h.invoke("n2", "command", "counter", "command", [1])
    summary = h.summary()
    assert summary["update majority"] == {"count": 2, "ok": 1, "fail": 0, "info": 1,
                                          "latency_ms": {"p50": 2.0, "p95": 2.0, "p99": 2.0, "max": 2.0}}
    assert summary["command"]["count"] == 1 and summary["command"]["latency_ms"] is None


def test_replicated_data_requests_are_recorded_with_their_outcomes() -> None:
    w = World(seed=3, default_link={"latency": "10ms"})
    nodes = w.add_nodes("dc", 3)
    w.connect(nodes, "complete")
    dd = DistributedData(w, nodes, {"hits": KeySpec(GCounter, "delta"), "cart": KeySpec(ORSet, "delta")})
    w.set_faults([])
    dd.replicator("dc-1").update("hits", GCounter, lambda c: c.increment(2), write=Majority(timeout=0.5))
    w.schedule(0.1, lambda: w.crash("dc-3"))
    w.schedule(0.1, lambda: w.crash("dc-2"))
    w.schedule(0.2, lambda: dd.replicator("dc-1").update("cart", ORSet, lambda s: s.add("milk"),
                                                         write=Majority(timeout=0.3)))
    w.schedule(0.2, lambda: dd.replicator("dc-1").get("cart", read=Majority(timeout=0.3)))
    w.schedule(0.2, lambda: dd.replicator("dc-1").get("hits"))
    w.run(duration="1s")
    by = {(op.kind, op.key): op for op in w.history.operations}
    write = by[("update", "hits")]
    assert (write.type, write.f, write.args, write.level, write.node) == ("ok", "increment", [2], "majority", "dc-1")
    assert write.latency is not None and write.latency > 0 and len(write.replicas) >= 2
    assert (by[("update", "cart")].type, by[("update", "cart")].reason) == ("info", "timeout")
    assert (by[("read", "cart")].type, by[("read", "cart")].reason) == ("fail", "timeout")
    assert (by[("read", "hits")].type, by[("read", "hits")].value) == ("ok", 2)
    acked = {u.request for u in dd.updates if u.acked}
    assert acked == {op.id for op in w.history.operations if op.kind == "update" and op.type == "ok"}


def test_event_sourced_commands_and_app_mutations_are_recorded() -> None:
    es = run_scenario(Scenario.from_yaml(bundled()["es-counter"]))
    commands = [op for op in es.history.operations if op.kind == "command"]
    assert commands and {op.type for op in commands} <= {"ok", "fail"}
    results = es.entities[0].results
    assert len(commands) == len(results)
    assert sum(op.type == "ok" for op in commands) == sum(r.ok for r in results)
    todo = run_scenario(Scenario.from_yaml(bundled()["todo"]))
    mutations = [op for op in todo.history.operations if op.kind == "mutation"]
    assert mutations and all(op.type == "ok" and op.latency == 0.0 for op in mutations)


@pytest.fixture(scope="module")
def partition_heal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("partition-heal")
    assert main(["run", "partition-heal", "--quiet", "--out", str(out)]) == 0
    return out


def test_history_file_of_a_bundled_scenario_validates_against_its_schema(partition_heal: Path) -> None:
    jsonschema.Draft202012Validator.check_schema(HISTORY_SCHEMA)
    validator = jsonschema.Draft202012Validator(HISTORY_SCHEMA)
    records = [json.loads(line) for line in (partition_heal / "history.jsonl").read_text().splitlines()]
    assert records
    for record in records:
        validator.validate(record)
    invoked = {r["id"] for r in records if r["type"] == "invoke"}
    completed = [r["id"] for r in records if r["type"] != "invoke"]
    assert sorted(completed) == sorted(invoked)  # every request completes exactly once
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**records[0], "type": "done"})


def test_every_acknowledged_write_in_the_history_is_accounted_for_by_the_invariant_check(
        partition_heal: Path) -> None:
    records = [json.loads(line) for line in (partition_heal / "history.jsonl").read_text().splitlines()]
    summary = json.loads((partition_heal / "summary.json").read_text())
    ok_writes: dict[str, int] = {}
    for r in records:
        if r["type"] == "ok" and r["kind"] == "update":
            ok_writes[r["key"]] = ok_writes.get(r["key"], 0) + 1
    run = run_scenario(Scenario.from_yaml(bundled()["partition-heal"]))
    invariants = next(c for c in run.result.checks if c.name == "invariants")
    assert invariants.details["acknowledged"] == ok_writes
    assert sorted(invariants.details["checked"]) == sorted(summary["keys"]) == sorted(ok_writes)
    assert sum(ok_writes.values()) == summary["history"]["update local"]["ok"]


def test_the_cli_prints_the_history_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "history"]) == 0
    assert json.loads(capsys.readouterr().out) == HISTORY_SCHEMA


def test_history_jsonl_goes_to_a_stream_too() -> None:
    h = History(_clock([0.0, 0.0]))
    h.complete(h.invoke("n", "read", "k", "get"), "ok", value=frozenset({2, 1}))
    out = io.StringIO()
    h.to_jsonl(out)
    assert json.loads(out.getvalue().splitlines()[1])["value"] == [1, 2]
