"""What each bundled scenario exists to show, judged against its run.

An expectation is a small YAML file, ``expectations/<name>.yaml`` (``expectations/hunt/<name>.yaml``
for a hunt target), with these clauses (only ``shows``, ``exit`` and ``checks`` are required):

``shows``
    one sentence: what the scenario demonstrates (from its description).
``exit``
    the exit code ``crdtsim run`` gives: 0 every check held, 1 a check failed.
``checks``
    every check the run reports, by name, with its status (``ok``, ``failed``, ``not checked``)
    or ``{status: ..., says: words}``: words (a string or a list) its message must contain.
``converged_by``
    a bound (``4.5s``): every key converged by then (the time of its last change); with no keys
    (event sourcing, the app model), the run went quiet by then and every replica agreed.
``faults``
    the faults the run applied, counted by kind (``partition``, ``crash``, ``restart``,
    ``lossburst``, ``heal`` …, the final heal of the run included): exactly these, no others.
``within``
    summary figures by dotted path (``dropped.loss``, ``app.counters.effects_rejected``): a
    band ``[low, high]`` (``null`` for no bound on that side) or one exact value.
``ratios``
    ``"a / b"`` of two summary paths within a band (``bytes.by_protocol.delta / bytes.by_protocol.state``).
``trace``
    events of the trace counted by kind, each within a band or exact (runs that keep the full trace).
``facts``
    names of the checks in :data:`FACTS` below, for what a figure cannot say.

:func:`judge` returns what does not hold, one line per problem; an empty list means the run
shows what the scenario is for.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sim.cli import EXIT_CHECK_FAILED, EXIT_OK
from sim.scenario import ScenarioRun
from sim.units import parse_duration

EXPECTATIONS = Path(__file__).parent / "expectations"
CLAUSES = ("shows", "exit", "checks", "converged_by", "faults", "within", "ratios", "trace", "facts")
REQUIRED = ("shows", "exit", "checks")
STATUSES = ("ok", "failed", "not checked")


def path_of(name: str) -> Path:
    return EXPECTATIONS / f"{name}.yaml"


def expectation_names() -> list[str]:
    """Every scenario an expectation file is written for."""
    return sorted(p.relative_to(EXPECTATIONS).with_suffix("").as_posix() for p in EXPECTATIONS.rglob("*.yaml"))


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load(path_of(name).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path_of(name)}: expected a mapping of clauses, found {type(data).__name__}")
    unknown = sorted(set(data) - set(CLAUSES))
    missing = [c for c in REQUIRED if c not in data]
    if unknown or missing:
        raise ValueError(f"{path_of(name)}: expected clauses {list(CLAUSES)} (required {list(REQUIRED)}), "
                         f"found unknown {unknown}, missing {missing}")
    return data


# -- the clauses -----------------------------------------------------------------------------


_MISSING = object()


def lookup(summary: dict[str, Any], dotted: str) -> Any:
    """The summary's value at ``dotted`` (``app.counters.effects_sent``), or :data:`_MISSING`."""
    value: Any = summary
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _fits(value: Any, want: Any) -> bool:
    if isinstance(want, list) and len(want) == 2 and all(w is None or isinstance(w, int | float) for w in want):
        low, high = want
        return (isinstance(value, int | float) and not isinstance(value, bool)
                and (low is None or value >= low) and (high is None or value <= high))
    return bool(value == want)


def _band(want: Any) -> str:
    if isinstance(want, list) and len(want) == 2:
        return f"within [{want[0]}, {want[1]}]"
    return f"{want!r}"


