"""Computations in another language: an external program speaking JSON lines (challenge 3).

An :class:`External` is a computation function like any other (register it in a
:class:`~sim.apps.spec.Registry`), but the work is done by a program, by default
``node sim/apps/external/todo.js <function>``:

* **one long-lived process per computation per run**, started at the computation's first run
  and stopped when the run ends, after its checks (the ``app.external`` check finds any that
  exited before); a run that raises stops them too, and a finalizer kills any left over when
  the runtime goes away or Python exits;
* **one JSON line each way**: the request ``{"id", "computation", "function", "node", "event":
  {"node", "user", "cause"}, "inputs": {name: value}}`` carries the event and the values of the
  declared ``inputs`` (states of the computer's node: objects as JSON objects, arrays as
  lists, maps as objects); the reply is ``{"id", "effects": [{"path", "op", ...}]}`` with ops
  ``{"op": "set", "value"}`` (an LWW register such as LWWRegister), ``{"op": "set", "key",
  "value"}`` (an LWW map) and ``{"op": "add", "value"}`` (a grow-only set), each optionally
  with ``"node"``, or ``{"id", "error"}``;
* the call is **synchronous** from the simulation's view: simulated time does not move while
  the program works, so wall time never changes a run and the same seed gives the same digest;
* each call has a **budget in simulated seconds** (``budget``, default 50 ms): the call costs
  what the reply says (``"cost"``, simulated seconds of work the program reports) or, without
  one, ``BASE_COST`` plus ``COST_PER_BYTE`` per byte of request and reply; a call over its
  budget fails, the same way on every run and every machine;
* ``timeout`` wall seconds (default 10) is only a safety net for a hung process: a program that
  does not answer at all is reported as hung, never as slow;
* over budget, hung, the program's exit, an error reply or a malformed line raise
  :class:`ExternalComputationError`, which names the computation and the program and stops the
  run (like an incompatible effect in strict mode).

The todo registry gains ``filter_todos_for_user_js`` and ``calculate_user_count_js``:
``todo_spec(filter_rule="filter_todos_for_user_js", user_count="calculate_user_count_js")``.
"""

from __future__ import annotations

import json
import os
import selectors
import shlex
import subprocess
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crdt.codec import canonical_json
from sim.apps.effects import Effect
from sim.apps.spec import is_object, obj
from sim.apps.todo import TODO
from sim.checks import CheckResult
from sim.errors import SimError

if TYPE_CHECKING:
    from sim.apps.effects import Event
    from sim.apps.runtime import AppNode, AppRuntime
    from sim.world import World

__all__ = ["External", "ExternalComputationError", "ExternalPrograms", "SCRIPTS", "to_data", "from_data"]

SCRIPTS = Path(__file__).parent / "external"
DEFAULT_TIMEOUT = 10.0
DEFAULT_BUDGET = 0.05
#: the simulated cost of a call whose reply reports none: a fixed part and one per byte moved
BASE_COST = 0.001
COST_PER_BYTE = 1e-6


class ExternalComputationError(SimError):
    """An external program failed: timed out, exited, replied an error or malformed output."""

    def __init__(self, computation: str, program: str, reason: str) -> None:
        super().__init__(f"external computation {computation} (program {program}) failed: {reason}")
        self.computation, self.program, self.reason = computation, program, reason


def to_data(value: Any) -> Any:
    """An app value as plain JSON: objects -> dicts, arrays and sets -> lists, maps -> dicts."""
    if isinstance(value, tuple):
        if value and is_object(value):
            return {k: to_data(v) for k, v in value}
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, frozenset | set):
        return sorted((to_data(v) for v in value), key=repr)
    return value


