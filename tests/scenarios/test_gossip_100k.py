"""The bundled gossip-100k at its full size (elsewhere it is judged at 2,000 nodes)."""

from __future__ import annotations

import pytest
from bundled_runs import bundled_paths, plain_summary

from sim.scenario import Scenario, run_scenario


@pytest.mark.slow
def test_gossip_100k_converges_at_full_size() -> None:
    scenario = Scenario.from_yaml(bundled_paths()["gossip-100k"])
    assert scenario.data["zones"] == {"n": 100_000}
    summary = plain_summary(run_scenario(scenario))
    assert summary["ok"] and summary["quiesced"], summary["checks"]
    assert summary["keys"]["news"]["converged"] and len(summary["keys"]["news"]["value"]) == 1
    # every replica but the writer needs at least one message carrying the element
    assert summary["messages"]["total"] >= 99_999
