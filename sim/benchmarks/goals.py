"""``crdtsim bench goals``: the speed goals' table, each figure against a same-run baseline.

One row per figure: what was measured, the goal, and whether it is met. Each row calls the
benchmark that measures it (``bench engine``, ``bench scale``, ``bench crdt``, ``bench
replication``) or runs a whole process and reads its CPU time and peak memory from the
operating system (``os.wait4``). A row whose benchmark is missing, fails, or needs something not
given says so and how to measure it, and counts as not met.

The happysim rows run ``benchmarks/peers/happysim_gossip.py`` with the Python >= 3.13
interpreter given by ``--peer-python`` or ``CRDTSIM_PEER_PYTHON`` (a venv with
``happysim==0.2.5``), alternating it with ``crdtsim run gossip-1000 --json`` and taking medians.

``--only`` picks rows by key (``happysim,scale,replication,engine,crdts,orset,100k``); the whole
table takes several minutes, the replication row most of them.

Wall-clock and CPU time are read here, and only here, to time runs from outside.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Row", "main", "rows", "ROWS"]

PEER_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "peers" / "happysim_gossip.py"
PEER_ENV = "CRDTSIM_PEER_PYTHON"


@dataclass(frozen=True)
class Row:
    """One line of the table: ``met`` is None when the figure was not measured."""

    figure: str
    measured: str
    goal: str
    met: bool | None


@dataclass(frozen=True)
class Process:
    """A finished child process: exit code, user + system CPU seconds, wall seconds, peak MiB."""

    code: int
    cpu: float
    wall: float
    peak_mib: float


def run_process(argv: Sequence[str], timeout: float | None = None) -> Process:
    """Run ``argv`` to its end and read its own CPU time and peak memory (not this process's)."""
    start = time.perf_counter()
    child = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:  # wait4 (not Popen.wait, which would reap the child and lose its rusage)
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if timeout is not None and time.perf_counter() - start > timeout:
            child.kill()
        time.sleep(0.05)
    child.returncode = os.waitstatus_to_exitcode(status)
    return Process(child.returncode, usage.ru_utime + usage.ru_stime, time.perf_counter() - start,
                   usage.ru_maxrss / 1024)


def _call(module: str, name: str, **kwargs: Any) -> Any:
    """``sim.benchmarks.<module>.<name>(**kwargs)``, passing only the arguments it accepts (the
    benchmarks' signatures change as they grow; the table must not break with them)."""
    function: Callable[..., Any] = getattr(importlib.import_module(f"sim.benchmarks.{module}"), name)
    accepted = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        return function(**kwargs)
    return function(**{k: v for k, v in kwargs.items() if k in accepted})


def _not_measured(figure: str, goal: str, why: str) -> Row:
    return Row(figure, f"not measured: {why}", goal, None)


def _crdtsim(*args: str) -> list[str]:
    return [sys.executable, "-m", "sim.cli", *args]


# -- the rows ---------------------------------------------------------------------------------


def happysim_rows(peer_python: str | None, runs: int = 3) -> list[Row]:
    cpu_figure, mem_figure = "gossip-1000 CPU vs happysim 0.2.5, paired", "gossip-1000 peak memory vs happysim"
    cpu_goal, mem_goal = "<= 0.05", "<= 0.20"
    if not peer_python:
        why = (f"pass --peer-python or set {PEER_ENV} to a Python >= 3.13 with happysim==0.2.5 "
               "(python3.13 -m venv /tmp/peer && /tmp/peer/bin/pip install happysim==0.2.5)")
        return [_not_measured(cpu_figure, cpu_goal, why), _not_measured(mem_figure, mem_goal, why)]
    ours, theirs = [], []
    for _ in range(runs):  # alternated, so both see the same machine
        ours.append(run_process(_crdtsim("run", "gossip-1000", "--json")))
        theirs.append(run_process([peer_python, str(PEER_SCRIPT)]))
    failed = [p for p in ours + theirs if p.code != 0]
    if failed:
        why = f"a run exited with {failed[0].code} (run the two commands by hand to see why)"
        return [_not_measured(cpu_figure, cpu_goal, why), _not_measured(mem_figure, mem_goal, why)]
    cpu_ours, cpu_theirs = (statistics.median(p.cpu for p in ps) for ps in (ours, theirs))
    mem_ours, mem_theirs = (statistics.median(p.peak_mib for p in ps) for ps in (ours, theirs))
    return [
        Row(cpu_figure, f"{cpu_ours / cpu_theirs:.3f} ({cpu_ours:.1f} vs {cpu_theirs:.1f} CPU s)", cpu_goal,
            cpu_ours / cpu_theirs <= 0.05),
        Row(mem_figure, f"{mem_ours / mem_theirs:.3f} ({mem_ours:.0f} vs {mem_theirs:.0f} MiB)", mem_goal,
            mem_ours / mem_theirs <= 0.20),
    ]


def _growth(workload: str, small: int, large: int) -> tuple[float, str]:
    per = {}
    for n in (small, large):
        row = _call("scale", "measure_fresh", workload=workload, nodes=n)
        per[n] = row["cpu"] / max(int(row["delivered"]), 1) * 1e6
    return per[large] / per[small], f"{per[small]:.1f} -> {per[large]:.1f} us/msg"


def scale_row() -> Row:
    growth, detail = _growth("gcounter", 100, 1000)
    return Row("CPU per delivered message, 1,000 vs 100 nodes (GCounter state gossip)",
               f"{growth:.2f}x ({detail})", "<= 2x", growth <= 2)


def orset_row() -> Row:
    growth, detail = _growth("orset", 10, 300)
    return Row("300-node delta ORSet, degree 4, CPU per message growth 10 -> 300 nodes",
               f"{growth:.2f}x ({detail})", "<= 1.5x", growth <= 1.5)


def replication_row() -> Row:
    run = run_process(_crdtsim("bench", "replication"))
    if run.code not in (0, 1):
        return _not_measured("`crdtsim bench replication` total CPU", "<= 60 s",
                             f"it exited with {run.code}")
    return Row("`crdtsim bench replication` total CPU", f"{run.cpu:.1f} s (whole process)", "<= 60 s",
               run.cpu <= 60 and run.code == 0)


def engine_row() -> Row:
    floor, engine, digest = _call("engine", "compare", n=300_000)
    return Row("engine / SimPy floor, trace off · with the run's digest",
               f"{engine / floor:.2f} · {digest / floor:.2f}", ">= 0.7 · >= 0.5",
               engine / floor >= 0.7 and digest / floor >= 0.5)


def crdts_row() -> Row:
    figure, goal = "ORSet delta apply vs `crdts` remote apply", ">= 10x"
    applied = _call("crdt", "delta_apply", size=10_000)
    if applied.get("crdts") is None:
        crdt = importlib.import_module("sim.benchmarks.crdt")
        return _not_measured(figure, goal, getattr(crdt, "CRDTS_MISSING", "crdts is not installed"))
    ratio = applied["crdts"] / applied["ours"]
    return Row(figure, f"{ratio:.1f}x ({1 / applied['ours']:,.0f} vs {1 / applied['crdts']:,.0f}/s; "
               f"1-element delta into 10,000: {applied['single'] * 1e3:.3f} ms)", goal, ratio >= 10)


def gossip_100k_row() -> Row:
    figure, goal = "`gossip-100k` via `crdtsim run`", "converges, < 120 s wall, < 4 GiB"
    from sim.cli import bundled

    if "gossip-100k" not in bundled():
        return _not_measured(figure, goal, "no bundled gossip-100k scenario yet")
    run = run_process(_crdtsim("run", "gossip-100k", "--json"), timeout=900)
    ok = run.code == 0 and run.wall < 120 and run.peak_mib < 4096
    return Row(figure, f"exit {run.code}, {run.wall:.0f} s wall, {run.peak_mib:,.0f} MiB", goal, ok)


ROWS: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "happysim": lambda args: happysim_rows(args.peer_python, args.runs),
    "scale": lambda args: [scale_row()],
    "replication": lambda args: [replication_row()],
    "engine": lambda args: [engine_row()],
    "crdts": lambda args: [crdts_row()],
    "orset": lambda args: [orset_row()],
    "100k": lambda args: [gossip_100k_row()],
}


