"""The bundled gossip-100k: the whole file validated, and a run at a tenth of its size.

At its full 100,000 nodes a run costs about two minutes of CPU, more than a third of the whole
suite on a busy two-core machine, so the full-size run is a benchmark's business:
``crdtsim bench goals --only 100k`` runs ``crdtsim run gossip-100k`` in its own process and
checks that it converges within its time and memory goals. Here the file as shipped passes
``crdtsim validate``, which is everything ``crdtsim run`` checks before it runs (schema, size
limits, and the world built at full size, about 8 s of CPU), and the same scenario runs through
the same loader and runner with only its node count cut to 10,000: five times the 2,000 nodes
at which its expectation and stored summary are judged (``bundled_runs.REDUCED``), large enough
that rumour mongering needs many rounds and anti-entropy its background rounds.
"""

from __future__ import annotations

import pytest
from bundled_runs import bundled_paths, bundled_scenario, plain_summary

from sim.cli import main
from sim.scenario import Scenario, run_scenario

NODES = 10_000


def test_the_full_size_file_validates_and_builds_its_100k_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    path = bundled_paths()["gossip-100k"]
    assert Scenario.from_yaml(path).data["zones"] == {"n": 100_000}
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok\n"


def test_gossip_100k_converges_at_a_tenth_of_its_size() -> None:
    scenario = bundled_scenario("gossip-100k", zones={"n": NODES})
    assert scenario.data["zones"] == {"n": NODES}
    summary = plain_summary(run_scenario(scenario))
    assert summary["ok"] and summary["quiesced"], summary["checks"]
    assert summary["keys"]["news"]["converged"] and len(summary["keys"]["news"]["value"]) == 1
    # every replica but the writer needs at least one message carrying the element
    assert summary["messages"]["total"] >= NODES - 1
