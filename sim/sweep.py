"""Run one scenario under many seeds, in parallel, and say which seeds failed which check.

Each seed runs in a worker process (a local process pool, or the workers of a Dask distributed
cluster): the worker loads the scenario from its file, runs it with the trace in ``digest`` mode
and sends back a small result. Results come back ordered by seed, whatever order the workers
finish in, so the same sweep always gives the same answer.

>>> parse_seeds("1-3,7,10-11")
[1, 2, 3, 7, 10, 11]
>>> result = sweep("scenarios/quickstart.yaml", [1, 2], workers=1)  # doctest: +SKIP
>>> result.ok, result.failed, result.by_check  # doctest: +SKIP
(True, [], {})
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Generator, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sim.deprecation import renamed
from sim.errors import SimError
from sim.scenario.limits import DEFAULT_LIMITS, Limits

__all__ = ["ERROR", "SeedRun", "SweepResult", "parse_seeds", "rerun_command", "run_seed", "sweep"]

#: the pseudo-check a seed fails when its run raised instead of finishing
ERROR = "error"
#: the check a seed fails when the world never went quiet (named so even if the run did not report it as a check)
QUIESCENCE = "quiescence"
#: the most seeds one spec may name, so a typo (``1-1000000000``) fails fast instead of filling memory
MAX_SEEDS = 1_000_000

_PART = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_seeds(spec: str) -> list[int]:
    """``"1-500"``, ``"1,5,9"``, ``"1-10,20-30"`` -> the seeds, ascending and without repeats.

    >>> parse_seeds("5, 1-3, 2")
    [1, 2, 3, 5]
    >>> parse_seeds("3-1")
    Traceback (most recent call last):
    ...
    sim.errors.SimError: bad seed range '3-1' in '3-1': the start is after the end
    """
    seeds: set[int] = set()
    parts = [part.strip() for part in spec.split(",")]
    for part in parts:
        match = _PART.match(part)
        if match is None:
            what = "empty entry" if not part else f"seed entry {part!r}"
            raise SimError(f"bad {what} in {spec!r}: expected N, A-B or a comma-separated list of them (1-10,20)")
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) is not None else start
        if start > end:
            raise SimError(f"bad seed range {part!r} in {spec!r}: the start is after the end")
        if end - start + 1 + len(seeds) > MAX_SEEDS:
            raise SimError(f"too many seeds in {spec!r}: at most {MAX_SEEDS:,} per sweep")
        seeds.update(range(start, end + 1))
    return sorted(seeds)


@dataclass(frozen=True)
class SeedRun:
    """What one seed's run came to; ``failed`` names the checks it failed (``error`` if it crashed)."""

    seed: int
    ok: bool
    failed: tuple[str, ...] = ()
    digest: str | None = None
    convergence_time: float | None = None
    error: str | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> SeedRun:
        """The run :func:`run_seed` described as plain data (it crosses a process boundary so)."""
        return cls(data["seed"], data["ok"], tuple(data["failed"]), data.get("digest"),
                   data.get("convergence_time"), data.get("error"))

    @classmethod
    def crashed(cls, seed: int, error: BaseException | str) -> SeedRun:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return cls(seed, False, (ERROR,), error=text)


def run_seed(path: str, seed: int, limits: Limits | None = None, workroot: str | None = None) -> dict[str, Any]:
    """Load the scenario at ``path``, run it under ``seed`` and say how it went (the per-seed task).

    Runs in a worker, so it takes a path rather than objects and returns a small, picklable dict.
    An exception inside the run becomes a failed seed (the ``error`` check) carrying its text.
    """
    from sim.scenario import Scenario, build

    try:
        # A private work directory: journals on SQLite go there and go away with it. It lies in a
        # root whose owner removes it even if this process is stopped short: the sweep's own root
        # under a pool, the worker's local directory on Dask.
        root = workroot if workroot is not None else _dask_local_directory()
        with tempfile.TemporaryDirectory(prefix="crdtsim-sweep-", dir=root) as workdir:
            run = build(Scenario.from_yaml(path, limits or DEFAULT_LIMITS), seed=seed, out=workdir, trace="digest")
            try:
                run.run()
            finally:
                run.cleanup()
            report = run.summary()
    except Exception as error:  # noqa: BLE001 - a crash is this seed's result, not the sweep's
        return {"seed": seed, "ok": False, "failed": [ERROR], "digest": None, "convergence_time": None,
                "error": f"{type(error).__name__}: {error}"}
    except _Stop:  # SIGTERM in a pool worker: the work directory is gone by now; end the process
        os._exit(128 + signal.SIGTERM)
    failed = [check["name"] for check in report["checks"] if not check["ok"]]
    if not report["ok"] and not report["quiesced"] and QUIESCENCE not in failed:
        failed.append(QUIESCENCE)
    return {"seed": seed, "ok": bool(report["ok"]), "failed": failed, "digest": report["trace_digest"],
            "convergence_time": report["convergence_time"], "error": None}


