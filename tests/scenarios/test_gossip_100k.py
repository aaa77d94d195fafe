"""The bundled gossip-100k, run at a tenth of its size.

At its full 100,000 nodes a run costs about two minutes of CPU, more than a third of the whole
suite on a busy two-core machine, so the full-size run is a benchmark's business:
``crdtsim bench goals --only 100k`` runs ``crdtsim run gossip-100k`` in its own process and
checks that it converges within its time and memory goals. Here the same scenario runs through
the same loader and runner with only its node count cut to 10,000: five times the 2,000 nodes at
which its expectation and stored summary are judged (``bundled_runs.REDUCED``), large enough
that rumour mongering needs many rounds and anti-entropy its background rounds. The file as
shipped, at full size, is validated elsewhere: ``crdtsim validate`` of every bundled scenario
(tests/scenarios/test_scenario_cli.py), which builds its 100,000 nodes, and its figures within
the size limits (tests/scenarios/test_scenario_limits.py).
"""

from __future__ import annotations

import pytest
from bundled_runs import bundled_scenario, plain_summary

from sim.scenario import run_scenario

NODES = 10_000


@pytest.mark.slow
def test_gossip_100k_converges_at_a_tenth_of_its_size() -> None:
    scenario = bundled_scenario("gossip-100k", zones={"n": NODES})
    assert scenario.data["zones"] == {"n": NODES}
    summary = plain_summary(run_scenario(scenario))
    assert summary["ok"] and summary["quiesced"], summary["checks"]
    assert summary["keys"]["news"]["converged"] and len(summary["keys"]["news"]["value"]) == 1
    # every replica but the writer needs at least one message carrying the element
    assert summary["messages"]["total"] >= NODES - 1
