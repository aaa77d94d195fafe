"""Long-running operations with progress updates (challenge 4): "export my todos".

A client asks for an export by bumping its ``/client/export_request`` (a number);
``/client/request_export`` writes the request, through the server's session check and a guard
(a client may request only for itself), to ``/server/export_requests``. The server computation
``/server/export_todos`` then starts one job per new request of a connected subscriber: every
``step`` simulated seconds it sends an ``app.progress`` message (10 %, 20 %, …) and at the end
the final result, the user's todos, which it sends again every ``retry`` seconds until the
client acknowledges it (links lose messages). Messages carry the job id and a **sequence
number**; the client shows (in ``/client/export_progress`` and an ``app.progress`` trace event)
only messages newer than the last one it showed, so progress never goes backwards under
reordering and duplication, and it stores the final result in ``/client/exports`` exactly once.

``export_todos_unsequenced`` is the deliberately broken variant: no sequence numbers, so the
client shows every message as it arrives. The ``app.progress`` check
(:func:`progress_violations`) reads the trace alone and catches it: per job the shown percents
never decrease, exactly one final is shown, it is the last event of the job, and every job a
server started is finished at its client.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from crdt import LWWMap, LWWRegister
from sim.apps.effects import Effect
from sim.apps.spec import AppSpec, Computation, SourceState, obj
from sim.apps.todo import TODO, todo_spec, todos_of
from sim.checks import CheckResult
from sim.trace import canonical_json

if TYPE_CHECKING:
    from sim.apps.effects import Event
    from sim.apps.runtime import AppNode, AppRuntime
    from sim.network import Message
    from sim.trace import TraceEvent
    from sim.world import World

__all__ = ["export_spec", "request_export", "progress_violations", "Progress", "progress_for", "STEPS"]

STEPS = 10
HEADER = 32


def export_spec(export: str = "export_todos") -> AppSpec:
    """The todo app plus the export: ``export`` may be ``export_todos_unsequenced`` (broken)."""
    spec = todo_spec()
    spec.zones["client"].update({
        "export_request": SourceState("LWWRegister", "number", 0),
        "request_export": Computation("request_export", ("/client/export_request",), ("/server/export_requests",)),
        "export_progress": SourceState("LWWRegister", "object"),
        "exports": SourceState("LWWMap", "object"),
    })
    spec.zones["server"].update({
        "export_requests": SourceState("LWWMap", "object"),
        "export_todos": Computation(export, ("/server/export_requests",), ("/client/export_progress",
                                                                           "/client/exports")),
    })
    spec.validate()
    return spec


@TODO.register("request_export")
def _request_export(node: AppNode, event: Event) -> Effect | None:
    n = node.value("export_request")
    if not n:
        return None
    return Effect("/server/export_requests", LWWMap().set(node.id, node.id, obj(n=n), node.timestamp()))


def _export(sequenced: bool) -> Any:
    def export_todos(node: AppNode, event: Event) -> None:
        request = node.value("export_requests").get(event.node)
        if request is None or event.node is None or event.session is None:
            return
        n = dict(request)["n"]
        started = node.node.volatile.setdefault("app.jobs", {})
        if started.get(event.node, 0) >= n:
            return
        started[event.node] = n
        progress_for(node.runtime).start(node, event.node, f"{event.node}/{n}", event.session.user, sequenced)

    return export_todos


TODO.register("export_todos")(_export(sequenced=True))
TODO.register("export_todos_unsequenced")(_export(sequenced=False))


def request_export(runtime: AppRuntime, node_id: str) -> bool:
    """The user of ``node_id`` asks for an export (the next request number); retried until it starts."""
    node = runtime.node(node_id)
    if not node.node.up:
        return False
    n = int(node.value("export_request") or 0) + 1
    progress_for(runtime).requested[node_id] = n
    _ask(runtime, node_id, n)
    return True


def _ask(runtime: AppRuntime, node_id: str, n: int) -> None:
    """Write request ``n`` (again, with a fresh timestamp) until the first progress of job ``n`` shows."""
    p = progress_for(runtime)
    node = runtime.node(node_id)
    if f"{node_id}/{n}" in p.shown.get(node_id, {}) or p.requested.get(node_id) != n:
        return
    if node.node.up:
        runtime.inject_local_mutation(node_id, "/client/export_request", "set", n, node.timestamp())
    runtime.world.schedule(p.retry * 2, lambda: _ask(runtime, node_id, n))


class Progress:
    """The jobs of one runtime: the servers' senders and the clients' receivers."""

    name = "progress"

    def __init__(self, step: float = 0.4, retry: float = 0.5, tries: int = 40) -> None:
        self.step, self.retry, self.tries = step, retry, tries
        self.active: dict[str, bool] = {}  # job -> final acknowledged
        self.requested: dict[str, int] = {}
        self.shown: dict[str, dict[str, int]] = {}  # client -> job -> last sequence number shown
        self.done: dict[str, set[str]] = {}  # client -> jobs whose final result it stored

    def attach(self, runtime: AppRuntime) -> None:
        self.runtime = runtime
        world = runtime.world
        for zone in runtime.spec.user_zones():
            for node_id in runtime.zone_nodes(zone):
                runtime.on_message(node_id, "app.progress", self._on_progress)
        for node_id in runtime.zone_nodes("server"):
            runtime.on_message(node_id, "app.progress.ack", self._on_ack)
        runtime.guards.setdefault("/server/export_requests", _own_request)
        world.add_pending(lambda: any(not acked for acked in self.active.values()))
        world.add_check("app.progress", self.check)

    # -- the server's side ------------------------------------------------------------------

    def start(self, server: AppNode, client: str, job: str, user: str, sequenced: bool) -> None:
        self.active[job] = False
        self.runtime.count("exports_started")
        self.runtime.world.trace.record("app.job", node=server.id, subscriber=client, job=job, what="start")
        for k in range(1, STEPS + 1):
            self.runtime.world.schedule(self.step * k, partial(self._step, server, client, job, user, k, sequenced))

    def _step(self, server: AppNode, client: str, job: str, user: str, k: int, sequenced: bool) -> None:
        if not server.node.up or client not in server.subscribers:
            self.active.pop(job, None)  # the client went away: the job is abandoned
            return
        if k < STEPS:
            self._send(server, client, {"job": job, "seq": k, "percent": 10 * k, "final": False}, sequenced)
            return
        todos = todos_of(server.state("todos"), user)
        result = obj(count=len(todos), todos=todos)
        self._send_final(server, client, {"job": job, "seq": k, "percent": 100, "final": True, "result": result},
                         sequenced, 1)

    def _send(self, server: AppNode, client: str, msg: dict[str, Any], sequenced: bool) -> None:
        if not sequenced:
            msg = {k: v for k, v in msg.items() if k != "seq"}
        self.runtime.count("progress_sent")
        server.node.send(client, "app.progress", msg, HEADER + len(canonical_json(_plain(msg))))

    def _send_final(self, server: AppNode, client: str, msg: dict[str, Any], sequenced: bool, attempt: int) -> None:
        job = msg["job"]
        if self.active.get(job, True) or attempt > self.tries or not server.node.up:
            if job in self.active and not self.active[job]:
                del self.active[job]  # gave up
            return
        self._send(server, client, msg, sequenced)
        self.runtime.world.schedule(self.retry, lambda: self._send_final(server, client, msg, sequenced, attempt + 1))

    def _on_ack(self, msg: Message) -> None:
        if msg.payload in self.active:
            self.active[msg.payload] = True

    # -- the client's side ------------------------------------------------------------------

    def _on_progress(self, msg: Message) -> None:
        p, rt = msg.payload, self.runtime
        node = rt.node(msg.dst)
        job, seq = p["job"], p.get("seq")
        shown = self.shown.setdefault(node.id, {})
        if p["final"]:
            node.node.send(msg.src, "app.progress.ack", job, HEADER + len(job))
        if seq is not None and seq <= shown.get(job, 0):
            rt.count("progress_stale")  # reordered or duplicated: already past it
            return
        shown[job] = seq or 0
        rt.count("progress_shown")
        rt.world.trace.record("app.progress", node=node.id, job=job, number=seq, percent=p["percent"],
                              final=p["final"])
        value = obj(job=job, percent=p["percent"])
        node.apply("/client/export_progress", LWWRegister().set(node.id, value, node.timestamp()),
                   "/server/export_todos", msg.src)
        if p["final"]:
            self.done.setdefault(node.id, set()).add(job)
            node.apply("/client/exports", LWWMap().set(node.id, job, p["result"], node.timestamp()),
                       "/server/export_todos", msg.src)

    def check(self, world: World) -> CheckResult:
        bad = progress_violations(world.trace.events)
        jobs = sum(1 for e in world.trace.events if e.kind == "app.job")
        if not bad and not jobs:
            return CheckResult.not_checked("app.progress", "no export started", {"violations": []})
        message = f"{len(bad)} progress violations" if bad else \
            f"{jobs} exports: progress in order, each final result shown exactly once"
        return CheckResult("app.progress", not bad, message, {"violations": bad[:10]})


def _own_request(path: str, msg: Any, session: Any) -> bool:
    """A client may request exports only for itself (its session's node)."""
    return isinstance(msg, LWWMap) and all(key == session.claim("node") for key in msg.value())


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def progress_violations(events: Iterable[TraceEvent]) -> list[dict[str, Any]]:
    """From the trace: shown progress going backwards, a final shown twice, progress after the
    final, or a started job whose client never saw its final (while it stayed subscribed)."""
    started: dict[str, tuple[str, str]] = {}
    percent: dict[str, int] = {}
    finals: dict[str, int] = {}
    gone: set[str] = set()
    bad: list[dict[str, Any]] = []
    for e in events:
        f = e.fields
        if e.kind == "app.job":
            started[f["job"]] = (f["node"], f["subscriber"])
        elif e.kind == "app.unsubscribe":
            gone.update(j for j, (srv, sub) in started.items() if (srv, sub) == (f["node"], f["subscriber"]))
        elif e.kind == "app.progress":
            job = f["job"]
            if f["percent"] < percent.get(job, 0):
                bad.append({"t": e.t, "job": job, "problem": f"progress went back to {f['percent']} % "
                                                             f"from {percent[job]} %"})
            if finals.get(job):
                bad.append({"t": e.t, "job": job, "problem": "shown after its final result" if not f["final"]
                            else "final result shown again"})
            percent[job] = max(percent.get(job, 0), f["percent"])
            finals[job] = finals.get(job, 0) + bool(f["final"])
    for job in sorted(set(started) - gone):
        if not finals.get(job):
            bad.append({"t": None, "job": job, "problem": "never finished at its client"})
    return bad


def progress_for(runtime: AppRuntime) -> Progress:
    """The runtime's progress extension (attached now if it has none)."""
    return runtime.extension(Progress)


def schedule_exports(runtime: AppRuntime, exports: Sequence[tuple[float, str]]) -> None:
    """Ask for an export on ``node`` at each ``(t, node)``."""
    progress_for(runtime)
    for t, node_id in exports:
        runtime.node(node_id)
        runtime.world.schedule(t, lambda n=node_id: request_export(runtime, n))  # type: ignore[misc]
