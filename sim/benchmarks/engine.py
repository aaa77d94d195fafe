"""``crdtsim bench engine``: the network's per-message cost against the bare SimPy floor,
and periodic gossip on large worlds (wall seconds per simulated second, peak memory).

Wall-clock time is read here, and only here, to time the engine from outside.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from collections.abc import Sequence

import simpy

from sim.distributions import Exponential
from sim.network import LinkModel
from sim.world import World

__all__ = ["bench_floor", "bench_gossip", "bench_network", "compare", "main"]


def bench_floor(n: int, width: int = 1) -> float:
    """Events per second of ``width`` concurrent chains of ``env.timeout`` events with one
    callback each (each callback schedules the next timeout of its chain), ``n`` in all.

    ``width`` is the number of events pending on SimPy's heap; every push and pop costs
    O(log width) tuple comparisons, so the floor is measured at the engine's depth."""
    env = simpy.Environment()
    count = 0
    last = n - width

    def step(_event: simpy.Event) -> None:
        nonlocal count
        count += 1
        if count <= last:
            env.timeout(0.001).callbacks.append(step)

    for _ in range(min(width, n)):
        env.timeout(0.001).callbacks.append(step)
    gc.collect()
    start = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - start)


def bench_network(n: int, batch: int = 1000, trace: str = "off") -> float:
    """Messages per second through ``Network.send`` and delivery (latency draw, loss check,
    partition check, accounting; ``trace`` off, or ``"digest"`` as every scenario run hashes
    its events) to a handler that does nothing, the events run by a world's loop
    (:meth:`sim.network.Network.run_events`).

    Sends ``batch`` messages, then runs the clock until they are all delivered, so at most
    ``batch`` are pending on the heap (``batch`` 1: send one, then one SimPy ``step``)."""
    world = World(seed=1, trace=trace)
    world.add_nodes("z", 2)
    world.connect_zones("z", "z")
    world.set_default_link(LinkModel(latency=Exponential(0.01, 0.001), loss=0.01))
    world.node("z-2").on_message("m", lambda msg: None)
    send = world.network.send
    env = world.env
    gc.collect()
    start = time.perf_counter()
    sent = 0
    if batch == 1:
        step = env.step
        for _ in range(n):
            if send("z-1", "z-2", "m", None, 16):
                step()
        sent = n
    # Keep a bounded number in flight, as a protocol would: send a batch, run it down.
    while sent < n:
        for _ in range(batch):
            send("z-1", "z-2", "m", None, 16)
        sent += batch
        world.network.run_events()
    return sent / (time.perf_counter() - start)


def compare(n: int, in_flight: int = 1000, rounds: int = 5) -> tuple[float, float, float]:
    """Best of ``rounds`` for the floor, the engine with the trace off and the engine with the
    run's digest, interleaved so that all see the same machine state (other processes, CPU
    frequency); all keep ``in_flight`` events pending."""
    floor = engine = digest = 0.0
    for _ in range(rounds):
        floor = max(floor, bench_floor(n, in_flight))
        engine = max(engine, bench_network(n, in_flight))
        digest = max(digest, bench_network(n, in_flight, trace="digest"))
    return floor, engine, digest


def bench_gossip(nodes: int, seconds: float, degree: int) -> tuple[float, float, int, float]:
    """Each node sends one small message to a random neighbour per tick on a random-regular
    graph. Returns (wall s per sim s, build s, messages delivered, max RSS MB so far).

    Memory is the process's max RSS (tracemalloc would slow the run several times over)."""
    t_build = time.perf_counter()
    # gc="off": the hot path creates no reference cycles; with the collector on, full
    # collections triggered by the per-message allocations rescan every graph and node object.
    world = World(seed=7, tick="100ms", trace="off", gc="off")
    ids = world.add_nodes("n", nodes)
    world.connect("n", "random_regular", d=degree)
    world.set_default_link(LinkModel(latency=Exponential(0.02, 0.005)))
    for node_id in ids:
        node = world.node(node_id)
        rng = world.rng(f"gossip:{node_id}")
        peers = node.neighbours()

        def tick(node=node, rng=rng, peers=peers) -> None:  # type: ignore[no-untyped-def]
            node.send(peers[rng.randrange(len(peers))], "g", None, 32)

        node.on_message("g", lambda msg: None)
        node.every(1, tick)
    build = time.perf_counter() - t_build
    start = time.perf_counter()
    result = world.run(duration=seconds, quiet_max=10)
    wall = time.perf_counter() - start
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return wall / seconds, build, int(result.metrics["delivered"]), maxrss


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crdtsim bench engine", description=__doc__)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--in-flight", type=int, default=1000,
                        help="events pending on the heap in both the floor and the engine")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved floor/engine runs; the best of each is reported")
    parser.add_argument("--nodes", default="1000,10000,100000",
                        help="comma-separated gossip world sizes ('' to skip)")
    parser.add_argument("--seconds", type=float, default=1.0, help="simulated seconds")
    parser.add_argument("--degree", type=int, default=4)
    args = parser.parse_args(list(argv or []))

    floor, engine, digest = compare(args.messages, args.in_flight, args.rounds)
    print(f"best of {args.rounds} interleaved runs, {args.in_flight} pending on the heap")
    print(f"simpy floor  : {floor:12,.0f} events/s  (timeout + one callback)")
    print(f"engine       : {engine:12,.0f} messages/s (send + delivery, trace off)")
    print(f"  + digest   : {digest:12,.0f} messages/s (send + delivery events hashed)")
    print(f"engine/floor : {engine / floor:12.2f}  (goal >= 0.7)")
    print(f"  + digest   : {digest / floor:12.2f}  (goal >= 0.5)")
    sizes = [int(s) for s in args.nodes.split(",") if s.strip()]
    if sizes:
        print(f"\ngossip: one {32}-byte message per node per 100ms tick, "
              f"random_regular d={args.degree}, {args.seconds:g} simulated s")
        print(f"{'nodes':>8} {'wall s/sim s':>13} {'build s':>8} {'delivered':>10} "
              f"{'msgs/s':>10} {'maxrss MB':>9}")
    for n in sizes:
        # Sizes run in increasing order, so max RSS is the largest world's peak.
        per_sim, build, delivered, maxrss = bench_gossip(n, args.seconds, args.degree)
        rate = delivered / (per_sim * args.seconds)
        print(f"{n:>8} {per_sim:>13.3f} {build:>8.2f} {delivered:>10} {rate:>10,.0f} "
              f"{maxrss:>9.1f}")
    return 0
