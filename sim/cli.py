"""The ``crdtsim`` command line.

Subcommands are small functions; each returns the process exit code (0 ok, 1 a check failed,
2 bad input). Benchmarks live in :mod:`sim.benchmarks`, one module per name.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import sim.benchmarks

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _bench_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(sim.benchmarks.__path__))


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.name not in _bench_names():
        print(
            f"crdtsim bench: unknown benchmark {args.name!r}; expected one of {_bench_names()}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    module = importlib.import_module(f"sim.benchmarks.{args.name}")
    return int(module.main(args.rest))


def _cmd_demo(args: argparse.Namespace) -> int:
    from sim.demo import diverge_and_merge

    print(diverge_and_merge())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crdtsim",
        description="Deterministic simulation of CRDT replication and replicated event sourcing.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="two replicas diverge and merge")
    demo.set_defaults(func=_cmd_demo)

    bench = sub.add_parser("bench", help="run a benchmark: " + ", ".join(_bench_names()))
    bench.add_argument("name", help="which benchmark")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    bench.set_defaults(func=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
