"""``hunt``: search a scenario's space for a failing schedule, shrink it, and keep it as a file.

>>> from sim.hunt import hunt
>>> result = hunt("scenarios/hunt/summing-merge.yaml", budget=20, workers=0)  # doctest: +SKIP
>>> result.found, result.check, len(result.minimal.writes)  # doctest: +SKIP
(True, 'invariants', 1)
"""

from __future__ import annotations

import copy
import json
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from sim.deprecation import renamed
from sim.errors import SimError
from sim.hunt.runner import Runner, evaluate, signature
from sim.hunt.search import Search
from sim.hunt.shrink import shrink
from sim.hunt.space import Candidate, HuntSpace, Write, check_budget, keyed
from sim.scenario import Scenario, build
from sim.units import parse_duration

__all__ = ["HuntResult", "hunt", "parse_budget", "to_yaml"]

#: candidates per batch: fixed, so the same hunt seed proposes the same schedules on any pool
BATCH = 8


def parse_budget(budget: int | float | str) -> tuple[int | None, float | None]:
    """``200`` or ``"200"`` -> 200 runs; ``"30s"``, ``"2m"`` -> seconds of wall time.

    >>> parse_budget("200"), parse_budget("1.5m"), parse_budget(50)
    ((200, None), (None, 90.0), (50, None))
    """
    if isinstance(budget, bool):
        raise SimError(f"budget: expected a number of runs (200) or a duration (30s), found {budget!r}")
    if isinstance(budget, int):
        runs, seconds = budget, None
    elif isinstance(budget, str) and budget.strip().isdigit():
        runs, seconds = int(budget), None
    else:
        try:
            runs, seconds = None, parse_duration(budget, "budget")
        except SimError:
            raise SimError(f"budget: expected a number of runs (200) or a duration (30s), found {budget!r}") from None
    check_budget(runs, seconds)
    return runs, seconds


