"""The whole-run property: any drawn configuration, run to quiet, leaves every live replica with
exactly the value an independent oracle computes from the updates it issued (see whole_run.py
and whole_run_oracle.py) — and every broken variant of the protocols is caught by it.

CI runs the derandomized ``ci`` profile of tests/conftest.py. The deep profile draws 2,000 runs
per protocol::

    HYPOTHESIS_PROFILE=deep .venv/bin/python -m pytest tests/sim/replication/test_whole_run_properties.py \\
        -k holds_the_oracle -p no:randomly -q
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from test_broken_variants import UncheckedGSet  # noqa: F401 (registers it)
from whole_run import PROTOCOLS, Config, Op, check_run, configs
from whole_run_oracle import Issued, Oracle

from sim.replication.variants import FirstWriterWins, SummingCounter  # noqa: F401 (registers them)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("busy", [False, True], ids=["any", "busy"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_drawn_run_holds_the_oracle(protocol: str, busy: bool) -> None:
    # "busy" draws the large, lossy, crashing runs that two of the variants below need, so the
    # correct protocols are shown to pass the very spaces in which those variants fail.
    @given(configs(protocols=(protocol,), busy=busy))
    def holds(cfg: Config) -> None:
        check_run(cfg)

    holds()


NON_COMPLETE = ("ring", "line", "tree", "star")
#: (variant, what the configurations are drawn from, DistributedData arguments)
VARIANTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # the variants of test_broken_variants.BROKEN
    ("op broadcast without retransmission", {"protocols": ("op",), "options": {"reliable": False}}, {}),
    ("delta gossip ignoring the causal condition",
     {"protocols": ("delta",), "types": ("ORSet", "ORMap"), "options": {"causal": False}}, {}),
    ("non-idempotent merge under state gossip", {"protocols": ("state",), "types": ("SummingCounter",)}, {}),
    ("non-idempotent merge under delta gossip", {"protocols": ("delta",), "types": ("SummingCounter",)}, {}),
    ("first-writer-wins register", {"protocols": ("state",), "types": ("FirstWriterWins",)}, {}),
    # the variants of test_broken_variants.BROKEN_OFF_THE_COMPLETE_GRAPH and the two after it
    ("op broadcast forwarding released records away from the releasing sender",
     {"protocols": ("op",), "topologies": NON_COMPLETE, "options": {"track_senders": False}, "busy": True}, {}),
    ("op counters joining written and repaired states",
     {"protocols": ("op",), "types": ("GCounter", "PNCounter"), "options": {"writes_as_records": False}}, {}),
    ("pull gossip from a replica that holds no key never starting a round",
     {"protocols": ("state",), "options": {"mode": "pull", "pull_when_empty": False}}, {}),
    ("majority requests sent only over direct links", {"topologies": NON_COMPLETE}, {"route_requests": False}),
    ("delta gossip joining written states without spreading them",
     {"protocols": ("delta",), "topologies": NON_COMPLETE, "options": {"spread_written": False}}, {}),
    ("op broadcast waiting for records a volatile crash destroyed",
     {"protocols": ("op",), "durable": (False,), "options": {"discard_lost": False}, "busy": True}, {}),
    ("replicas cut off from each other accepted", {"topologies": ("line", "star")}, {"check_connected": False}),
    ("a set that takes unencodable strings", {"types": ("UncheckedGSet",)}, {}),
]


@pytest.mark.parametrize("name, space, group", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_the_property_catches_every_broken_variant(name: str, space: dict[str, Any], group: dict[str, Any]) -> None:
    # Fixed draws, no shrinking: the first failing run is enough to show the variant is caught.
    @settings(max_examples=300, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(configs(**space))
    def holds(cfg: Config) -> None:
        check_run(cfg, group)

    with pytest.raises(AssertionError):
        holds()


def test_the_strategy_draws_every_topology_protocol_and_type() -> None:
    seen: dict[str, set[Any]] = {"topology": set(), "protocol": set(), "types": set(), "durable": set()}

    @settings(max_examples=400, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(configs())
    def draw(cfg: Config) -> None:
        seen["topology"].add(cfg.topology)
        seen["protocol"].add(cfg.protocol)
        seen["types"].update(cfg.types)
        seen["durable"].add(cfg.durable)

    draw()
    assert seen["topology"] == {"complete", "ring", "line", "star", "tree", "random_regular", "watts_strogatz"}
    assert seen["protocol"] == set(PROTOCOLS) and seen["durable"] == {True, False}
    assert len(seen["types"]) == 12


def test_the_oracle_demands_exact_values() -> None:
    oracle = Oracle({"s": "ORSet", "c": "PNCounter", "r": "MVRegister", "m": "ORMap"})
    add = [Issued("s", "a", 0.1, "add", ((), "x1"), frozenset()), Issued("s", "b", 0.1, "add", ((), "y2"), frozenset())]
    # b removes x1 having seen it; a's concurrent re-add is a fresh token that survives
    remove = Issued("s", "b", 0.2, "remove", ((), "x1"), frozenset({((), "x1"), ((), "y2")}))
    counts = [Issued("c", "a", 0.1, "count", 3, 0), Issued("c", "b", 0.1, "count", -1, 0)]
    # v2 saw v1, v3 is concurrent with both
    writes = [Issued("r", "a", 0.1, "write", "v1", frozenset()),
              Issued("r", "a", 0.2, "write", "v2", frozenset({"v1"})),
              Issued("r", "b", 0.2, "write", "v3", frozenset())]
    nested = [Issued("m", "a", 0.1, "add", (("m0", "b1"), "z3"), frozenset()),
              Issued("m", "b", 0.2, "remove", (("m0",), None), frozenset({(("m0", "b1"), "z3")}))]
    kept = add + [remove] + counts + writes + nested
    assert oracle.matches("s", oracle.expected("s", kept), frozenset({"y2"}))
    assert not oracle.matches("s", oracle.expected("s", kept), frozenset({"x1", "y2"}))
    assert oracle.matches("c", oracle.expected("c", kept), 2) and not oracle.matches("c", oracle.expected("c", kept), 3)
    assert oracle.expected("r", kept) == frozenset({"v2", "v3"})
    assert oracle.matches("m", oracle.expected("m", kept), {}) and not oracle.matches("m", oracle.expected("m", kept),
                                                                                      {"m0": {"b1": frozenset({"z3"})}})


def test_the_oracle_accepts_a_loss_only_from_a_volatile_node_that_crashed_after_it() -> None:
    oracle = Oracle({"c": "GCounter"}, crashes={"a": [0.5]})
    early, late = Issued("c", "a", 0.2, "count", 1, 0, record=object()), Issued("c", "a", 0.7, "count", 1, 0,
                                                                                record=object())
    oracle.issued = [early, late]
    assert oracle.survivors({id(early.record)}, durable=False) == [late]
    with pytest.raises(AssertionError, match="never crashed after it"):
        oracle.survivors({id(late.record)}, durable=False)
    with pytest.raises(AssertionError, match="durable run reported a lost write"):
        oracle.survivors({id(early.record)}, durable=True)


#: A busy op draw that once failed the oracle: dc-1 crashed with volatile state while writes
#: above ``local`` that carried its last records were still in flight. Those records were given
#: up (no live replica held them), yet dc-6 delivered them when the writes arrived, so every
#: later record of dc-6 depended on them and was given up too: a write of a node that never
#: crashed reported lost.
GIVEN_UP_WHILE_IN_FLIGHT = Config(
    seed=41579, nodes=7, topology="watts_strogatz", params={"k": 3, "p": 0.3}, tree=(0, 0, 0, 0, 0, 0),
    replicas=(0, 1, 2, 3, 4, 5, 6), protocol="op", options={}, types=("TwoPSet",), write=("all", 2),
    read=("majority", 3), durable=False,
    link={"latency": {"exponential": {"mean": "80ms"}}, "loss": 0.3, "duplicate": 0.0, "fifo": True},
    faults=(("crash", 1.4, 0.5, 0, 0), ("crash", 1.4, 0.2, 1, 0)),
    ops=tuple(Op(at, node, key, choice, amount, 0) for at, node, key, choice, amount in [
        (0.31, 3, 0, 0, 2), (0.61, 0, 0, 0, 2), (1.01, 0, 0, 0, 3), (1.31, 0, 0, 0, 2), (1.11, 0, 0, 0, 1),
        (0.41, 1, 0, 0, 3), (0.81, 0, 0, 0, 1), (1.31, 0, 0, 0, 1), (1.21, 0, 0, 0, 1), (0.51, 4, 0, 0, 3),
        (0.61, 1, 0, 0, 3), (0.01, 6, 0, 0, 2), (0.51, 4, 0, 0, 2), (0.61, 3, 0, 0, 3), (0.41, 4, 0, 4, 1),
        (0.61, 5, 0, 0, 2), (0.91, 4, 0, 0, 1), (1.21, 0, 0, 0, 2), (0.01, 0, 0, 0, 2), (0.61, 5, 0, 0, 2),
        (1.11, 0, 0, 0, 1), (0.11, 0, 0, 0, 2), (1.31, 0, 0, 0, 1), (1.01, 5, 0, 0, 2), (0.61, 6, 0, 0, 3),
        (0.91, 0, 0, 3, 3), (0.21, 0, 0, 0, 3), (0.61, 1, 1, 4, 1), (0.21, 2, 0, 3, 3), (1.91, 5, 2, 0, 3),
    ]),
    reads=((1.25, 0, 2),),
)


@pytest.mark.parametrize("refuse", [True, False], ids=["refused", "delivered"])
def test_a_record_given_up_while_a_write_carries_it_is_refused_on_arrival(refuse: bool) -> None:
    cfg = replace(GIVEN_UP_WHILE_IN_FLIGHT, options={} if refuse else {"refuse_lost": False})
    if refuse:
        check_run(cfg)
    else:
        with pytest.raises(AssertionError, match="a write reported lost whose node never crashed after it"):
            check_run(cfg)
