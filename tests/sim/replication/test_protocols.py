"""Every CRDT type converges under every protocol through loss, duplication, a partition
that heals and a crash with restart, and holds its workload invariants."""

from __future__ import annotations

import random

import pytest
from cluster import failed, faulty_cluster, run_faulty
from hypothesis import given
from hypothesis import strategies as st

from crdt import GCounter
from crdt.causalcounter import CausalCounter
from crdt.flags import DWFlag, EWFlag
from crdt.gset import GSet
from crdt.lwwmap import LWWMap
from crdt.lwwregister import LWWRegister
from crdt.mvregister import MVRegister
from crdt.ormap import ORMap
from crdt.orset import ORSet
from crdt.pncounter import PNCounter
from crdt.twopset import TwoPSet
from sim.replication import DistributedData, KeySpec
from sim.replication.convergence import key_report
from sim.world import World

TYPES = [
    GCounter, PNCounter, GSet, TwoPSet, ORSet, LWWRegister, MVRegister, LWWMap, EWFlag, DWFlag, CausalCounter, ORMap,
]
PROTOCOLS = ["state", "delta", "op"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("crdt_type", TYPES, ids=lambda t: t.type_name)
@pytest.mark.parametrize("seed", [11, 12])
def test_every_type_converges_under_every_protocol(crdt_type: type, protocol: str, seed: int) -> None:
    world, dd = faulty_cluster({"k": KeySpec(crdt_type, protocol), "other": KeySpec(GCounter, protocol)}, seed)
    result = run_faulty(world)
    assert result.quiesced and not failed(result), [c.message for c in result.checks]
    states = [dd.replicator(n).state("k") for n in dd.node_ids]
    assert states[0] is not None and states.count(states[0]) == 3
    assert len(dd.updates) > 30  # the workload really ran
    invariants = next(c for c in result.checks if c.name == "invariants")
    assert "other" in invariants.details["checked"]
    has_invariant = crdt_type in (GCounter, PNCounter, CausalCounter, GSet, TwoPSet, ORSet, LWWRegister, LWWMap)
    assert ("k" in invariants.details["checked"]) == has_invariant
    dropped = result.metrics["dropped"]
    assert dropped["loss"] > 0 and dropped["partition"] > 0  # the faults really happened


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_replicas_with_volatile_state_recover_after_a_crash(protocol: str) -> None:
    world, dd = faulty_cluster({"cart": KeySpec(ORSet, protocol)}, seed=5, durable=False)
    result = run_faulty(world)
    assert result.ok, [c.message for c in result.checks]
    # The restarted node mutates under a fresh replica id: its old dots are never reused.
    assert dd.replicator("dc-3").replica_id == "dc-3#1"
    assert key_report(dd, "cart")["converged"]


def test_convergence_time_is_the_last_change() -> None:
    world, dd = faulty_cluster({"k": KeySpec(GCounter, "delta")}, seed=3)
    result = run_faulty(world)
    report = key_report(dd, "k")
    quiet_start, quiet_end = result.phases["quiet"]
    assert report["converged"] and 0 < report["time"] <= quiet_end
    assert report["time"] == dd.last_change["k"]


@given(st.integers(0, 2**32), st.integers(1, 3000))
def test_one_peer_is_drawn_as_sample_would_draw_it(seed: int, n: int) -> None:
    # State gossip with fanout 1 draws randrange(n) instead of sample(peers, 1): the same peer,
    # and the stream is left in the same state.
    peers = list(range(n))
    by_sample, by_index = random.Random(seed), random.Random(seed)
    assert by_sample.sample(peers, 1) == [peers[by_index.randrange(n)]]
    assert by_sample.random() == by_index.random()


@pytest.mark.parametrize("n", [2, 3, 5, 12])
@pytest.mark.parametrize("links", ["complete", "zone"])
def test_state_gossip_draws_its_peer_as_randrange_does(n: int, links: str) -> None:
    """The round inlines randrange(len(peers)) (getrandbits until below n) and indexes a
    zone's member list past itself: the peers it gossips with are those a twin stream's
    randrange picks from peers(), round after round, over graph links and in a zone."""
    from sim.replication.state_gossip import StateGossip
    from sim.rng import derive_rng
    from sim.topology import ZonePeers

    world = World(seed=4, tick="100ms")
    ids = world.add_nodes("dc", n + 1)
    if links == "complete":
        world.connect(ids, "complete")
    else:
        world.connect_zones("dc", "dc")
    dd = DistributedData(world, ids, {"k": KeySpec(GCounter, "state")})
    me = sorted(ids)[len(ids) // 2]  # peers on both sides of it in the sorted zone
    gossip: StateGossip = dd.replicator(me).protocols["state"]
    node = world.node(me)
    dd.replicator(me).update("k", GCounter, lambda c: c.increment(1))
    sent: list[str] = []
    node.send = lambda dst, kind, payload=None, size=0: sent.append(dst) or True  # type: ignore[method-assign]
    twin = derive_rng(4, f"gossip:{me}")
    peers = gossip.peers()
    assert isinstance(peers, ZonePeers) == (links == "zone")
    expected = []
    for _ in range(40):
        gossip.agreed = 0  # news every round: each one draws a peer
        gossip._round()
        expected.append(peers[twin.randrange(len(peers))])
    assert sent == expected and gossip.rng.random() == twin.random()
    assert me not in sent and len(set(sent)) > 1


def test_a_state_gossip_digest_is_forgotten_when_a_crash_loses_the_store() -> None:
    """The digest is kept while the replicator's version stands still; a crash of a volatile
    replica replaces its store without a new version, so the digest must go with it."""
    world = World(seed=2, tick="100ms")
    ids = world.add_nodes("dc", 2)
    world.connect(ids, "complete")
    dd = DistributedData(world, ids, {"k": KeySpec(GCounter, "state")}, durable=False)
    replicator = dd.replicator(ids[0])
    replicator.update("k", GCounter, lambda c: c.increment(2))
    gossip = replicator.protocols["state"]
    assert list(gossip._view()[1]) == ["k"]
    world.node(ids[0]).crash()
    assert gossip._view()[1] == {} and not gossip.pending()
    world.node(ids[0]).restart()
    assert gossip._view()[1] == {}
    replicator.update("k", GCounter, lambda c: c.increment(1))
    assert list(gossip._view()[1]) == ["k"] and gossip._view()[2][0][0] == "k"
