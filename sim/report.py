"""What a finished scenario run says: a JSON-ready summary and a text table.

The summary is data (the golden tests compare it): :func:`summarize` assembles it, and
``ScenarioRun.summary()`` calls it; :func:`render` turns a summary, possibly read back from
``summary.json``, into the table the CLI prints (``ScenarioRun.render()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sim.deprecation import renamed

if TYPE_CHECKING:
    from sim.scenario.build import ScenarioRun

__all__ = ["applied_faults", "describe_fault", "lost_write_lines", "protocol_of", "render", "summarize", "summary",
           "who_holds_what"]


def protocol_of(kind: str) -> str:
    """The protocol a message kind belongs to: its prefix, ``delta.sync`` -> ``delta``."""
    return kind.split(".", 1)[0]


def _by_protocol(per_kind: dict[str, dict[str, int]]) -> tuple[dict[str, int], dict[str, int]]:
    messages: dict[str, int] = {}
    volume: dict[str, int] = {}
    for kind, counters in sorted(per_kind.items()):
        protocol = protocol_of(kind)
        messages[protocol] = messages.get(protocol, 0) + counters["sent"]
        volume[protocol] = volume.get(protocol, 0) + counters["bytes_sent"]
    return messages, volume


def applied_faults(run: ScenarioRun) -> list[dict[str, Any]]:
    """Every fault event the run applied, in order, with where it came from.

    ``origin`` is ``scenario`` for a fault the scenario lists, ``nemesis`` for one its nemesis
    drew, ``run`` for the heal and restarts at the end of the workload phase, ``manual`` for one
    applied with ``world.apply``.
    """
    schedule = run.world.faults.faults
    drawn = {id(f) for f in run.nemesis}
    out: list[dict[str, Any]] = []
    previous: dict[str, Any] = {}
    for event in run.world.fault_log:
        # A scheduled crash, restart or heal is logged as the fault and then as the act itself.
        repeated = (previous.get("kind") == "fault" and previous.get("action") == event["kind"]
                    and previous.get("node") == event.get("node") and previous["t"] == event["t"])
        previous = event
        if not repeated:
            out.append({**event, "origin": _origin(str(event.get("label", "")), schedule, drawn)})
    return out


def _origin(label: str, schedule: Sequence[Any], drawn: set[int]) -> str:
    """Where a fault event came from, by its label: ``fault-N`` is the schedule's N-th fault."""
    number = label.removeprefix("fault-")
    if label.startswith("fault-") and number.isdigit() and int(number) < len(schedule):
        return "nemesis" if id(schedule[int(number)]) in drawn else "scenario"
    return "run" if label in ("", "all") else "manual"


def summary(run: ScenarioRun) -> dict[str, Any]:
    """Deprecated: use ``run.summary()`` (:meth:`~sim.scenario.build.ScenarioRun.summary`)."""
    renamed("sim.report.summary(run)", "run.summary()")
    return summarize(run)