def _dask_local_directory() -> str | None:
    """In a Dask worker, its local directory: the worker removes it when it closes, and Dask purges
    a killed worker's directory when the next one starts. Elsewhere None (the system's default)."""
    distributed = sys.modules.get("distributed")  # only a Dask worker has imported it by now
    if distributed is None:
        return None
    try:
        return str(distributed.get_worker().local_directory)
    except ValueError:  # not inside a Dask task
        return None


def rerun_command(scenario: str | Path, seed: int) -> str:
    """The command that runs one seed of a sweep on its own."""
    return f"crdtsim run {shlex.quote(str(scenario))} --seed {seed}"


@dataclass
class SweepResult:
    """The runs of a sweep, ordered by seed."""

    scenario: str
    runs: list[SeedRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(run.ok for run in self.runs)

    @property
    def failed(self) -> list[int]:
        """The seeds that failed, ascending."""
        return [run.seed for run in self.runs if not run.ok]

    @property
    def by_check(self) -> dict[str, list[int]]:
        """Check name -> the seeds that failed it (a seed may fail several checks)."""
        checks: dict[str, list[int]] = {}
        for run in self.runs:
            for name in run.failed:
                checks.setdefault(name, []).append(run.seed)
        return dict(sorted(checks.items()))

    def rerun(self, seed: int) -> str:
        return rerun_command(self.scenario, seed)

    def summary(self) -> dict[str, Any]:
        """What the sweep says, JSON-ready (``sweep.json``); nothing in it changes between two
        sweeps of the same seeds."""
        return {
            "scenario": self.scenario,
            "ok": self.ok,
            "seeds": len(self.runs),
            "passed": len(self.runs) - len(self.failed),
            "failed": self.failed,
            "by_check": self.by_check,
            "failures": [
                {"seed": run.seed, "checks": list(run.failed), "error": run.error, "command": self.rerun(run.seed)}
                for run in self.runs if not run.ok
            ],
            "runs": [{**asdict(run), "failed": list(run.failed)} for run in self.runs],
        }

    def to_json(self) -> dict[str, Any]:
        """Deprecated name of :meth:`summary`."""
        renamed("SweepResult.to_json", "SweepResult.summary")
        return self.summary()

    def render(self) -> str:
        """The text ``crdtsim sweep`` prints."""
        total, failed = len(self.runs), self.failed
        if not failed:
            return f"sweep {self.scenario}: all {total} seeds passed"
        lines = [f"sweep {self.scenario}: {total - len(failed)} of {total} seeds passed, {len(failed)} failed", ""]
        for name, seeds in self.by_check.items():
            lines.append(f"{name}: {len(seeds)} seed{'' if len(seeds) == 1 else 's'}")
        lines += ["", "failing seeds (re-run one alone with the command shown):"]
        failing = [run for run in self.runs if not run.ok]
        seed_width = max(len(str(run.seed)) for run in failing)
        checks_width = max(len(", ".join(run.failed)) for run in failing)
        for run in failing:
            checks = ", ".join(run.failed)
            lines.append(f"  seed {run.seed:<{seed_width}}  {checks:<{checks_width}}  {self.rerun(run.seed)}")
            if run.error:
                lines.append(f"  {'':<{seed_width + 5}}  {run.error}")
        return "\n".join(lines)


def validate(path: str | Path, seed: int, limits: Limits | None = None) -> None:
    """Load and build the scenario for ``seed`` in this process: bad input is reported once, up front."""
    from sim.scenario import Scenario, build

    with tempfile.TemporaryDirectory(prefix="crdtsim-sweep-") as workdir:
        build(Scenario.from_yaml(path, limits or DEFAULT_LIMITS), seed=seed, out=workdir, trace="digest").cleanup()


def _worker_init() -> None:
    """In a pool worker: Ctrl-C goes to the whole process group, but only the parent acts on it
    (it stops the workers), so a worker ignores SIGINT; SIGTERM unwinds the running seed, so its
    temporary directory is removed, and then ends the process (see :func:`run_seed`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)


class _Stop(BaseException):
    """SIGTERM in a pool worker (a BaseException: no ``except Exception`` on the way catches it)."""


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise _Stop()


def _stop_workers(pool: Any) -> None:
    """End every worker process of ``pool`` now (an interrupted sweep must leave none running)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def _on_pool(path: str, seeds: list[int], workers: int | None, limits: Limits | None) -> Generator[SeedRun]:
    from concurrent.futures import Future, ProcessPoolExecutor, as_completed

    workroot = tempfile.mkdtemp(prefix="crdtsim-sweep-")
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init)
    finished = False
    try:
        futures: dict[Future[dict[str, Any]], int] = {
            pool.submit(run_seed, path, seed, limits, workroot): seed for seed in seeds}
        for future in as_completed(futures):
            error = future.exception()  # e.g. BrokenProcessPool when a worker process died
            yield SeedRun.crashed(futures[future], error) if error else SeedRun.from_data(future.result())
        finished = True
    finally:
        if not finished:  # interrupted (Ctrl-C, SIGTERM) or abandoned: do not wait for running seeds
            _stop_workers(pool)  # before shutdown, which forgets the worker processes
        pool.shutdown(wait=True, cancel_futures=True)
        # a worker stopped between creating its work directory and entering it leaves it behind
        shutil.rmtree(workroot, ignore_errors=True)


