"""Small builders shared by the engine tests."""

from __future__ import annotations

from typing import Any

from sim.network import Message
from sim.world import World


def pair(link: dict[str, Any] | None = None, **world_kw: Any) -> tuple[World, list[Message]]:
    """A world with nodes a and b connected both ways; b records what it receives."""
    world = World(seed=world_kw.pop("seed", 1), **world_kw)
    world.add_node("a", "z")
    world.add_node("b", "z")
    world.connect_zones("z", "z")
    if link is not None:
        world.set_default_link(link)
    got: list[Message] = []
    world.node("b").on_message("m", got.append)
    world.node("a").on_message("m", got.append)
    return world, got
