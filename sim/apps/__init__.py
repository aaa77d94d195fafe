"""The application model: zones with source and derived state, computations, effects, sessions.

See docs/apps.md. :mod:`sim.apps.spec` describes an app, :mod:`sim.apps.runtime` runs it on a
:class:`~sim.world.World`, :mod:`sim.apps.todo` is the todo app of the sketch.
"""

# computations registered on import: the JavaScript todo computations (challenge 3), the export (challenge 4)
from sim.apps import external, progress  # noqa: F401
from sim.apps.runtime import AppNode, AppRuntime, Effect, EffectTypeError, Event, launch
from sim.apps.session import Session
from sim.apps.spec import (
    AppSpec,
    Channel,
    Computation,
    DependencyCycleError,
    DerivedState,
    Registry,
    SourceState,
    obj,
)

__all__ = [
    "AppNode",
    "AppRuntime",
    "AppSpec",
    "Channel",
    "Computation",
    "DependencyCycleError",
    "DerivedState",
    "Effect",
    "EffectTypeError",
    "Event",
    "Registry",
    "Session",
    "SourceState",
    "launch",
    "obj",
]