def _on_dask(path: str, seeds: list[int], address: str, limits: Limits | None) -> Generator[SeedRun]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SimError("--dask needs Dask distributed: pip install 'crdtsim[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as error:
        raise SimError(f"cannot connect to the Dask scheduler at {address!r}: {error}") from None
    try:
        # pure=False: every sweep runs afresh, even if the cluster still holds an earlier sweep's results
        futures = client.map(run_seed, [path] * len(seeds), seeds, [limits] * len(seeds), pure=False)
        by_key = {future.key: seed for future, seed in zip(futures, seeds, strict=True)}
        for future in as_completed(futures):
            seed = by_key[future.key]
            if future.status == "error":  # the task never returned, e.g. its worker kept dying (KilledWorker)
                yield SeedRun.crashed(seed, future.exception())
            else:
                yield SeedRun.from_data(future.result())
    finally:
        client.close()


def sweep(path: str | Path, seeds: Iterable[int], workers: int | None = None, dask: str | None = None,
          progress: bool = False, on_run: Callable[[SeedRun], None] | None = None,
          limits: Limits | None = None) -> SweepResult:
    """Run the scenario at ``path`` once per seed and collect the results, ordered by seed.

    Runs on a local process pool of ``workers`` processes (default: one per CPU), or on the Dask
    distributed cluster whose scheduler is at ``dask`` (``tcp://host:port``); there the scenario
    file must be readable at the same path by every worker. The scenario is loaded and built for
    the first seed here first, so bad input raises :class:`~sim.errors.SimError` before any work
    is sent out. ``progress`` shows a bar over completed seeds on stderr; ``on_run`` is called
    with each result as it arrives (in completion order).
    """
    seeds = sorted(set(seeds))
    if not seeds:
        raise SimError("no seeds to run")
    if workers is not None and workers < 1:
        raise SimError(f"workers must be at least 1, found {workers}")
    validate(path, seeds[0], limits)
    where = os.path.abspath(path)  # workers may not share this process's working directory
    source = _on_dask(where, seeds, dask, limits) if dask is not None else _on_pool(where, seeds, workers, limits)
    results: dict[int, SeedRun] = {}
    from tqdm import tqdm

    with tqdm(total=len(seeds), unit="seed", disable=not progress, leave=False) as bar:
        try:
            for run in source:
                results[run.seed] = run
                if on_run is not None:
                    on_run(run)
                bar.update(1)
                if not run.ok:
                    bar.set_postfix(failed=sum(not r.ok for r in results.values()))
        finally:
            source.close()  # an interrupt lands here too: stop the workers now, not at garbage collection
    return SweepResult(str(path), [results[seed] for seed in seeds])
