"""The 3-tier todo app of the app-model sketch: db, server, client.

* ``/db/all_todos`` (LWWMap of objects) is the source of truth, keyed ``"<user>/<n>"``;
  ``/db/sync_todos`` mirrors it to each connected server's ``/server/todos`` and
  ``/db/calculate_user_count`` computes ``/server/user_count``.
* ``/server/filter_todos_for_user`` computes each connected client's ``/client/my_todos`` from
  the session's user: the access rule.
* ``/client/edits`` (LWWMap) takes the user's local mutations; ``/client/push_edits`` writes them
  to ``/db/all_todos`` through the server, which verifies the session and the write guard.
* ``/client/render`` derives ``/client/ui`` locally.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from crdt import GSet, LWWMap, LWWRegister
from crdt.lwwregister import TOMBSTONE
from sim.apps.effects import Effect, Event
from sim.apps.session import Session
from sim.apps.spec import AppSpec, Channel, Computation, DerivedState, Registry, SourceState, obj
from sim.workload import Workload

if TYPE_CHECKING:
    from sim.apps.runtime import AppNode, AppRuntime
    from sim.node import Node

__all__ = ["TODO", "todo_spec", "todo_guards", "add_todo", "todo_workload", "TITLES"]

TODO = Registry("todo")
TITLES = ("milk", "bread", "call mum", "taxes", "gym", "book flights", "water plants", "fix bike")


def _effect(path: str, msg: Any, node: str | None = None) -> Effect:
    return Effect(path, msg, node)


def write(node: AppNode, value: Any) -> Any:
    """An LWW write of ``value`` by ``node`` now (the op form)."""
    return LWWRegister().prepare_set(node.id, value, node.timestamp())


def todos_of(todos: Any, user: str | None) -> tuple[Any, ...]:
    return tuple(v for k, v in sorted(todos.value().items()) if dict(v).get("user") == user)


@TODO.register("calculate_user_count")
def calculate_user_count(node: AppNode, event: Event) -> Effect:
    users = {dict(v).get("user") for v in node.value("all_todos").values()}
    return _effect("/server/user_count", write(node, len(users)), event.node)


@TODO.register("calculate_user_count_as_set")
def calculate_user_count_as_set(node: AppNode, event: Event) -> Effect:
    """Deliberately incompatible: a set operation sent to a register (challenge 5)."""
    return _effect("/server/user_count", GSet().prepare_add(node.id, len(node.value("all_todos"))), event.node)


@TODO.register("sync_todos")
def sync_todos(node: AppNode, event: Event) -> Effect:
    return _effect("/server/todos", node.state("all_todos"), event.node)


@TODO.register("filter_todos_for_user")
def filter_todos_for_user(node: AppNode, event: Event) -> Effect:
    return _effect("/client/my_todos", write(node, todos_of(node.state("todos"), event.user)), event.node)


@TODO.register("filter_todos_broken")
def filter_todos_broken(node: AppNode, event: Event) -> Effect:
    """A broken access rule: everybody's todos to every client (the leak checker catches it)."""
    all_todos = tuple(v for _, v in sorted(node.value("todos").items()))
    return _effect("/client/my_todos", write(node, all_todos), event.node)


@TODO.register("push_edits")
def push_edits(node: AppNode, event: Event) -> Effect:
    return _effect("/db/all_todos", node.state("edits"))


@TODO.register("render")
def render(node: AppNode, event: Event) -> Effect:
    todos = node.value("my_todos") or ()
    done = sum(1 for t in todos if dict(t).get("done"))
    delta = LWWMap().set(node.id, "summary", obj(open=len(todos) - done, done=done), node.timestamp())
    return _effect("/client/ui", delta)


def todo_spec(filter_rule: str = "filter_todos_for_user", user_count: str = "calculate_user_count") -> AppSpec:
    """The todo app; ``filter_rule``/``user_count`` swap in the broken variants."""
    return AppSpec(
        zones={
            "db": {
                "all_todos": SourceState("LWWMap", "object"),
                "calculate_user_count": Computation(user_count),
                "sync_todos": Computation("sync_todos"),
            },
            "server": {
                "todos": DerivedState("LWWMap", "object", "/db/sync_todos", ("/db/all_todos",)),
                "user_count": DerivedState("LWWRegister", "number", "/db/calculate_user_count", ("/db/all_todos",)),
                "filter_todos_for_user": Computation(filter_rule),
            },
            "client": {
                "my_todos": DerivedState("LWWRegister", "array", "/server/filter_todos_for_user", ("/server/todos",)),
                "edits": SourceState("LWWMap", "object"),
                "push_edits": Computation("push_edits", ("/client/edits",), ("/db/all_todos",)),
                "task_input": SourceState("LWWRegister", "string", ""),
                "ui": DerivedState("LWWMap", "object", "/client/render", ("/client/my_todos",)),
                "render": Computation("render"),
            },
        },
        channels=[Channel("server", "client"), Channel("db", "server")],
        registry=TODO,
        name="todo",
    )


@TODO.guard("/db/all_todos")
def own_writes(path: str, msg: Any, session: Session) -> bool:
    """A user may write only todos whose whole key is ``<their user id>/<number>`` and whose
    value (unless a tombstone) names them and that key."""
    if not isinstance(msg, LWWMap):
        return False
    for key, entry in msg.entries.items():  # tombstones included: a delete is a write too
        owner, _, number = str(key).partition("/")
        if owner != session.user or not number.isdigit():
            return False
        value = entry.value()
        if value is not TOMBSTONE and (not isinstance(value, tuple) or dict(value).get("user") != session.user
                                       or dict(value).get("id") != key):
            return False
    return True


def todo_guards() -> dict[str, Any]:
    return dict(TODO.guards)


def add_todo(runtime: AppRuntime, node_id: str, title: str, done: bool = False) -> bool:
    """The user of ``node_id`` adds a todo; recorded as theirs in the runtime's ground truth."""
    node = runtime.node(node_id)
    if not node.node.up:
        return False
    user = node.user
    assert user is not None
    n = sum(1 for k in node.value("edits") if str(k).startswith(f"{user}/")) + 1
    key = f"{user}/{n}"  # numbered from what the node remembers: a node that forgot reuses keys
    if not runtime.inject_local_mutation(node_id, "/client/edits", "set", key,
                                         obj(done=done, id=key, title=title, user=user), node.timestamp()):
        return False
    runtime.record(key, user, title=title)
    return True


def toggle_todo(runtime: AppRuntime, node_id: str, rng: random.Random) -> bool:
    node = runtime.node(node_id)
    edits = node.value("edits")
    if not edits:
        return add_todo(runtime, node_id, rng.choice(TITLES))
    key = rng.choice(sorted(edits))
    item = dict(edits[key])
    item["done"] = not item["done"]
    return runtime.inject_local_mutation(node_id, "/client/edits", "set", key, obj(**item), node.timestamp())


def todo_workload(runtime: AppRuntime, rate: Any, nodes: list[str] | None = None) -> Workload:
    """Clients add todos (70%) and toggle them (30%)."""

    def issue(node: Node, op: str, rng: random.Random) -> None:
        if op == "add":
            add_todo(runtime, node.id, rng.choice(TITLES))
        else:
            toggle_todo(runtime, node.id, rng)

    clients = nodes or [n for z in runtime.spec.user_zones() for n in runtime.zone_nodes(z)]
    return Workload(issue, rate=rate, mix={"add": 0.7, "toggle": 0.3}, nodes=clients, stream="app:todo")
