"""Keyed link draws (``links: {draws: keyed}``): a message's loss, latency and duplicate draws
depend on its pair, its send time and its ordinal among the pair's draws at that time, never on
how many messages were sent before. That is what lets the hunt's shrinker remove a write without
changing which other messages are lost."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ConfigError
from sim.faults import LossBurst
from sim.network import Message
from sim.rng import KeyedRandom, keyed_bits
from sim.scenario import Scenario, ScenarioError, build
from sim.world import World

LINK = {"latency": {"exponential": {"mean": "10ms", "min": "1ms"}}, "loss": 0.3, "duplicate": 0.2}
NODES = ("a", "b", "c")
#: a send: (time in 5 ms steps, source index, destination index); equal times happen
SENDS = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 2), st.integers(0, 2)).filter(lambda s: s[1] != s[2]),
                 min_size=2, max_size=25)

# -- the stream -------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, 10), st.integers(1, 3), min_size=1), st.integers(0, 2**64 - 1))
def test_a_keyed_draw_is_its_time_and_ordinal_whatever_came_before(draws: dict[int, int], salt: int) -> None:
    # draws: time -> how many draws at it; times visited in order, as the simulated clock does
    clock = _Clock()
    rng = KeyedRandom(salt, clock)
    for t, count in sorted(draws.items()):
        clock.now = t * 0.01
        for ordinal in range(count):
            assert rng.getrandbits(64) == keyed_bits(salt, t * 0.01, ordinal)
    # a stream that made none of the earlier draws draws the same at the last time
    last = max(draws) * 0.01
    fresh = KeyedRandom(salt, lambda: last)
    assert fresh.getrandbits(64) == keyed_bits(salt, last, 0)


def test_keyed_draws_are_uniform_and_drive_every_sampler() -> None:
    clock = _Clock()
    rng = KeyedRandom(12345, clock)
    values = []
    for i in range(20_000):
        clock.now = i * 0.001
        values.append(rng.random())
    assert all(0.0 <= v < 1.0 for v in values)
    assert statistics.mean(values) == pytest.approx(0.5, abs=0.01)
    assert statistics.pvariance(values) == pytest.approx(1 / 12, abs=0.003)
    # ordinals at one instant are as uniform as times
    same = [rng.random() for _ in range(20_000)]
    assert statistics.mean(same) == pytest.approx(0.5, abs=0.01) and len(set(same)) == len(same)
    assert statistics.mean(rng.expovariate(2.0) for _ in range(20_000)) == pytest.approx(0.5, abs=0.02)
    assert {rng.choice("xyz") for _ in range(200)} == set("xyz")
    assert rng.getrandbits(0) == 0 and 0 <= rng.getrandbits(130) < 2**130 and rng.getrandbits(130) >= 2**100
    with pytest.raises(ValueError):
        rng.getrandbits(-1)


def test_gauss_keeps_no_value_for_the_next_draw() -> None:
    # random.Random.gauss makes two normals and keeps one for its next call: that would carry a
    # draw over from one message to the next, whatever happened in between
    clock = _Clock()
    rng = KeyedRandom(3, clock)
    rng.gauss(0, 1)
    clock.now = 1.0
    after = rng.gauss(0, 1)
    assert after == KeyedRandom(3, lambda: 1.0).gauss(0, 1)


# -- the network --------------------------------------------------------------------------------


def _fates(sends: list[tuple[int, int, int]], draws: str, zone_channel: bool = True,
           link: dict[str, Any] | None = None) -> dict[int, list[tuple[int, float]]]:
    """Send i goes at its time from its source to its destination with payload i; the result:
    payload -> the (copy, arrival time) of each copy delivered (absent: lost)."""
    world = World(seed=7, trace="off")
    for node in NODES:
        world.add_node(node, "z")
    if zone_channel:
        world.connect_zones("z", "z")
    else:
        world.add_edges([("a", "b"), ("a", "c"), ("b", "c")])
    world.set_default_link(link or LINK)
    world.set_link_draws(draws)
    got: dict[int, list[tuple[int, float]]] = {}

    def record(m: Message) -> None:
        got.setdefault(m.payload, []).append((m.copy, world.now))

    for node in NODES:
        world.node(node).on_message("m", record)
    for i, (t, src, dst) in enumerate(sends):
        world.schedule(t * 0.005, lambda i=i, src=src, dst=dst: world.node(NODES[src]).send(NODES[dst], "m", i, 8))
    world.run(duration=max(t for t, _, _ in sends) * 0.005 + 1.0)
    return got


@settings(max_examples=60, deadline=None)
@given(SENDS, st.data(), st.booleans())
def test_removing_a_message_leaves_every_other_messages_draws_as_they_were(
        sends: list[tuple[int, int, int]], data: st.DataObject, zone_channel: bool) -> None:
    gone = data.draw(st.integers(0, len(sends) - 1))
    before = _fates(sends, "keyed", zone_channel)
    kept = [i for i in range(len(sends)) if i != gone]
    after = _fates([sends[i] for i in kept], "keyed", zone_channel)
    after = {kept[j]: fate for j, fate in after.items()}
    # only a message of the same pair sent at the same instant after the removed one draws
    # another ordinal (an instant's sends on one pair are told apart by their order)
    shifted = {i for i in kept if i > gone and sends[i] == sends[gone]}
    for i in kept:
        if i not in shifted:
            assert before.get(i) == after.get(i), (i, sends[i])


@pytest.mark.parametrize("zone_channel", [True, False], ids=["zone sender", "link"])
def test_sequential_draws_shift_when_an_earlier_message_goes(zone_channel: bool) -> None:
    # the property above fails in the default mode: one stream per sender, drawn in send order
    sends = [(t, 0, 1 + t % 2) for t in range(20)]
    for draws, changes in (("sequential", True), ("keyed", False)):
        before = _fates(sends, draws, zone_channel)
        after = _fates(sends[1:], draws, zone_channel)
        moved = any(before.get(i + 1) != after.get(i) for i in range(len(sends) - 1))
        assert moved is changes, draws


def test_keyed_links_lose_and_duplicate_at_their_rates() -> None:
    for spread in (True, False):  # 5 ms apart, or all at one instant (told apart by ordinal)
        sends = [(i if spread else 0, 0, 1) for i in range(4000)]
        fates = _fates(sends, "keyed", link={"latency": "1ms", "loss": 0.3, "duplicate": 0.25})
        delivered = len(fates)
        copies = sum(len(f) - 1 for f in fates.values())
        assert delivered / 4000 == pytest.approx(0.7, abs=0.03)
        assert copies / delivered == pytest.approx(0.25, abs=0.03)


def test_keyed_draws_come_from_the_run_seed_and_the_pair() -> None:
    sends = [(t, t % 3, (t + 1) % 3) for t in range(30)]
    assert _fates(sends, "keyed") == _fates(sends, "keyed")
    world = World(seed=8, trace="off")  # another seed: other luck
    for node in NODES:
        world.add_node(node, "z")
    world.connect_zones("z", "z")
    world.set_default_link(LINK)
    world.set_link_draws("keyed")
    got: list[tuple[int, int, float]] = []
    for node in NODES:
        world.node(node).on_message("m", lambda m: got.append((m.payload, m.copy, world.now)))
    for i, (t, src, dst) in enumerate(sends):
        world.schedule(t * 0.005, lambda i=i, src=src, dst=dst: world.node(NODES[src]).send(NODES[dst], "m", i, 8))
    world.run(duration="1s")
    seven = _fates(sends, "keyed")
    assert {(p, c, t) for p, f in seven.items() for c, t in f} != set(got)


def test_a_link_opened_before_the_switch_draws_keyed_after_it() -> None:
    # a loss burst opens its link when the world is built; the switch re-keys it
    def run(switch_first: bool) -> list[tuple[int, float]]:
        world = World(seed=2, trace="off")
        for node in ("a", "b"):
            world.add_node(node, "z")
        world.connect_zones("z", "z")
        world.set_default_link(LINK)
        if switch_first:
            world.set_link_draws("keyed")
        world.network.loss_burst("a", "b", 0.5, 0.6, 1.0)
        if not switch_first:
            world.set_link_draws("keyed")
        assert world.network.draws == "keyed"
        got: list[tuple[int, float]] = []
        world.node("b").on_message("m", lambda m: got.append((m.payload, world.now)))
        for i in range(50):
            world.schedule(i * 0.02, lambda i=i: world.node("a").send("b", "m", i, 8))
        world.run(duration="2s")
        return got

    keyed = run(True)
    assert keyed == run(False)
    assert not {i for i, _ in keyed} & {i for i in range(50) if 0.5 <= i * 0.02 < 0.6}  # the burst lost them


def test_sequential_is_the_default_and_setting_it_changes_nothing() -> None:
    def digest(set_it: bool) -> str:
        world = World(seed=4)
        for node in NODES:
            world.add_node(node, "z")
        world.connect_zones("z", "z")
        world.set_default_link(LINK)
        if set_it:
            world.set_link_draws("sequential")
        for node in NODES:
            world.node(node).on_message("m", lambda m: None)
        for t in range(40):
            world.schedule(t * 0.005, lambda t=t: world.node(NODES[t % 3]).send(NODES[(t + 1) % 3], "m", t, 8))
        world.set_faults([LossBurst(0.05, "a", "b", 0.05, 1.0)])
        world.run(duration="1s")
        assert world.network.draws == "sequential"
        return world.trace.digest()

    assert digest(False) == digest(True)


def test_an_unknown_mode_is_refused() -> None:
    world = World(seed=1)
    with pytest.raises(ConfigError, match=r"draws must be one of \['sequential', 'keyed'\]"):
        world.set_link_draws("random")


# -- scenarios ----------------------------------------------------------------------------------

KEYED = """\
name: keyed
seed: 3
duration: 2s
zones: {dc: 4}
links:
  draws: keyed
  default: {latency: {exponential: {mean: 20ms, min: 1ms}}, loss: 0.2, duplicate: 0.1}
