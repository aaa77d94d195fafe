from sim.benchmarks.scale import measure, measure_fresh, scenario_for


def test_scale_scenarios_keep_the_workload_and_change_the_size() -> None:
    gossip = scenario_for("gcounter", 50)
    assert gossip.get("zones") == {"n": 50} and gossip.get("data")["keys"] == {"total": "GCounter"}
    rumour = scenario_for("gset", 30)
    assert rumour.get("zones") == {"n": 30} and rumour.get("data")["keys"] == {"news": "GSet"}
    orset = scenario_for("orset", 10)
    assert orset.get("zones") == {"n": 10} and orset.get("data")["protocol"] == "delta"


def test_measure_runs_to_convergence_and_counts_messages() -> None:
    row = measure("orset", 10)
    assert row["ok"] and row["delivered"] > 0 and row["cpu"] > 0 and row["peak_mb"] > 0
    fresh = measure_fresh("gcounter", 20)
    assert fresh["ok"] and fresh["nodes"] == 20 and fresh["delivered"] > 0
    rumour = measure("gset", 40)
    assert rumour["ok"] and rumour["delivered"] >= 39  # every other node got at least one state