class _Line(dict[str, Any]):
    """A mapping YAML writes on one line (a fault, a write, a link model)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Line, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))


def _one_line(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    for section, field_ in (("faults", None), ("workload", "writes")):
        holder = data if field_ is None else data.get(section, {})
        items = holder.get(field_ or section)
        if items:
            holder[field_ or section] = [_Line(item) for item in items]
    links = data.get("links", {})
    if "default" in links:
        links["default"] = _Line(links["default"])
    return data


def to_yaml(data: dict[str, Any], header: str = "") -> str:
    """A plain scenario as YAML: sections in block style, each fault and write on one line."""
    text = yaml.dump(_one_line(copy.deepcopy(data)), Dumper=_Dumper, sort_keys=False, default_flow_style=None,
                     width=120, allow_unicode=True)
    return "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text


@dataclass
class HuntResult:
    """What a hunt found: the failing and minimal schedules, and what it cost."""

    scenario: str
    seed: int
    found: bool
    runs: int
    seconds: float
    runs_to_failure: int | None = None
    without_faults: bool = False
    #: how many of the scenario's own faults every schedule keeps
    fixed_faults: int = 0
    signature: tuple[str, str] | None = None
    message: str | None = None
    original: Candidate | None = None
    minimal: Candidate | None = None
    original_yaml: str | None = None
    minimal_yaml: str | None = None
    shrink_runs: int = 0
    shrink_seconds: float = 0.0
    shrink_exhausted: bool = False
    out: str | None = None
    stopped_by: str = "budget"
    checks: list[list[Any]] = field(default_factory=list)

    @property
    def check(self) -> str | None:
        return self.signature[0] if self.signature else None

    def replay_command(self) -> str | None:
        if not self.found:
            return None
        where = Path(self.out) / "minimal.yaml" if self.out else Path("minimal.yaml")
        return f"crdtsim run {shlex.quote(str(where))}"

    def summary(self) -> dict[str, Any]:
        """What the hunt found, JSON-ready (``report.json``, ``crdtsim hunt --json``)."""

        def schedule(c: Candidate | None) -> dict[str, Any] | None:
            if c is None:
                return None
            return {**c.describe(), "size": {"faults": len(c.faults), "writes": len(c.writes)}}

        return {
            "scenario": self.scenario, "hunt_seed": self.seed, "found": self.found, "runs": self.runs,
            "runs_to_failure": self.runs_to_failure, "seconds": round(self.seconds, 3),
            "without_faults": self.without_faults, "fixed_faults": self.fixed_faults, "stopped_by": self.stopped_by,
            "failing_check": self.check, "reason": self.signature[1] if self.signature else None,
            "message": self.message, "before": schedule(self.original), "after": schedule(self.minimal),
            "shrink": {"runs": self.shrink_runs, "seconds": round(self.shrink_seconds, 3),
                       "budget_spent": self.shrink_exhausted},
            "replay": self.replay_command(), "out": self.out,
        }

    def to_json(self) -> dict[str, Any]:
        """Deprecated name of :meth:`summary`."""
        renamed("HuntResult.to_json", "HuntResult.summary")
        return self.summary()

    def render(self) -> str:
        """The text report ``crdtsim hunt`` prints."""
        if not self.found:
            return (f"hunt {self.scenario}: no failure in {self.runs} runs ({self.seconds:.1f}s, stopped by "
                    f"{self.stopped_by})")
        assert self.original is not None and self.minimal is not None
        how = f"after {self.runs_to_failure} runs"
        if self.without_faults:
            how = f"with only its own {self.fixed_faults} faults" if self.fixed_faults else "without any fault"
        lines = [f"hunt {self.scenario}: {self.check} fails {how} ({self.runs} runs, {self.seconds:.1f}s)",
                 f"  {self.check}: {self.message}", ""]
        for title, c in (("before shrinking", self.original), ("after shrinking", self.minimal)):
            d = c.describe()
            lines.append(f"{title}: {len(c.faults)} faults, {len(c.writes)} writes, seed {c.seed}"
                         + "".join(f", {k} {d[k]}" for k in ("nodes", "topology", "loss", "duplicate", "duration")
                                   if k in d))
            lines += [f"  {line}" for line in d["faults"] + d["writes"]]
        lines += ["", f"shrunk in {self.shrink_runs} runs ({self.shrink_seconds:.1f}s)"
                  + (", stopped by its budget" if self.shrink_exhausted else ""),
                  f"replay: {self.replay_command()}"]
        return "\n".join(lines)


def _load(scenario: str | Path | Scenario | dict[str, Any]) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, dict):
        return Scenario.from_data(scenario)
    return Scenario.from_yaml(scenario)


def _realized(space: HuntSpace) -> tuple[Candidate, dict[str, Any]]:
    """The scenario as written with only its own faults (no nemesis), its workload's writes made
    explicit."""
    base = space.base
    data = copy.deepcopy(base.data)
    for key in ("hunt", "nemesis"):
        data.pop(key, None)
    keyed(data)  # as every candidate runs (see sim.hunt.space)
    run = build(Scenario.from_data(data, base.source), trace="digest")
    try:
        run.run()
    except Exception as error:  # noqa: BLE001 - the run dying is a failure, as in evaluate()
        checks: list[list[Any]] = [["error", False, f"{type(error).__name__}: {error}"]]
    else:
        assert run.result is not None
        checks = [[c.name, c.ok, c.message] for c in run.result.checks]
    finally:
        run.cleanup()
    warmup = parse_duration(base.get("warmup", 0.0), "warmup")
    updates = run.data.updates if run.data is not None and space.keys else []
    writes = tuple(Write(round(u.time - warmup, 6), u.node, u.key) for u in updates)
    return Candidate(seed=base.seed, writes=writes), {"signature": signature(checks), "checks": checks}


def _with_ops(space: HuntSpace, c: Candidate, name: str) -> dict[str, Any]:
    """The plain scenario of ``c`` with each write's mutation spelled out (as the run made it)."""
    data = space.scenario(c, name)
    run = build(Scenario.from_data(data), trace="digest")
    try:
        run.run()
    except Exception:  # noqa: BLE001, S110 - a run that dies made the writes before it died
        pass
    finally:
        run.cleanup()
    if run.data is None or not space.keys:
        return data
    warmup = parse_duration(space.base.get("warmup", 0.0), "warmup")
    made = {(u.node, u.key, round(u.time - warmup, 6)): u.calls for u in run.data.updates}
    for w in data["workload"]["writes"]:
        calls = made.get((w["node"], w["key"], round(w["at"], 6)))
        if calls and len(calls) == 1:
            w["op"], w["args"] = calls[0][0], list(calls[0][1])
    return data