def summarize(run: ScenarioRun) -> dict[str, Any]:
    """The machine-readable summary of a finished run (``crdtsim run --json``, ``run.summary()``)."""
    result = run.result
    if result is None:
        raise ValueError("the scenario has not run yet")
    checks = {c.name: c for c in result.checks}
    metrics = result.metrics
    messages, volume = _by_protocol(metrics["per_kind"])
    keys: dict[str, Any] = {}
    if run.data is not None and "convergence" in checks:
        for key, report in checks["convergence"].details["keys"].items():
            spec = run.data.keys[key]
            keys[key] = {"type": spec.type.type_name, "protocol": spec.protocol, "converged": report["converged"],
                         "time": report.get("time"), "value": report.get("value")}
            if not report["converged"]:  # who holds what, and what differs
                keys[key].update(states=report["replicas"], difference=report["difference"])
    times = [k["time"] for k in keys.values() if k["time"] is not None]
    invariants = checks.get("invariants")
    app = {"app": run.app.summary()} if getattr(run, "app", None) is not None else {}
    return {
        **app,
        "scenario": run.scenario.name,
        "seed": result.seed,
        "ok": result.ok,
        "quiesced": result.quiesced,
        "converged": all(c.ok for n, c in checks.items() if n == "convergence" or n.startswith("eventsourcing")),
        "convergence_time": max(times) if times else None,
        "keys": keys,
        "ticks": result.ticks,
        "time": {phase: [round(a, 9), round(b, 9)] for phase, (a, b) in result.phases.items()},
        "messages": {"total": metrics["sent"], "by_protocol": messages},
        "bytes": {"total": metrics["bytes_sent"], "by_protocol": volume},
        "requests": dict(sorted(run.data.requests.items())) if run.data is not None else {},
        "dropped": metrics["dropped"],
        "duplicated": metrics["duplicated"],
        "invariants": None if invariants is None else {
            "ok": invariants.ok, "checked": invariants.details["checked"],
            "violations": invariants.details["violations"], "lost_writes": invariants.details.get("lost_writes", {}),
        },
        "history": run.world.history.summary(),
        "faults": applied_faults(run),
        "checks": [{"name": c.name, "ok": c.ok, "status": c.status, "message": c.message} for c in result.checks],
        "trace_digest": result.trace_digest,
    }


#: how the table marks a check's status
_STATUS_LABEL = {"ok": "ok", "failed": "FAIL", "not checked": "not checked"}

#: the text summary names at most this many lost writes (``--json`` has them all)
MAX_LOST_LINES = 10


