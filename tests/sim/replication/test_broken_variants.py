"""The checker must catch broken systems: each variant below is wrong in a way that real
implementations have been, and must be reported as not converged or as an invariant
violation while the correct protocol passes the very same scenario."""

from __future__ import annotations

from typing import Any

import pytest
from cluster import failed, faulty_cluster, run_faulty

from crdt.orset import ORSet
from sim.replication import KeySpec
from sim.replication.variants import FirstWriterWins, SummingCounter

SEEDS = [1, 2, 3]

BROKEN: list[tuple[str, dict[str, KeySpec], dict[str, dict[str, Any]]]] = [
    ("op broadcast without retransmission", {"k": KeySpec(ORSet, "op")}, {"op": {"reliable": False}}),
    ("delta gossip ignoring the causal condition", {"k": KeySpec(ORSet, "delta")}, {"delta": {"causal": False}}),
    ("non-idempotent merge under state gossip", {"k": KeySpec(SummingCounter, "state")}, {}),
    ("non-idempotent merge under delta gossip", {"k": KeySpec(SummingCounter, "delta")}, {}),
    ("first-writer-wins register", {"k": KeySpec(FirstWriterWins, "state")}, {}),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, keys, options", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_variant_is_caught(name: str, keys: dict[str, KeySpec], options: dict[str, Any], seed: int) -> None:
    world, _ = faulty_cluster(keys, seed, options)
    result = run_faulty(world)
    assert not result.ok
    assert {"convergence", "invariants"} & set(failed(result)), failed(result)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("protocol", ["op", "delta", "state"])
def test_correct_protocols_pass_the_same_scenarios(protocol: str, seed: int) -> None:
    world, _ = faulty_cluster({"k": KeySpec(ORSet, protocol)}, seed)
    result = run_faulty(world)
    assert result.ok, [c.message for c in result.checks]


def test_lost_lww_writes_are_named_by_the_invariant_check() -> None:
    world, _ = faulty_cluster({"k": KeySpec(FirstWriterWins, "state")}, 1)
    result = run_faulty(world)
    checks = {c.name: c for c in result.checks}
    assert checks["convergence"].ok  # the replicas agree...
    assert "acknowledged writes lost" in checks["invariants"].details["violations"]["k"]  # ...on a wrong value


def test_lost_adds_are_named_by_the_invariant_check() -> None:
    # Without retransmission some seeds lose an acknowledged add outright (others only diverge).
    violations = []
    for seed in range(1, 11):
        world, _ = faulty_cluster({"k": KeySpec(ORSet, "op")}, seed, {"op": {"reliable": False}})
        invariants = next(c for c in run_faulty(world).checks if c.name == "invariants")
        if not invariants.ok:
            violations.append(invariants.details["violations"]["k"])
    assert violations and all(v.startswith("acknowledged adds lost: [") for v in violations)
