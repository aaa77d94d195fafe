"""Running candidates: one plain scenario per task, on a process pool or a Dask cluster.

A task takes the plain scenario as a dict and returns a small dict (picklable, JSON-ready):
whether it failed, the failing checks, the failure's *signature* (the check and its reason with
the particulars taken out, what shrinking must preserve) and the closeness signals the search
learns from. Batches come back in submission order, so results do not depend on which worker
finished first. The pool is the one ``crdtsim sweep`` uses (``concurrent.futures`` processes,
or ``distributed`` on a Dask scheduler), kept open for the whole hunt.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from typing import Any

from sim.errors import SimError

__all__ = ["Runner", "evaluate", "signature"]

_PARTICULARS = re.compile(r"'[^']*'|\d+(?:\.\d+)?")


def _without_lists(text: str) -> str:
    """Each outermost ``[...]`` (nested ones included) becomes ``[…]``."""
    out, depth = [], 0
    for char in text:
        if char == "[":
            if depth == 0:
                out.append("[…]")
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def signature(checks: Sequence[Sequence[Any]]) -> tuple[str, str] | None:
    """The failure that matters: the first failing check other than quiescence (which usually
    comes with it), and its message with numbers, lists and quoted values taken out, up to its
    first list (the rest names that list's items).

    >>> signature([["quiescence", False, "not quiet after 100 ticks"],
    ...            ["invariants", False, "0/1 keys hold their invariants; k: acknowledged adds lost: ['eggs']"]])
    ('invariants', '…/… keys hold their invariants; k: acknowledged adds lost: […]')
    >>> signature([["convergence", True, "1/1 keys converged"]]) is None
    True
    """
    failing = [c for c in checks if not c[1]]
    if not failing:
        return None
    primary = next((c for c in failing if c[0] != "quiescence"), failing[0])
    reason = _PARTICULARS.sub("…", _without_lists(str(primary[2])))
    # What follows the first list only elaborates its items (which request, where, when).
    reason = reason.split("[…]", 1)[0] + "[…]" if "[…]" in reason else reason
    return str(primary[0]), reason


#: the closeness signals a passing run reports; the search keeps the best schedules of each
SIGNALS = ("quiet", "dropped", "late", "concurrent")


def concurrency(writes: Sequence[tuple[float, str]], window: float) -> int:
    """Pairs of writes at different nodes less than ``window`` apart: updates the replicas
    exchange while each is still in flight, where ordering and forwarding bugs live.

    >>> concurrency([(0.0, "a"), (0.05, "b"), (0.07, "a"), (1.0, "b")], 0.1)
    2
    """
    ordered = sorted(writes)
    pairs, start = 0, 0
    for i, (t, node) in enumerate(ordered):
        while ordered[start][0] <= t - window:
            start += 1
        pairs += sum(1 for _, other in ordered[start:i] if other != node)
    return pairs


def _signals(run: Any) -> dict[str, float]:
    """How close a passing run came to failing, several ways: slow to go quiet (ticks), messages
    dropped, replicas apart long after the last write (seconds), concurrent writes."""
    result = run.result
    quiet = result.phases["quiet"]
    workload_end = result.phases["workload"][1]
    converged = [c for c in result.checks if c.name == "convergence"]
    late = 0.0
    if converged and converged[0].ok:
        times = [k.get("time") or 0.0 for k in converged[0].details["keys"].values()]
        late = max([t - workload_end for t in times] + [0.0])
    updates = run.data.updates if run.data is not None else []
    return {"quiet": (quiet[1] - quiet[0]) / run.world.tick, "dropped": float(sum(result.metrics["dropped"].values())),
            "late": late, "concurrent": float(concurrency([(u.time, u.node) for u in updates], run.world.tick))}


def _score(signals: dict[str, float]) -> float:
    """The signals in one number (the progress bar's "closest")."""
    return signals["quiet"] + signals["dropped"] + 10 * signals["late"]


def evaluate(data: dict[str, Any]) -> dict[str, Any]:
    """Run one plain scenario (the per-candidate task). A scenario that does not build is
    ``invalid``; one that raises while running fails the ``error`` check."""
    from sim.scenario import Scenario, build

    try:
        scenario = Scenario.from_data(data, "<hunt>")
    except SimError as error:
        return {"status": "invalid", "error": str(error), "checks": [], "signature": None, "score": 0.0, "signals": {}}
    with tempfile.TemporaryDirectory(prefix="crdtsim-hunt-") as workdir:
        try:
            run = build(scenario, out=workdir, trace="digest")
        except SimError as error:
            return {"status": "invalid", "error": str(error), "checks": [], "signature": None, "score": 0.0,
                    "signals": {}}
        try:
            run.run()
        except Exception as error:  # noqa: BLE001 - a crash is this schedule's failure, not the hunt's
            message = f"{type(error).__name__}: {error}"
            checks = [["error", False, message]]
            return {"status": "failed", "error": message, "checks": checks, "signature": list(signature(checks) or ()),
                    "score": 0.0, "signals": {}}
        finally:
            run.cleanup()
    assert run.result is not None
    checks = [[c.name, c.ok, c.message] for c in run.result.checks]
    sig = signature(checks)
    signals = _signals(run)
    return {"status": "failed" if sig else "ok", "error": None, "checks": checks,
            "signature": list(sig) if sig else None, "score": _score(signals), "signals": signals}


class Runner:
    """Evaluates batches of plain scenarios on ``workers`` processes or the Dask cluster at ``dask``.

    ``workers=0`` runs in this process (tests and notebooks that want no subprocesses).
    """

    def __init__(self, workers: int | None = None, dask: str | None = None) -> None:
        if workers is not None and workers < 0:
            raise SimError(f"workers must be at least 1 (or 0 for this process), found {workers}")
        self.runs = 0
        self._pool: Any = None
        self._client: Any = None
        if dask is not None:
            try:
                from distributed import Client
            except ImportError:
                raise SimError("--dask needs Dask distributed: pip install 'crdtsim[dask]'") from None
            try:
                self._client = Client(dask, timeout="10s")
            except (OSError, TimeoutError, ValueError) as error:
                raise SimError(f"cannot connect to the Dask scheduler at {dask!r}: {error}") from None
        elif workers != 0:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=workers)

    def map(self, scenarios: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Evaluate every scenario; the results in the order given."""
        self.runs += len(scenarios)
        if self._client is not None:
            futures = self._client.map(evaluate, list(scenarios), pure=False)
            return [self._collect(f) for f in futures]
        if self._pool is not None:
            futures = [self._pool.submit(evaluate, s) for s in scenarios]
            return [self._collect(f) for f in futures]
        return [evaluate(s) for s in scenarios]

    @staticmethod
    def _collect(future: Any) -> dict[str, Any]:
        error = future.exception()  # e.g. a worker process died
        if error is not None:
            message = f"{type(error).__name__}: {error}"
            checks = [["error", False, message]]
            return {"status": "failed", "error": message, "checks": checks, "signature": list(signature(checks) or ()),
                    "score": 0.0, "signals": {}}
        return dict(future.result())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