def from_data(value: Any) -> Any:
    """Plain JSON as an app value: dicts -> objects (sorted pairs), lists -> arrays (tuples)."""
    if isinstance(value, dict):
        return obj(**{k: from_data(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(from_data(v) for v in value)
    return value


class _Process:
    """One running program; ``call`` writes a line and waits for one line back."""

    def __init__(self, argv: Sequence[str], computation: str, timeout: float) -> None:
        self.argv, self.computation, self.timeout = list(argv), computation, timeout
        self.program = shlex.join(self.argv)
        self.proc: subprocess.Popen[bytes] | None = None
        self.buffer = b""
        self.calls = 0

    def fail(self, reason: str) -> ExternalComputationError:
        return ExternalComputationError(self.computation, self.program, reason)

    def start(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            try:
                self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE)
            except OSError as err:
                raise self.fail(f"could not start: {err}") from None
            assert self.proc.stdout is not None
            os.set_blocking(self.proc.stdout.fileno(), False)
        return self.proc

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        proc = self.start()
        assert proc.stdin is not None and proc.stdout is not None
        self.calls += 1
        try:
            proc.stdin.write(canonical_json(request, ascii=True).encode() + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self.fail(self._exited()) from None
        line = self._readline(proc)
        try:
            reply = json.loads(line)
        except ValueError:
            raise self.fail(f"malformed output {line[:80]!r}") from None
        if not isinstance(reply, dict) or reply.get("id") != request["id"]:
            raise self.fail(f"malformed reply {line[:80]!r} (expected an object with id {request['id']})")
        if "error" in reply:
            raise self.fail(f"error reply: {reply['error']}")
        return reply

    def _readline(self, proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.timeout
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    if time.monotonic() >= deadline:
                        raise self.fail(f"hung: no reply within {self.timeout:g} wall seconds (the safety net "
                                        "for a process that does not answer)")
                    continue
                chunk = proc.stdout.read()
                if chunk == b"":
                    raise self.fail(self._exited())
                self.buffer += chunk or b""
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode(errors="replace")

    def _exited(self) -> str:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return "closed its output"
        err = self.proc.stderr.read().decode(errors="replace").strip() if self.proc.stderr else ""
        return f"exited with status {code}" + (f": {err[-200:]}" if err else "")

    def close(self) -> None:
        _stop(self.proc)
        self.proc = None


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=1.0)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()


def _stop_all(procs: dict[str, _Process]) -> None:
    for p in procs.values():
        p.close()


class ExternalPrograms:
    """The extension holding a runtime's external processes (one per computation path).

    The programs are stopped when the run ends, after its checks (``World.at_end``): the
    ``app.convergence`` check runs the computations once more, through the same programs.
    """

    name = "external"

    def __init__(self) -> None:
        self.procs: dict[str, _Process] = {}

    def attach(self, runtime: AppRuntime) -> None:
        self.finalizer = weakref.finalize(runtime, _stop_all, self.procs)
        runtime.world.add_check("app.external", self.check)
        runtime.world.at_end(self.close)

    def get(self, comp: str, argv: Sequence[str], timeout: float) -> _Process:
        if comp not in self.procs:
            self.procs[comp] = _Process(argv, comp, timeout)
        return self.procs[comp]

    def close(self) -> None:
        _stop_all(self.procs)

    def check(self, world: World) -> CheckResult:
        """Every program that served a computation is still running when the checks run.

        A program that exited between calls (a crash after its last answer, which no call saw)
        fails the check; with no computation run externally it is not checked. It stops
        nothing: the run does that once its checks are done.
        """
        calls = {c: p.calls for c, p in sorted(self.procs.items())}
        started = {c: p for c, p in sorted(self.procs.items()) if p.proc is not None}
        if not started:
            return CheckResult.not_checked("app.external", "no computation ran in an external program",
                                           {"calls": calls})
        gone = {c: p.proc.poll() for c, p in started.items() if p.proc is not None and p.proc.poll() is not None}
        details = {"calls": calls, "exited": gone}
        if gone:
            return CheckResult("app.external", False, "external programs exited during the run: " + ", ".join(
                f"{c} (status {code})" for c, code in gone.items()), details)
        return CheckResult("app.external", True, f"{sum(calls.values())} calls to {len(started)} external programs, "
                           "each one process alive to the end", details)


def pool_for(runtime: AppRuntime) -> ExternalPrograms:
    """The runtime's external programs (the extension is attached now if it was not declared)."""
    return runtime.extension(ExternalPrograms)


class External:
    """A computation done by ``argv`` (default ``node <script> <function>``) over JSON lines.

    ``inputs`` names the states of the computer's node sent with each request.
    """

    def __init__(self, function: str, inputs: Sequence[str] = (), script: str | Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT, argv: Sequence[str] | None = None,
                 budget: float = DEFAULT_BUDGET) -> None:
        self.function, self.inputs, self.timeout, self.budget = function, tuple(inputs), timeout, budget
        self.argv = list(argv) if argv is not None else ["node", str(script or SCRIPTS / "todo.js"), function]

    def path_on(self, node: AppNode) -> str:
        """The path of the computation this function runs as on ``node``."""
        for name in sorted(node.spec.computations(node.zone)):
            path = f"/{node.zone}/{name}"
            if node.runtime.function(path) is self:
                return path
        raise SimError(f"external function {self.function} is no computation of zone {node.zone}")

    def __call__(self, node: AppNode, event: Event) -> list[Effect]:
        comp = self.path_on(node)
        pool = pool_for(node.runtime)
        proc = pool.get(comp, self.argv, self.timeout)
        request = {"id": proc.calls + 1, "computation": comp, "function": self.function, "node": node.id,
                   "event": {"node": event.node, "user": event.user, "cause": event.cause},
                   "inputs": {name: to_data(node.value(name)) for name in self.inputs}}
        try:
            reply = proc.call(request)
            self._charge(node, comp, request, reply, proc)
            return [self._effect(node, event, e, proc) for e in _effects(reply, proc)]
        except ExternalComputationError:
            pool.close()
            raise

    def _charge(self, node: AppNode, comp: str, request: dict[str, Any], reply: dict[str, Any],
                proc: _Process) -> None:
        """Enforce the call's simulated budget (deterministic: no wall time involved)."""
        cost = reply.get("cost")
        if cost is None:
            moved = len(json.dumps(request, sort_keys=True)) + len(json.dumps(reply, sort_keys=True))
            cost = BASE_COST + COST_PER_BYTE * moved
        if not isinstance(cost, int | float) or isinstance(cost, bool) or not cost >= 0:
            raise proc.fail(f"malformed cost {cost!r:.40} (simulated seconds)")
        node.runtime.count("external_cost_us", round(cost * 1e6))
        if cost > self.budget:
            raise proc.fail(f"took {cost:g} simulated seconds, over its budget of {self.budget:g}")

    def _effect(self, node: AppNode, event: Event, e: Any, proc: _Process) -> Effect:
        if not isinstance(e, dict) or not isinstance(e.get("path"), str):
            raise proc.fail(f"malformed effect {e!r:.80}")
        try:
            state = node.spec.state(e["path"])
        except SimError:
            raise proc.fail(f"effect to unknown path {e['path']!r}") from None
        op, value, ts, empty = e.get("op"), from_data(e.get("value")), node.timestamp(), state.type()()
        msg: Any
        # by the kind of the state's type (crdt.registry.KINDS), as the reply format above says
        if empty.kind == "lww register" and op == "set":
            msg = empty.prepare("set", node.id, value, ts)
        elif empty.kind == "lww map" and op == "set" and "key" in e:
            msg = empty.mutate("set", node.id, from_data(e["key"]), value, ts)
        elif empty.kind == "grow-only set" and op == "add":
            msg = empty.prepare("add", node.id, value)
        else:
            raise proc.fail(f"unsupported op {op!r} for {e['path']} (a {state.crdt})")
        return Effect(e["path"], msg, e.get("node", event.node))


def _effects(reply: dict[str, Any], proc: _Process) -> list[Any]:
    effects = reply.get("effects")
    if not isinstance(effects, list):
        raise proc.fail(f"malformed reply: effects must be a list, found {effects!r:.80}")
    return effects


TODO.register("filter_todos_for_user_js")(External("filter_todos_for_user", inputs=("todos",)))
TODO.register("calculate_user_count_js")(External("calculate_user_count", inputs=("all_todos",)))
