"""The ``crdtsim`` command line.

Each subcommand returns the process exit code: 0 when every check holds, 1 when a check fails,
2 for bad input or an output that cannot be written (one line on stderr, never a traceback),
130 after Ctrl-C and 143 after SIGTERM (nothing staged is left behind, sweep workers stopped).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sim.benchmarks
from sim.errors import SimError

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: the shell's codes for a process ended by SIGINT (Ctrl-C) and SIGTERM: 128 + the signal number
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
#: the bundled scenarios in a source checkout
SOURCE_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
DEFAULT_SCENARIO = "quickstart"


def _fail(message: str) -> int:
    print(f"crdtsim: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def scenarios_dir() -> Path:
    """The directory of the bundled scenarios: ``sim/bundled/`` in an installed wheel (setup.py
    maps ``scenarios/`` there), else the source checkout's ``scenarios/`` (an editable install)."""
    installed = Path(__file__).resolve().parent / "bundled"
    return installed if installed.is_dir() else SOURCE_SCENARIOS


def bundled() -> dict[str, Path]:
    """Bundled scenarios by name."""
    return {p.stem: p for p in sorted(scenarios_dir().glob("*.yaml"))}


def _scenario_path(name_or_path: str | None) -> Path:
    if name_or_path is None:
        return bundled()[DEFAULT_SCENARIO]
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".yaml", ".yml"):
        return path
    if name_or_path in bundled():
        return bundled()[name_or_path]
    raise SimError(f"no scenario file or bundled scenario named {name_or_path!r} (see `crdtsim list`)")


def _progress(run: Any, enabled: bool) -> Callable[[], None]:
    """Show simulated time on a progress bar while the run goes; returns a closer."""
    if not enabled:
        return lambda: None
    from tqdm import tqdm

    from sim.units import parse_duration

    world = run.world
    total = parse_duration(run.scenario.get("duration", "5s"), "duration")
    bar = tqdm(total=round(total, 3), unit="sim s", leave=False, file=sys.stderr)
    step = max(world.tick, total / 100)

    def tick() -> None:
        bar.n = round(min(world.now, total), 3)
        bar.refresh()
        if world.now < total:
            world.schedule(step, tick)

    world.schedule(0.0, tick)
    return bar.close


def _limits(args: argparse.Namespace) -> Any:
    from sim.scenario.limits import Limits

    return Limits.parse(getattr(args, "limit", None) or [])


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.output import RunDirectory
    from sim.report import render, summary
    from sim.scenario import Scenario, build

    try:
        scenario = Scenario.from_yaml(_scenario_path(args.scenario), _limits(args))
        # Everything the run writes (journals included) goes to a fresh staging directory first.
        rundir = RunDirectory(args.out, force=args.force) if args.out is not None else None
    except SimError as error:
        return _fail(str(error))
    try:
        run = build(scenario, seed=args.seed, out=rundir.root if rundir else None,
                    trace="full" if (args.trace or args.plots) else None)
        close = _progress(run, not args.quiet and sys.stderr.isatty())
        try:
            run.run()
        finally:
            close()
            run.cleanup()
        report = summary(run)
        if rundir is not None:
            rundir.write_json("summary.json", report)
            if args.trace:
                rundir.write("trace.jsonl", run.world.trace.to_jsonl)
                rundir.write("trace.chrome.json", run.world.trace.to_chrome)
            if args.plots:
                from sim.plots import write_all

                for name, writer in write_all(run).items():
                    rundir.write(name, writer)
            rundir.commit()
    except SimError as error:
        return _fail(str(error))
    finally:
        if rundir is not None:
            rundir.discard()
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else render(report))
    return EXIT_OK if report["ok"] else EXIT_CHECK_FAILED


def _cmd_validate(args: argparse.Namespace) -> int:
    from sim.scenario import Scenario, build

    status = EXIT_OK
    try:
        limits = _limits(args)
    except SimError as error:
        return _fail(str(error))
    for name in args.scenarios:
        try:
            # Exactly what `crdtsim run` checks before it runs; built, not run: leave nothing behind.
            build(Scenario.from_yaml(_scenario_path(name), limits)).cleanup()
            print(f"{name}: ok")
        except SimError as error:
            status = _fail(str(error))
    return status


def _cmd_list(args: argparse.Namespace) -> int:
    from sim.scenario import Scenario

    for name, path in bundled().items():
        description = Scenario.from_yaml(path).get("description", "").strip().splitlines()
        print(f"{name:<24} {description[0] if description else ''}")
    return EXIT_OK


TEMPLATES = Path(__file__).resolve().parent / "templates"


def _templates() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.yaml"))


def _cmd_init(args: argparse.Namespace) -> int:
    import string

    path = Path(args.name if args.name.endswith((".yaml", ".yml")) else f"{args.name}.yaml")
    text = (TEMPLATES / f"{args.template}.yaml").read_text(encoding="utf-8")
    try:
        with path.open("x", encoding="utf-8") as out:  # "x": never overwrite a file
            out.write(string.Template(text).substitute(name=path.stem, file=path))
    except FileExistsError:
        return _fail(f"{path} exists; choose another name or remove it first")
    except OSError as error:
        return _fail(f"cannot write {path}: {error.strerror}")
    print(f"wrote {path} ({args.template} template); run it with: crdtsim run {path}")
    return EXIT_OK


