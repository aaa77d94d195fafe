"""What a finished scenario run says: a JSON-ready summary and a text table.

The summary is data (the golden tests compare it); :func:`render` turns it into the table the
CLI prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.scenario.build import ScenarioRun

__all__ = ["summary", "render", "protocol_of"]

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


def summary(run: ScenarioRun) -> dict[str, Any]:
    """The machine-readable summary of a finished run (``crdtsim run --json``)."""
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
            "violations": invariants.details["violations"],
        },
        "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in result.checks],
        "trace_digest": result.trace_digest,
    }


def _time(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def render(s: dict[str, Any]) -> str:
    """The summary as the table ``crdtsim run`` prints."""
    lines = [f"scenario {s['scenario']}  seed {s['seed']}  {'OK' if s['ok'] else 'FAILED'}", ""]
    if s["keys"]:
        lines.append(f"{'key':<16} {'type':<14} {'protocol':<9} {'converged':<10} {'at':>9}")
        for key, k in s["keys"].items():
            lines.append(f"{key:<16} {k['type']:<14} {k['protocol']:<9} {'yes' if k['converged'] else 'NO':<10} "
                         f"{_time(k['time']):>9}")
        lines.append("")
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
    lines.append("")
    for check in s["checks"]:
        lines.append(f"[{'ok' if check['ok'] else 'FAIL'}] {check['name']}: {check['message']}")
    lines.append(f"trace digest {s['trace_digest']}")
    return "\n".join(lines)