def rows(keys: Sequence[str], args: argparse.Namespace) -> list[Row]:
    """The rows for ``keys``; a benchmark that breaks gives a row saying so, not a traceback."""
    out: list[Row] = []
    for key in keys:
        try:
            out.extend(ROWS[key](args))
        except Exception as error:  # noqa: BLE001 - one broken benchmark must not hide the others
            out.append(_not_measured(key, "-", f"{type(error).__name__}: {error}"))
    return out


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="crdtsim bench goals", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(ROWS), help=f"comma-separated rows of {list(ROWS)}")
    parser.add_argument("--peer-python", default=os.environ.get(PEER_ENV),
                        help=f"a Python >= 3.13 with happysim 0.2.5 (default ${PEER_ENV})")
    parser.add_argument("--runs", type=int, default=3, help="paired happysim runs (medians)")
    args = parser.parse_args(list(argv))
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in keys if k not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; expected some of {list(ROWS)}")
    print(f"{'figure':<72} {'measured':<44} {'goal':<18} met")
    table = []
    for key in keys:
        for row in rows([key], args):
            table.append(row)
            met = "-" if row.met is None else ("yes" if row.met else "NO")
            print(f"{row.figure:<72} {row.measured:<44} {row.goal:<18} {met}", flush=True)
    return 0 if all(r.met for r in table) else 1