def _first_failure(results: Sequence[dict[str, Any]]) -> int | None:
    return next((i for i, r in enumerate(results) if r["status"] == "failed"), None)


def hunt(scenario: str | Path | Scenario | dict[str, Any], budget: int | float | str = 200, *, seed: int = 0,
         workers: int | None = None, dask: str | None = None, out: str | Path | None = None,
         shrink_budget: int = 800, progress: bool = False,
         on_run: Callable[[int, dict[str, Any]], None] | None = None) -> HuntResult:
    """Search ``scenario``'s space for a schedule that fails a check, and shrink it.

    ``budget`` is a number of runs or a wall-clock duration (``"30s"``) for the search;
    shrinking has its own bound, ``shrink_budget`` runs. ``seed`` seeds the search (the same seed
    proposes the same schedules); ``workers`` processes (0: this process) or the Dask scheduler
    at ``dask`` run them. With ``out``, writes ``minimal.yaml``, ``original.yaml`` and
    ``report.json`` there. Bad input (the scenario, its ``hunt:`` bounds, the budget) raises
    :class:`~sim.errors.SimError` with a one-line message.
    """
    runs_budget, seconds_budget = parse_budget(budget)
    base = _load(scenario)
    space = HuntSpace.of(base)
    build(base).cleanup()  # the scenario itself must build: bad input is reported before any run
    name = base.name
    started = time.perf_counter()
    result = HuntResult(scenario=str(scenario) if not isinstance(scenario, Scenario | dict) else name, seed=seed,
                        found=False, runs=0, seconds=0.0, out=None if out is None else str(out),
                        fixed_faults=len(space.fixed))
    with Runner(workers=workers, dask=dask) as runner:
        failing = _search(space, seed, runner, runs_budget, seconds_budget, started, progress, on_run, result)
        result.seconds = time.perf_counter() - started
        if failing is None:
            return result
        original, original_result = failing
        if space.zone is not None and original.nodes is None:  # say how many nodes, before and after
            original = replace(original, nodes=len(space.node_ids))
        shrink_started = time.perf_counter()
        shrunk = shrink(space, original, original_result, lambda cs: runner.map([space.scenario(c) for c in cs]),
                        budget=shrink_budget, batch=BATCH)
        result.shrink_runs, result.shrink_exhausted = shrunk.runs, shrunk.exhausted
    result.found = True
    result.signature = (shrunk.result["signature"][0], shrunk.result["signature"][1])
    result.checks = shrunk.result["checks"]
    result.message = next(c[2] for c in result.checks if c[0] == result.signature[0])
    result.original, result.minimal = original, shrunk.candidate
    result.original_yaml = to_yaml(space.scenario(original, f"{name}-original"),
                                   f"the first failing schedule crdtsim hunt found in {name}")
    result.minimal_yaml = _minimal_yaml(space, shrunk.candidate, name, result)
    result.shrink_seconds = time.perf_counter() - shrink_started
    if out is not None:
        _write(Path(out), result)
    return result


