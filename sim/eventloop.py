"""The loop that processes a world's events: SimPy's ``Environment.run`` with ``step`` inlined.

SimPy runs a simulation by calling ``Environment.step`` once per event. That call is a fifth
of a message's cost on the engine's path (a frame per event, on top of the delivery's own), so
a world runs its events here instead (through :meth:`sim.network.Network.run_events`, this
loop with the network's zone deliveries written in): the same heap, popped in the same order,
each event's callbacks called as ``step`` calls them, the same failure for an event that failed
and was not defused. ``until`` is an event scheduled with SimPy's own key for it (``URGENT`` at
the requested time), so an event at exactly ``until`` runs in the next call, as with SimPy.
(The stop is that event's identity, not SimPy's ``StopSimulation``, which no world's callback
raises.)

This reads SimPy internals (``env._queue``, ``env._now``), like the network's delivery fast
path: the SimPy version is pinned in pyproject.toml, and ``INLINE_LOOP = False`` runs every
event through ``Environment.run`` instead (tests/sim/test_eventloop.py compares the two event by
event).

>>> import simpy
>>> env = simpy.Environment()
>>> seen = []
>>> for t in (0.3, 0.1, 0.2):
...     env.timeout(t).callbacks.append(lambda event, t=t: seen.append((env.now, t)))
>>> run(env, until=0.25)
>>> seen
[(0.1, 0.1), (0.2, 0.2)]
>>> env.now
0.25
>>> run(env)
>>> seen[-1], env.now
((0.3, 0.3), 0.3)
"""

from __future__ import annotations

from heapq import heappop

import simpy
from simpy.events import URGENT, Event

__all__ = ["INLINE_LOOP", "ran_out", "raise_failure", "run", "until_event"]

#: False: every event through SimPy's public ``Environment.run`` (read at each call)
INLINE_LOOP = True


def run(env: simpy.Environment, until: float | None = None) -> None:
    """Process ``env``'s events until the clock reaches ``until`` (or, with None, until no
    event is left), as ``env.run(until)`` does."""
    if not INLINE_LOOP:
        env.run(until=until)
        return
    stop = until_event(env, until)
    queue = env._queue
    pop = heappop
    while queue:
        env._now, _, _, event = pop(queue)
        if event is stop:
            return
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            raise_failure(event)
    ran_out(stop)


def until_event(env: simpy.Environment, until: float | None) -> Event | None:
    """The event a loop stops at (None: run until no event is left), scheduled with the key
    SimPy's ``run`` gives its until event; ValueError when ``until`` is not in the future."""
    if until is None:
        return None
    at = until if isinstance(until, int) else float(until)
    if at <= env._now:
        raise ValueError(f"until ({at}) must be greater than the current simulation time")
    stop = Event(env)
    stop._ok = True
    stop._value = None
    env.schedule(stop, URGENT, at - env._now)
    return stop


def raise_failure(event: Event) -> None:
    """As ``Environment.step``: a failed event nobody defused crashes the run (a copy of its
    error, caused by the error itself)."""
    failure = event._value
    error = type(failure)(*failure.args)
    error.__cause__ = failure
    raise error


def ran_out(stop: Event | None) -> None:
    """What a loop does when no event is left: with an ``until`` not reached, SimPy's error."""
    if stop is not None:
        raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {stop}')