def _cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    names = " ".join(bundled())
    # in bash a scenario argument completes to the bundled names and to files
    preamble = f"_crdtsim_scenarios() {{ compgen -W '{names}' -- \"$1\"; _shtab_compgen_files \"$1\"; }}"
    print(shtab.complete(build_parser(), shell=args.shell, preamble=preamble if args.shell == "bash" else ""))
    return EXIT_OK


#: how shells complete a scenario argument (see ``_cmd_completion``)
_SCENARIO_COMPLETION = {"bash": "_crdtsim_scenarios", "zsh": "_files -g '*.y(a|)ml'"}


def _cmd_schema(args: argparse.Namespace) -> int:
    from sim.scenario import SCENARIO_SCHEMA

    print(json.dumps(SCENARIO_SCHEMA, indent=2))
    return EXIT_OK


def _bench_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(sim.benchmarks.__path__) if m.name != "timing")


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.name not in _bench_names():
        return _fail(f"unknown benchmark {args.name!r}; expected one of {_bench_names()}")
    module = importlib.import_module(f"sim.benchmarks.{args.name}")
    return int(module.main(args.rest))


def _cmd_demo(args: argparse.Namespace) -> int:
    from sim.demo import diverge_and_merge

    print(diverge_and_merge())
    return EXIT_OK


def _cmd_sweep(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from sim.sweep import parse_seeds, sweep

    started = time.perf_counter()
    try:
        seeds = parse_seeds(args.seeds)
        path = _scenario_path(args.scenario)
        result = sweep(path, seeds, workers=args.workers, dask=args.dask,
                       progress=not args.quiet and sys.stderr.isatty(), limits=_limits(args))
    except SimError as error:
        return _fail(str(error))
    result = dataclasses.replace(result, scenario=args.scenario)  # re-run commands as the user typed it
    print(json.dumps(result.to_json(), indent=2, sort_keys=True) if args.json else result.render())
    if not args.quiet:
        where = f"Dask at {args.dask}" if args.dask else f"{args.workers or os.cpu_count()} worker processes"
        print(f"{len(seeds)} seeds in {time.perf_counter() - started:.1f}s on {where}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED


def _limit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", action="append", metavar="NAME=N",
                        help="raise one bound on the scenario's size, e.g. nodes=50000 (see docs/scenarios.md)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crdtsim",
        description="Deterministic simulation of CRDT replication and replicated event sourcing.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario (default: the bundled quickstart)")
    run.add_argument(  # type: ignore[attr-defined]
        "scenario", nargs="?", help="a scenario file, or the name of a bundled scenario"
    ).complete = _SCENARIO_COMPLETION
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--out", help="directory for summary.json, the trace and plots")
    run.add_argument("--json", action="store_true", help="print the machine-readable summary")
    run.add_argument("--plots", action="store_true", help="write plots (PNG) into --out")
    run.add_argument("--trace", action="store_true", help="write the trace (JSON Lines and Chrome trace) into --out")
    run.add_argument("--force", action="store_true", help="replace an existing --out directory")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _limit_option(run)
    run.set_defaults(func=_cmd_run)

    validate = sub.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("scenarios", nargs="+").complete = _SCENARIO_COMPLETION  # type: ignore[attr-defined]
    _limit_option(validate)
    validate.set_defaults(func=_cmd_validate)

    init = sub.add_parser("init", help="write a commented scenario file to start from")
    init.add_argument("name", nargs="?", default="my-scenario", help="the scenario's name or file (NAME.yaml)")
    init.add_argument("--template", choices=_templates(), default="data",
                      help="replicated CRDT keys (data), an event-sourced entity, or the todo app")
    init.set_defaults(func=_cmd_init)

    sub.add_parser("list", help="the bundled scenarios").set_defaults(func=_cmd_list)
    sub.add_parser("schema", help="print the JSON Schema of scenario files").set_defaults(func=_cmd_schema)

    bench = sub.add_parser("bench", help="run a benchmark: " + ", ".join(_bench_names()))
    bench.add_argument("name", help="which benchmark")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    bench.set_defaults(func=_cmd_bench)

    sub.add_parser("demo", help="two replicas diverge and merge, without a network").set_defaults(func=_cmd_demo)

    sweep = sub.add_parser("sweep", help="run a scenario under many seeds in parallel; report the failing seeds")
    sweep.add_argument(  # type: ignore[attr-defined]
        "scenario", help="a scenario file, or the name of a bundled scenario"
    ).complete = _SCENARIO_COMPLETION
    sweep.add_argument("--seeds", required=True, help="seeds to run: 1-500, 1,5,9 or 1-10,20-30")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")
    where.add_argument("--dask", metavar="ADDRESS", help="run on the Dask cluster whose scheduler is at tcp://host:port")
    sweep.add_argument("--json", action="store_true", help="print the machine-readable result")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar and no timing line")
    _limit_option(sweep)
    sweep.set_defaults(func=_cmd_sweep)

    completion = sub.add_parser("completion", help="print a shell completion script: "
                                "eval \"$(crdtsim completion bash)\" in ~/.bashrc")
    completion.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    completion.set_defaults(func=_cmd_completion)
    return parser


class Terminated(BaseException):
    """SIGTERM arrived: unwind (``finally`` blocks discard staged output, stop workers) and exit 143.

    A BaseException, like KeyboardInterrupt, so no ``except Exception`` on the way swallows it.
    """


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crdtsim")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run" and (args.plots or args.trace) and args.out is None:
        return _fail("--plots and --trace write files: give --out DIR")
    try:
        previous: Any = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (main() called from a thread): leave signals alone
        previous = None
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (``crdtsim list | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("crdtsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("crdtsim: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