def _checks(expected: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    got = {c["name"]: c for c in summary["checks"]}
    problems = [f"checks: expected {sorted(expected)}, found {sorted(got)}"] if set(got) != set(expected) else []
    for name, want in expected.items():
        check = got.get(name)
        if check is None:
            continue
        spec = want if isinstance(want, dict) else {"status": want}
        if spec["status"] not in STATUSES:
            problems.append(f"checks.{name}: expected a status in {list(STATUSES)}, found {spec['status']!r}")
        elif check["status"] != spec["status"]:
            problems.append(f"checks.{name}: expected {spec['status']}, found {check['status']}: {check['message']}")
        says = spec.get("says", [])
        for words in [says] if isinstance(says, str) else says:
            if words not in check["message"]:
                problems.append(f"checks.{name}: expected the message to say {words!r}, found {check['message']!r}")
    return problems


def _converged_by(bound: Any, summary: dict[str, Any]) -> list[str]:
    limit = parse_duration(bound, "converged_by")
    if not summary["converged"]:
        return [f"converged_by: expected convergence by {limit}s, found a replica that never converged"]
    when = summary["convergence_time"] if summary["keys"] else summary["time"]["quiet"][1]
    if when is None or when > limit:
        return [f"converged_by: expected by {limit}s, found {when}"]
    return []


def fault_counts(summary: dict[str, Any]) -> dict[str, int]:
    """The applied faults by kind: a scheduled fault by its action, a heal or crash by itself."""
    return dict(Counter(f.get("action", f["kind"]) if f["kind"] == "fault" else f["kind"] for f in summary["faults"]))


def _counted(clause: str, expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    return [f"{clause}.{k}: expected {_band(want)}, found {got.get(k, 0)}"
            for k, want in expected.items() if not _fits(got.get(k, 0), want)]


def _within(expected: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    problems = []
    for dotted, want in expected.items():
        value = lookup(summary, dotted)
        if value is _MISSING:
            problems.append(f"within.{dotted}: expected {_band(want)}, found no such figure in the summary")
        elif not _fits(value, want):
            problems.append(f"within.{dotted}: expected {_band(want)}, found {value!r}")
    return problems


def _ratios(expected: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    problems = []
    for expr, want in expected.items():
        top, _, bottom = (part.strip() for part in expr.partition("/"))
        a, b = lookup(summary, top), lookup(summary, bottom)
        if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
            problems.append(f"ratios.{expr}: expected two figures, found {a!r} and {b!r}")
        elif not _fits(a / b, want):
            problems.append(f"ratios.{expr}: expected {_band(want)}, found {a / b:.4f}")
    return problems


def judge(expectation: dict[str, Any], summary: dict[str, Any], trace: dict[str, int] | None = None,
          facts: dict[str, str | None] | None = None) -> list[str]:
    """What of ``expectation`` the run (its summary, trace counts, facts judged) does not show."""
    problems: list[str] = []
    if not str(expectation.get("shows", "")).strip():
        problems.append("shows: expected a sentence saying what the scenario demonstrates, found none")
    code = EXIT_OK if summary["ok"] else EXIT_CHECK_FAILED
    if expectation["exit"] != code:
        failed = [f"{c['name']}: {c['message']}" for c in summary["checks"] if c["status"] == "failed"]
        problems.append(f"exit: expected {expectation['exit']}, found {code} {failed}")
    problems += _checks(expectation["checks"], summary)
    if "converged_by" in expectation:
        problems += _converged_by(expectation["converged_by"], summary)
    if "faults" in expectation:
        got = fault_counts(summary)
        problems += _counted("faults", expectation["faults"], got)
        problems += [f"faults.{k}: expected none, found {n}" for k, n in got.items() if k not in expectation["faults"]]
    problems += _within(expectation.get("within", {}), summary)
    problems += _ratios(expectation.get("ratios", {}), summary)
    if "trace" in expectation:
        if trace is None:
            problems.append("trace: expected a run that keeps the full trace, found a digest-only trace")
        else:
            problems += _counted("trace", expectation["trace"], trace)
    for name in expectation.get("facts", []):
        verdict = (facts or {}).get(name, f"no such fact (one of {sorted(FACTS)})")
        if verdict is not None:
            problems.append(f"facts.{name}: {verdict}")
    return problems


def trace_counts(run: ScenarioRun) -> dict[str, int] | None:
    """Trace events by kind, for a run that kept them all."""
    if run.world.trace.mode != "full":
        return None
    return dict(Counter(e.kind for e in run.world.trace.events))


# -- facts: what a figure cannot say; each returns None when it holds, else what it found ------------


Fact = Callable[[ScenarioRun], "str | None"]
FACTS: dict[str, Fact] = {}


def fact(fn: Fact) -> Fact:
    FACTS[fn.__name__] = fn
    return fn


def _titles(run: ScenarioRun, node: str) -> list[str]:
    return sorted(dict(t)["title"] for t in run.app.node(node).value("my_todos"))


@fact
def re_added_elements_survive_their_removes(run: ScenarioRun) -> str | None:
    """Every element removed and then added again (its last operation an add) is in the final
    cart on every replica, and the workload did remove and re-add at least one."""
    last: dict[str, tuple[float, str]] = {}
    removed: set[str] = set()
    for u in sorted(run.data.updates, key=lambda u: u.time):
        for name, args in u.calls:
            last[args[0]] = (u.time, name)
            if name == "remove":
                removed.add(args[0])
    readded = sorted(e for e in removed if last[e][1] == "add")
    values = {node: run.data.replicator(node).value("cart") for node in run.data.node_ids}
    missing = {node: [e for e in readded if e not in v] for node, v in values.items() if not set(readded) <= v}
    if not readded or missing:
        return f"expected re-added elements in every replica's cart, found re-added {readded}, missing {missing}"
    return None


@fact
def journals_are_sqlite_files_holding_every_event(run: ScenarioRun) -> str | None:
    """Each replica's journal is a SQLite file that holds every event the check counted."""
    (entity,) = run.entities
    check = next(c for c in run.result.checks if c.name == f"eventsourcing:{entity.persistence_id}")
    counts = {}
    for node in entity.replicas:
        path = Path(entity.replica(node).journal_or_fail().path)
        with sqlite3.connect(path) as db:
            counts[node] = db.execute("SELECT count(*) FROM events").fetchone()[0]
    if set(counts.values()) != {check.details["events"]}:
        return f"expected {check.details['events']} events in every journal file, found {counts}"
    return None


@fact
def only_the_minority_fails_and_only_while_cut_off(run: ScenarioRun) -> str | None:
    """Majority requests fail or time out only at dc-1/dc-2, invoked during the partition (1-3 s);
    the majority side's requests in that time succeed."""
    ops = run.history.operations
    bad = [(o.node, o.invoked, o.type) for o in ops if o.type != "ok"
           and (o.node not in ("dc-1", "dc-2") or not 1.0 <= o.invoked < 3.0)]
    during = [o for o in ops if 1.0 <= o.invoked < 3.0 and o.node not in ("dc-1", "dc-2")]
    if bad:
        return f"expected failures only at the minority during the partition, found {bad[:5]}"
    if not during or any(o.type != "ok" for o in during):
        return f"expected the majority's requests during the partition to succeed, found {len(during)} requests"
    return None


@fact
def every_attack_is_counted_and_u3_is_locked_out(run: ScenarioRun) -> str | None:
    """Each attack the scenario lists is counted once per listing; u3's removal locks client-3 out."""
    listed = Counter(next(k for k in a if k not in ("at", "node")) for a in run.scenario.get("app")["attacks"])
    counters = run.app.counters
    wrong = {k: (n, counters.get(f"attacks_{k}", 0)) for k, n in listed.items() if counters.get(f"attacks_{k}") != n}
    if wrong:
        return f"expected each listed attack counted (kind: listed, counted), found {wrong}"
    if "client-3" not in run.app.locked_out or not counters.get("sessions_rejected_removed"):
        return f"expected client-3 locked out after u3's removal, found {run.app.locked_out}"
    return None


@fact
def nothing_is_computed_for_client_2_while_away(run: ScenarioRun) -> str | None:
    """No provider computes for client-2 between its disconnect and its reconnect; afterwards it
    shows its own todos, the one edited offline included."""
    events = run.world.trace.events
    away = next(e.t for e in events if e.kind == "app.disconnect" and e.fields.get("node") == "client-2")
    back = next(e.t for e in events if e.kind == "app.reconnect" and e.fields.get("node") == "client-2")
    runs = [e.t for e in events if e.kind == "app.compute" and e.fields["subscriber"] == "client-2"
            and e.fields["node"] != "client-2" and away < e.t < back]  # its own computations may run
    if runs:
        return f"expected no run for client-2 in ({away}, {back}), found runs at {runs[:5]}"
    if _titles(run, "client-2") != ["milk", "offline edit"]:
        return f"expected client-2 to show ['milk', 'offline edit'], found {_titles(run, 'client-2')}"
    return None


@fact
def client_2_reloads_from_sqlite_and_catches_up(run: ScenarioRun) -> str | None:
    """client-2's restart reloads its states from its SQLite file, then it catches up: the todo
    written just before the crash and the one after the restart both reach it."""
    restart = [r for r in run.app.restarts if r["node"] == "client-2"]
    if len(restart) != 1 or not restart[0]["loaded_states"] or not restart[0]["loaded_bytes"]:
        return f"expected one restart of client-2 that loaded states from SQLite, found {restart}"
    titles = _titles(run, "client-2")
    if not {"milk", "taxes", "call mum", "after restart"} <= set(titles):
        return f"expected client-2 to show its todos from before and after the crash, found {titles}"
    return None


@fact
def values_are_those_of_the_python_computations(run: ScenarioRun) -> str | None:
    """The same scenario with the Python computations ends with the same values everywhere."""
    from sim.scenario import Scenario, run_scenario

    data = dict(run.scenario.data)
    data["app"] = {k: v for k, v in data["app"].items() if k != "variant"}
    python = run_scenario(Scenario.from_data(data))
    js, py = run.app.summary()["values"], python.app.summary()["values"]
    differ = sorted(k for k in set(js) | set(py) if js.get(k) != py.get(k))
    return f"expected the values of the Python run, found differences at {differ}" if differ else None


@fact
def every_rejected_effect_is_traced_with_its_path_and_types(run: ScenarioRun) -> str | None:
    """Each rejected effect is one app.incompatible trace event naming the computation, the path
    and both types, as many as the counter says."""
    traced = [e.fields for e in run.world.trace.events if e.kind == "app.incompatible"]
    if len(traced) != run.app.counters.get("effects_rejected"):
        return f"expected {run.app.counters.get('effects_rejected')} traced rejections, found {len(traced)}"
    wrong = [t for t in traced if t["path"] != "/server/user_count" or "LWWRegister of number" not in t["message"]
             or "GSet" not in t["message"]]
    return f"expected each to name /server/user_count, its type and the GSet sent, found {wrong[:2]}" if wrong else None