data: {keys: {k: {type: ORSet, protocol: op}}}
workload: {rate: 10/s}
"""


def test_a_bad_draws_value_names_file_line_path_expected_and_found(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(KEYED.replace("draws: keyed", "draws: keyd"))
    with pytest.raises(ScenarioError) as caught:
        build(Scenario.from_yaml(file))
    assert str(caught.value) == f"{file}:6: links.draws: expected one of 'sequential', 'keyed', found 'keyd'"


def _digest(text: str, hashseed: str, tmp_path: Path) -> subprocess.Popen[str]:
    file = tmp_path / f"s{hashseed}-{'keyed' if 'draws: keyed' in text else 'sequential'}.yaml"
    file.write_text(text)
    return subprocess.Popen([sys.executable, "-m", "sim.cli", "run", str(file), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONHASHSEED": hashseed})


def test_a_keyed_scenario_gives_the_same_digest_under_any_hash_seed(tmp_path: Path) -> None:
    sequential = KEYED.replace("draws: keyed", "draws: sequential")
    procs = [_digest(KEYED, h, tmp_path) for h in ("0", "1", "4242")] + [_digest(sequential, "0", tmp_path)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outs]
    digests = [out.strip().splitlines()[-1] for out, _ in outs]
    assert digests[0].startswith("trace digest ")
    assert digests[0] == digests[1] == digests[2]
    assert digests[3] != digests[0]  # the keyed draws are not the sequential ones