def _time(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def describe_fault(event: dict[str, Any]) -> str:
    """One fault event in words: ``partition dc-1 dc-2 | dc-3 for 3s``."""
    kind = event["kind"]
    if kind in ("crash", "restart"):
        return f"{kind} {event['node']}"
    if kind == "heal":
        return "heal everything" if event.get("label") == "all" else f"heal {event.get('label')}"
    action = event.get("action", kind)
    if action in ("crash", "restart"):
        return f"{action} {event['node']}"
    if action == "heal":
        return "heal everything"
    span = f" for {event['duration']:g}s" if event.get("duration") is not None else ""
    if action == "partition":
        return "partition " + " | ".join(" ".join(g) for g in event["groups"]) + span
    if action == "oneway":
        return f"one-way cut {' '.join(event['srcs'])} -> {' '.join(event['dsts'])}{span}"
    if action == "isolate":
        return f"isolate {event['node']}{span}"
    if action == "lossburst":
        return f"loss burst {event['src']} -> {event['dst']} at {event['loss']:.0%}{span}"
    if action == "clockchange":
        parts = [f"skew {event['skew']:+.3f}s" if event.get("skew") is not None else "",
                 f"drift {event['drift']:+.4f}" if event.get("drift") is not None else ""]
        return f"clock of {event['node']}: " + ", ".join(p for p in parts if p)
    return str(action)


def _history_lines(history: dict[str, Any]) -> list[str]:
    lines = [f"{'requests':<18} {'count':>7} {'ok':>7} {'fail':>6} {'info':>6}   latency ms: "
             f"{'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"]
    for name, h in history.items():
        q = h["latency_ms"] or {}
        cells = " ".join(f"{q[p]:>7.1f}" if p in q else f"{'-':>7}" for p in ("p50", "p95", "p99", "max"))
        lines.append(f"{name:<18} {h['count']:>7,} {h['ok']:>7,} {h['fail']:>6,} {h['info']:>6,}               {cells}")
    return lines


def lost_write_lines(s: dict[str, Any]) -> list[str]:
    """Each write a failed invariant found lost, by request id, operation, node and time.

    Kept out of the check's message, whose wording stays the same however many writes are lost
    (a hunt compares failures by it)."""
    lines = []
    for key, writes in ((s.get("invariants") or {}).get("lost_writes") or {}).items():
        for w in writes:
            lines.append(f"{key}: lost request {w['request']} ({w['f']} {w['args']}) at {w['node']}, "
                         f"t={w['time']:.3f}s" + (f", {w['how']}" if "how" in w else ""))
    return lines


def who_holds_what(key: str, k: dict[str, Any]) -> list[str]:
    """A diverged key in words: each distinct state, its replicas, and what differs."""
    lines = [f"{key} diverged: {len(k['states'])} distinct states"]
    for state in k["states"]:
        lines.append(f"  {', '.join(state['nodes'])}: {state['value']}")
    lines += [f"  differs: {line}" for line in k["difference"]["lines"]]
    return lines


def render(s: dict[str, Any]) -> str:
    """The summary as the table ``crdtsim run`` prints."""
    lines = [f"scenario {s['scenario']}  seed {s['seed']}  {'OK' if s['ok'] else 'FAILED'}", ""]
    if s["keys"]:
        lines.append(f"{'key':<16} {'type':<14} {'protocol':<9} {'converged':<10} {'at':>9}")
        for key, k in s["keys"].items():
            lines.append(f"{key:<16} {k['type']:<14} {k['protocol']:<9} {'yes' if k['converged'] else 'NO':<10} "
                         f"{_time(k['time']):>9}")
        lines.append("")
        for key, k in s["keys"].items():
            if not k["converged"]:
                lines += who_holds_what(key, k) + [""]
    lost = lost_write_lines(s)
    if lost:
        lines += lost[:MAX_LOST_LINES] + ([f"… and {len(lost) - MAX_LOST_LINES} more lost writes (see --json)"]
                                          if len(lost) > MAX_LOST_LINES else []) + [""]
    workload, quiet = s["time"].get("workload", [0, 0]), s["time"].get("quiet", [0, 0])
    lines.append(f"ticks {s['ticks']}   workload {workload[0]:.2f}-{workload[1]:.2f}s   quiet until {quiet[1]:.2f}s   "
                 f"converged by {_time(s['convergence_time'])}")
    lines.append("")
    lines.append(f"{'protocol':<10} {'messages':>10} {'bytes':>14}")
    for protocol, count in s["messages"]["by_protocol"].items():
        lines.append(f"{protocol:<10} {count:>10,} {s['bytes']['by_protocol'][protocol]:>14,}")
    lines.append(f"{'total':<10} {s['messages']['total']:>10,} {s['bytes']['total']:>14,}")
    dropped = ", ".join(f"{cause} {n:,}" for cause, n in s["dropped"].items()) or "none"
    lines.append(f"dropped: {dropped}; duplicated {s['duplicated']:,}")
    if s["requests"]:
        lines.append("requests: " + ", ".join(f"{name.replace('_', ' ')} {n:,}" for name, n in s["requests"].items()))
    if "app" in s:
        runs = sum(s["app"]["computations"].values())
        lines.append(f"app: {runs:,} computation runs; " + ", ".join(
            f"{name.replace('_', ' ')} {n:,}" for name, n in s["app"]["counters"].items()))
        if "replicas" in s["app"]:
            r = s["app"]["replicas"]
            lines.append(f"replicas: {sum(r['reads'].values()):,} reads, {r['stale_reads']:,} stale (max "
                         f"{r['staleness']['max_missing_writes']} writes, {r['staleness']['max_seconds']:.3f}s behind)")
    if s.get("history"):
        lines += [""] + _history_lines(s["history"])
    if s.get("faults"):
        lines += ["", f"faults applied ({len(s['faults'])}):"]
        lines += [f"  {f['t']:>8.3f}s  {describe_fault(f)}  [{f['origin']}]" for f in s["faults"]]
    if s.get("files"):
        lines += ["", "files: " + ", ".join(s["files"])]
    lines.append("")
    for check in s["checks"]:
        lines.append(f"[{_STATUS_LABEL[check.get('status', 'ok' if check['ok'] else 'failed')]}] "
                     f"{check['name']}: {check['message']}")
    lines.append(f"trace digest {s['trace_digest']}")
    return "\n".join(lines)
