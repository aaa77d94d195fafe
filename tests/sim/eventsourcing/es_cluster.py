"""Shared helpers of the event-sourcing tests: examples loader and a small cluster builder."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from sim.eventsourcing import Behavior, JournalProvider, ReplicatedEntity
from sim.runloop import RunResult
from sim.world import World

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "eventsourcing"

COUNTER = Behavior(0, lambda s, n: [{"inc": n}], lambda s, e, ctx: s + e["inc"])


def load_example(name: str) -> ModuleType:
    """Import ``examples/eventsourcing/<name>.py`` as a module."""
    key = f"es_example_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def cluster(seed: int = 1, behavior: Behavior = COUNTER, n: int = 3, journals: JournalProvider | None = None,
            link: dict[str, Any] | None = None, **options: Any) -> tuple[World, ReplicatedEntity]:
    world = World(seed=seed, tick="100ms", default_link=link or {"latency": "20ms"})
    nodes = world.add_nodes("dc", n)
    world.connect(nodes, "complete")
    return world, ReplicatedEntity(world, nodes, "e-1", behavior, journals=journals, **options)


def failures(result: RunResult) -> list[str]:
    return [c.message for c in result.checks if not c.ok]
