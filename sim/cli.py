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
import shutil
import signal
import sys
import tempfile
import time
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
SQLITE_TRANSIENT = ("-wal", "-shm", "-journal")


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


def _progress(run: Any, enabled: bool, file: Any = None) -> Callable[[], None]:
    """Show simulated time on a progress bar through the workload and the quiet phase; returns a closer.

    The quiet phase lasts until nothing is in flight, at most ``quiet_max`` ticks: the bar's
    total is that bound, and its label says which phase runs.
    """
    if not enabled:
        return lambda: None
    from tqdm import tqdm

    from sim.units import parse_duration

    world = run.world
    workload = parse_duration(run.scenario.get("duration", "5s"), "duration")
    total = workload + world.tick * int(run.scenario.get("quiet_max", 1000))
    bar = tqdm(total=round(total, 3), unit="sim s", leave=False, file=file or sys.stderr, desc="workload")
    step = max(world.tick, workload / 100)

    def tick() -> None:
        if world.now >= workload and bar.desc != "quiet":
            bar.set_description("quiet", refresh=False)
        bar.n = round(min(world.now, total), 3)
        bar.refresh()
        if world.now < total:
            world.schedule(step, tick)

    world.schedule(0.0, tick)
    return bar.close


def _write_atomically(out: Path, files: dict[str, Callable[[Path], None]]) -> None:
    """Write every file into a fresh directory first, then move them into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".crdtsim-", dir=out))
    try:
        for name, write in files.items():
            write(staging / name)
        for name in files:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _limits(args: argparse.Namespace) -> Any:
    from sim.scenario.limits import Limits

    return Limits.parse(getattr(args, "limit", None) or [])


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _text_writer(text: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    return write


def _rerun(args: argparse.Namespace, seed: int) -> str:
    """The command that runs this scenario again, as the user named it."""
    window = f" --window {args.window}" if args.window else ""
    return f"crdtsim run {args.scenario or DEFAULT_SCENARIO} --seed {seed}{window}"


def _results(run: Any, report: dict[str, Any], args: argparse.Namespace,
             window: tuple[float, float] | None) -> dict[str, Callable[[Path], None]]:
    """The files ``--out`` gets: summary, history, SVG figures, the report; PNGs and trace on request."""
    from sim.htmlreport import build_report
    from sim.plots import figures, svg, write_all

    files: dict[str, Callable[[Path], None]] = {
        "summary.json": lambda p: _write_json(p, report),
        "history.jsonl": run.world.history.to_jsonl,
    }
    svgs = {name: svg(draw()) for name, draw in figures(run, window).items()}
    for name, text in svgs.items():
        files[f"{name}.svg"] = _text_writer(text)
    if args.plots:
        files.update(write_all(run, "png", window))
    if args.trace:
        files["trace.jsonl"] = run.world.trace.to_jsonl
        files["trace.chrome.json"] = run.world.trace.to_chrome
    records = run.world.history.records()
    files["report.html"] = lambda p: _text_writer(build_report(report, records, svgs))(p)
    return files


def _written_by(run: Any, since_ns: int) -> list[str]:
    """Files the run itself wrote into its directory, relative to it: every file of each
    subdirectory it wrote into (SQLite journals and stores; not SQLite's transient -wal, -shm
    and -journal files, which go when the databases close)."""
    if run.workdir is None or run.temporary or not Path(run.workdir).is_dir():
        return []
    root = Path(run.workdir)
    touched = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
               and any(p.is_file() and p.stat().st_mtime_ns >= since_ns for p in d.rglob("*"))]
    return sorted(p.relative_to(root).as_posix() for d in touched for p in d.rglob("*")
                  if p.is_file() and not p.name.endswith(SQLITE_TRANSIENT))


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.output import RunDirectory
    from sim.report import render
    from sim.scenario import Scenario, build
    from sim.units import parse_window

    started = time.time_ns()
    try:
        window = parse_window(args.window, "--window") if args.window else None
        scenario = Scenario.from_yaml(_scenario_path(args.scenario), _limits(args))
        # Everything the run writes (journals included) goes to a fresh staging directory first.
        rundir = RunDirectory(args.out, force=args.force) if args.out is not None else None
    except SimError as error:
        return _fail(str(error))
    try:
        run = build(scenario, seed=args.seed, out=rundir.root if rundir else None,
                    trace="full" if args.out is not None else None)
        close = _progress(run, not args.quiet and sys.stderr.isatty())
        try:
            run.run()
        finally:
            close()
            run.cleanup()
        report = _summarise(run, args, window, started, rundir)
    except SimError as error:
        return _fail(str(error))
    finally:
        if rundir is not None:
            rundir.discard()
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else render(report))
    return EXIT_OK if report["ok"] else EXIT_CHECK_FAILED


def _summarise(run: Any, args: argparse.Namespace, window: tuple[float, float] | None,
               started: int, rundir: Any = None) -> dict[str, Any]:
    """The finished run's summary; with ``rundir`` (the run's staging directory), its results
    written there and moved into place."""
    report = run.summary()
    if rundir is not None:
        report["rerun"] = _rerun(args, report["seed"])
        files = _results(run, report, args, window)
        report["files"] = sorted([*files, *_written_by(run, started)])
        for name, writer in files.items():
            rundir.write(name, writer)
        rundir.commit()
    return report


def _keep_failures(path: Path, args: argparse.Namespace, failed: list[int]) -> list[int]:
    """Run the first ``args.keep`` failing seeds of a sweep again, each into ``OUT/seed-N``."""
    from sim.output import RunDirectory
    from sim.scenario import Scenario, build

    kept = failed[:args.keep]
    for seed in kept:
        started = time.time_ns()
        one = argparse.Namespace(scenario=args.scenario, out=str(Path(args.out) / f"seed-{seed}"), plots=False,
                                 trace=False, window=None)
        with RunDirectory(one.out, force=True) as rundir:  # this sweep's result for the seed replaces an older one
            run = build(Scenario.from_yaml(path, _limits(args)), seed=seed, out=rundir.root, trace="full")
            try:
                run.run()
            finally:
                run.cleanup()
            _summarise(run, one, None, started, rundir)
    return kept


def _cmd_report(args: argparse.Namespace) -> int:
    from sim.htmlreport import write_report

    directory = Path(args.directory)
    if not (directory / "summary.json").is_file():
        return _fail(f"{directory}: expected a results directory of `crdtsim run --out`, found no summary.json")
    try:
        print(write_report(directory))
    except (OSError, ValueError, KeyError) as error:
        return _fail(f"{directory}: cannot rebuild the report: {error}")
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    from sim.serve import serve

    directory = Path(args.directory)
    if not directory.is_dir():
        return _fail(f"{directory}: expected a directory of results, found none")
    return serve(directory, args.host, args.port)


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


def _registered_names() -> dict[str, str]:
    """What a template lists from the registries: the CRDT types, protocols and topology kinds."""
    from crdt.registry import listed_types
    from sim.replication.protocol import protocols
    from sim.topology import KINDS

    return {"crdt_types": ", ".join(listed_types()), "protocols": " | ".join(protocols()),
            "topology_kinds": " | ".join(KINDS)}


def _cmd_init(args: argparse.Namespace) -> int:
    import string

    path = Path(args.name if args.name.endswith((".yaml", ".yml")) else f"{args.name}.yaml")
    text = (TEMPLATES / f"{args.template}.yaml").read_text(encoding="utf-8")
    try:
        with path.open("x", encoding="utf-8") as out:  # "x": never overwrite a file
            out.write(string.Template(text).substitute(name=path.stem, file=path, **_registered_names()))
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
    from sim.history import HISTORY_SCHEMA
    from sim.scenario import scenario_schema

    print(json.dumps(HISTORY_SCHEMA if args.of == "history" else scenario_schema(), indent=2))
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
    if args.out is not None:
        try:
            kept = _keep_failures(path, args, result.failed)
        except SimError as error:
            return _fail(str(error))
        _write_atomically(Path(args.out), {"sweep.json": lambda p: _write_json(p, result.summary())})
        if not args.quiet:
            print(f"results of {len(kept)} failing seeds in {args.out} (crdtsim serve {args.out})", file=sys.stderr)
    print(json.dumps(result.summary(), indent=2, sort_keys=True) if args.json else result.render())
    if not args.quiet:
        where = f"Dask at {args.dask}" if args.dask else f"{args.workers or os.cpu_count()} worker processes"
        print(f"{len(seeds)} seeds in {time.perf_counter() - started:.1f}s on {where}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED


def _cmd_hunt(args: argparse.Namespace) -> int:
    from sim.hunt import hunt

    target = scenarios_dir() / "hunt" / f"{args.scenario}.yaml"  # a variant's hunt target, by name
    try:
        path = target if not Path(args.scenario).exists() and target.exists() else _scenario_path(args.scenario)
        result = hunt(path, args.budget, seed=args.seed, workers=args.workers, dask=args.dask,
                      out=args.out, progress=not args.quiet and sys.stderr.isatty())
    except SimError as error:
        return _fail(str(error))
    print(json.dumps(result.summary(), indent=2, sort_keys=True) if args.json else result.render())
    return EXIT_CHECK_FAILED if result.found else EXIT_OK


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
    run.add_argument("--out", help="directory for summary.json, history.jsonl, SVG figures and report.html")
    run.add_argument("--json", action="store_true", help="print the machine-readable summary")
    run.add_argument("--plots", action="store_true", help="also write the plots as PNG into --out")
    run.add_argument("--window", metavar="START..END",
                     help="the space-time diagram's window, e.g. 0.8s..2.5s (default: around the first divergence, "
                          "or the first partition and its heal)")
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
    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files (or of history.jsonl records)")
    schema.add_argument("of", nargs="?", choices=["scenario", "history"], default="scenario")
    schema.set_defaults(func=_cmd_schema)

    bench = sub.add_parser("bench", help="run a benchmark: " + ", ".join(_bench_names()))
    bench.add_argument("name", help="which benchmark")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    bench.set_defaults(func=_cmd_bench)

    report = sub.add_parser("report", help="rebuild report.html in a results directory of `crdtsim run --out`")
    report.add_argument("directory")
    report.set_defaults(func=_cmd_report)

    serve = sub.add_parser("serve", help="browse many results directories (a sweep's, a hunt's) over HTTP")
    serve.add_argument("directory")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    serve.set_defaults(func=_cmd_serve)

    sub.add_parser("demo", help="two replicas diverge and merge, without a network").set_defaults(func=_cmd_demo)

    sweep = sub.add_parser("sweep", help="run a scenario under many seeds in parallel; report the failing seeds")
    sweep.add_argument(  # type: ignore[attr-defined]
        "scenario", help="a scenario file, or the name of a bundled scenario"
    ).complete = _SCENARIO_COMPLETION
    sweep.add_argument("--seeds", required=True, help="seeds to run: 1-500, 1,5,9 or 1-10,20-30")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")
    where.add_argument("--dask", metavar="ADDRESS", help="run on the Dask cluster whose scheduler is at tcp://host:port")
    sweep.add_argument("--out", help="write sweep.json, and each failing seed's results into OUT/seed-N")
    sweep.add_argument("--keep", type=int, default=20, help="with --out: at most this many failing seeds (20)")
    sweep.add_argument("--json", action="store_true", help="print the machine-readable result")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar and no timing line")
    _limit_option(sweep)
    sweep.set_defaults(func=_cmd_sweep)

    hunt = sub.add_parser("hunt", help="search a scenario's schedules for a failing check; shrink it to minimal.yaml")
    hunt.add_argument("scenario", help="a scenario file (its hunt: section says what may vary), a bundled name, "
                                       "or a broken variant's name (its target in scenarios/hunt/)")
    hunt.add_argument("--budget", default="200", help="runs (200) or wall time (30s, 2m) for the search")
    hunt.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    hunt_where = hunt.add_mutually_exclusive_group()
    hunt_where.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")
    hunt_where.add_argument("--dask", metavar="ADDRESS", help="run on the Dask cluster at tcp://host:port")
    hunt.add_argument("--out", default="hunt-out", help="directory for minimal.yaml, original.yaml, report.json")
    hunt.add_argument("--json", action="store_true", help="print the machine-readable report")
    hunt.add_argument("--quiet", action="store_true", help="no progress bar")
    hunt.set_defaults(func=_cmd_hunt)

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
    if args.command == "run" and args.window and args.out is None:
        return _fail("--window is for the space-time diagram, which --out writes: give --out DIR")
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
