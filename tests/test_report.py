"""The summary and its table: the fault schedule as applied (each event with its origin and its
description), and how each check ended."""

from __future__ import annotations

from sim import htmlreport
from sim.report import applied_faults, describe_fault, render
from sim.scenario import Scenario, run_scenario

FAULTS = [{"at": "0.2s", "partition": [["dc-1"], ["dc-2", "dc-3"]], "duration": "0.2s"},
          {"at": "0.3s", "one_way": ["dc-2"], "to": ["dc-3"], "duration": "0.2s"},
          {"at": "0.4s", "crash": "dc-3"}, {"at": "0.6s", "restart": "dc-3"},
          {"at": "0.5s", "loss_burst": "dc-1", "to": "dc-2", "duration": "0.2s", "loss": 0.9},
          {"at": "0.7s", "clock": "dc-2", "skew": 0.25}, {"at": "0.8s", "isolate": "dc-1", "duration": "0.1s"}]


def _run(**extra: object):  # type: ignore[no-untyped-def]
    spec = {"seed": 4, "zones": {"dc": 3}, "duration": "1s", "data": {"keys": {"hits": "GCounter"}},
            "workload": {"rate": "20/s"}, **extra}
    return run_scenario(Scenario.from_data(spec))


def test_every_applied_fault_is_listed_once_in_order_and_described() -> None:
    faults = applied_faults(_run(faults=FAULTS))
    assert [describe_fault(f) for f in faults] == [
        "partition dc-1 | dc-2 dc-3 for 0.2s",
        "one-way cut dc-2 -> dc-3 for 0.2s",
        "crash dc-3",
        "heal fault-0",
        "loss burst dc-1 -> dc-2 at 90% for 0.2s",
        "heal fault-1",
        "restart dc-3",
        "clock of dc-2: skew +0.250s",
        "isolate dc-1 for 0.1s",
        "heal fault-6",
        "heal everything",
    ]
    assert [f["origin"] for f in faults] == ["scenario"] * 10 + ["run"]
    assert [f["t"] for f in faults] == sorted(f["t"] for f in faults)


def test_nemesis_faults_are_told_apart_from_listed_ones() -> None:
    run = _run(faults=[{"at": "0.05s", "clock": "dc-1", "skew": 0.1}],
               nemesis={"rate": 8, "kinds": ["partition", "crash"], "mean_fault": "0.1s"})
    faults = applied_faults(run)
    origins = {f["origin"] for f in faults}
    assert origins == {"scenario", "nemesis", "run"}
    drawn = [f for f in faults if f["origin"] == "nemesis" and f["kind"] == "fault"]
    assert len(drawn) == sum(1 for f in run.world.faults if any(f is d for d in run.nemesis)) > 0
    text = run.render()
    assert f"faults applied ({len(faults)}):" in text and "[nemesis]" in text


def test_a_run_that_only_heals_at_the_end_lists_that_heal() -> None:
    faults = applied_faults(_run())
    assert [(f["kind"], f["origin"]) for f in faults] == [("heal", "run")]


def test_a_scheduled_heal_is_listed_once() -> None:
    faults = applied_faults(_run(faults=[{"at": "0.2s", "isolate": "dc-1"}, {"at": "0.5s", "heal": True}]))
    assert [(describe_fault(f), f["origin"]) for f in faults] == [
        ("isolate dc-1", "scenario"), ("heal everything", "scenario"), ("heal everything", "run")]


def test_a_check_with_nothing_to_look_at_is_shown_as_not_checked_and_fails_nothing() -> None:
    run = run_scenario(Scenario.from_data({"seed": 4, "zones": {"dc": 3}, "duration": "1s",
                                           "data": {"keys": {"f": "EWFlag"}}, "workload": {"rate": "20/s"}}))
    s = run.summary()
    assert {c["name"]: c["status"] for c in s["checks"]} == {"convergence": "ok", "invariants": "not checked"}
    assert s["ok"]
    text = render(s)
    assert "[ok] convergence: 1/1 keys converged" in text
    assert "[not checked] invariants: no key has an invariant" in text
    html = htmlreport._checks(s)  # the report.html list says the same
    assert '<li class="unchecked">[not checked] <b>invariants</b>' in html and '[ok] <b>convergence</b>' in html