def _search(space: HuntSpace, seed: int, runner: Runner, runs_budget: int | None, seconds_budget: float | None,
            started: float, progress: bool, on_run: Callable[[int, dict[str, Any]], None] | None,
            result: HuntResult) -> tuple[Candidate, dict[str, Any]] | None:
    """Batches of proposals until one fails or the budget is spent.

    The scenario as written (its own faults only) is the last run of the first batch, not the
    first run of the hunt: a bug that needs a fault is not held up by a run that cannot show
    it, and a scenario that fails without any fault is still found in the first batch, and
    then shrunk from its own schedule (``without_faults``).
    """
    from tqdm import tqdm

    search = Search(space, seed)
    first = True
    with tqdm(total=runs_budget, unit="run", disable=not progress, leave=False) as bar:
        while True:
            if runs_budget is not None and result.runs >= runs_budget:
                result.stopped_by = "budget of runs"
                return None
            if seconds_budget is not None and time.perf_counter() - started >= seconds_budget:
                result.stopped_by = "budget of time"
                return None
            size = BATCH if runs_budget is None else min(BATCH, runs_budget - result.runs)
            batch = search.batch(size - 1 if first else size)
            outcomes = runner.map([space.scenario(c) for c in batch])
            for index, (candidate, outcome) in enumerate(zip(batch, outcomes, strict=True)):
                if on_run is not None:
                    on_run(result.runs + index + 1, outcome)
                if outcome["status"] == "ok":
                    search.learn(candidate, outcome["signals"])
            failed, extra = _first_failure(outcomes), 0
            if first:  # the scenario as written runs last in the first batch
                first = False
                own, extra = _own_failure(space)
                if on_run is not None:
                    on_run(result.runs + len(batch) + 1, {"status": "ok" if own is None else "failed"})
                if own is not None:
                    result.without_faults = True
                    result.runs_to_failure = result.runs + 1 + (len(batch) if failed is None else failed)
                    result.runs += len(batch) + extra
                    return own
            bar.update(len(batch) + extra)
            if failed is not None:
                result.runs_to_failure = result.runs + failed + 1
                result.runs += len(batch) + extra
                return batch[failed], outcomes[failed]
            result.runs += len(batch) + extra
            bar.set_postfix(closest=search.closest())


def _own_failure(space: HuntSpace) -> tuple[tuple[Candidate, dict[str, Any]] | None, int]:
    """The scenario as written, with only its own faults: its schedule and failure if it fails
    (and so does its explicit form, the one shrinking starts from), and the runs this took."""
    realized, outcome = _realized(space)
    if outcome["signature"] is None:
        return None, 1
    explicit = evaluate(space.scenario(realized))
    return (None if explicit["signature"] is None else (realized, explicit)), 2


def _minimal_yaml(space: HuntSpace, c: Candidate, name: str, result: HuntResult) -> str:
    """minimal.yaml: the mutations spelled out if the file still fails the same way, else as shrunk."""
    header = (f"a minimal schedule crdtsim hunt found in {name}: {result.check} fails\n"
              f"({len(c.faults)} faults, {len(c.writes)} writes; replay with: crdtsim run minimal.yaml)")
    wanted = list(result.signature or ())
    for data in (_with_ops(space, c, f"{name}-minimal"), space.scenario(c, f"{name}-minimal")):
        text = to_yaml(data, header)
        replayed = evaluate(Scenario.from_yaml_text(text, "minimal.yaml").data)
        if replayed["signature"] == wanted:
            return text
    raise SimError("the minimal schedule did not fail again when replayed (a determinism bug; please report it)")


def _write(out: Path, result: HuntResult) -> None:
    out.mkdir(parents=True, exist_ok=True)
    assert result.minimal_yaml is not None and result.original_yaml is not None
    (out / "minimal.yaml").write_text(result.minimal_yaml, encoding="utf-8")
    (out / "original.yaml").write_text(result.original_yaml, encoding="utf-8")
    (out / "report.json").write_text(json.dumps(result.summary(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
