"""Pictures of a finished run: divergence over time, traffic, a space-time diagram, latencies.

Every function takes a finished :class:`~sim.scenario.ScenarioRun` built with the full trace
(``run_scenario(scenario, trace="full")``) and returns a :class:`matplotlib.figure.Figure`;
pass ``ax=`` to draw into axes of your own. Figures are made without ``pyplot``, so nothing
is shown or kept open behind your back and no display is needed: save them with
``fig.savefig(path)``, or return them from a notebook cell (after ``%matplotlib inline``).

:func:`write_all` gives the files ``crdtsim run --plots --out DIR`` writes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib import rc_context
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from sim.history import quantile
from sim.replication.values import fingerprint
from sim.report import protocol_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.scenario.build import ScenarioRun
    from sim.trace import TraceEvent

__all__ = [
    "AGGREGATE_ABOVE",
    "Window",
    "default_window",
    "distinct_states",
    "fault_timeline",
    "fault_windows",
    "figures",
    "first_divergence",
    "latency_histogram",
    "requests",
    "spacetime",
    "svg",
    "traffic",
    "write_all",
]

#: the size of every figure, in inches: a notebook's width
FIGSIZE = (8.0, 4.0)
DPI = 100
TIME_LABEL = "simulated time (s)"

PARTITION_COLOUR = "tab:orange"
DOWN_COLOUR = "tab:red"
DROP_COLOUR = "red"
LOSS_COLOUR = "tab:purple"
CLOCK_COLOUR = "tab:brown"
# Partitions, one-way cuts and isolations all cut links until healed: the fault's action (its
# class name, lower case) -> the window's kind.
_CUTS = {"partition": "partition", "oneway": "one_way", "isolate": "isolate"}


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of simulated time when a fault held.

    ``kind`` is ``partition``, ``one_way`` or ``isolate`` (links cut), ``loss_burst``, ``down``
    (a node crashed until its restart) or ``clock`` (an instant: a clock was set).
    """

    kind: str
    start: float
    end: float
    #: the cut's label, the node that was down, the link of a burst, the clock change
    what: str


# -- reading the run ----------------------------------------------------------------------


def _events(run: ScenarioRun) -> list[TraceEvent]:
    trace = run.world.trace
    if trace.mode != "full":
        raise ValueError(f"plots read the trace, but this run's trace mode is {trace.mode!r}: "
                         "build it with trace='full' (run_scenario(scenario, trace='full'))")
    if run.result is None:
        raise ValueError("the scenario has not run yet: call run.run() (or use run_scenario) first")
    return trace.events


def _end(run: ScenarioRun) -> float:
    return float(run.world.now)


def fault_windows(run: ScenarioRun) -> list[Window]:
    """The faults the run applied, as stretches of time, in start order (see :class:`Window`).

    Read from the world's fault log, so they need no full trace. A cut lasts until its own
    heal or a heal of everything; a node is down from its crash to its restart; a loss burst
    lasts its duration (or until a heal of everything); a clock change is an instant. What is
    still open at the end of the run ends there.
    """
    if run.result is None:
        raise ValueError("the scenario has not run yet: call run.run() (or use run_scenario) first")
    open_cuts: dict[str, tuple[float, str, str]] = {}
    bursts: dict[str, tuple[float, float, str]] = {}
    down: dict[str, float] = {}
    out: list[Window] = []
    for e in run.world.fault_log:
        t, action = float(e["t"]), e.get("action")
        if e["kind"] == "fault" and action in _CUTS:
            open_cuts.setdefault(str(e["label"]), (t, _CUTS[str(action)], str(e["label"])))
        elif e["kind"] == "fault" and action == "lossburst":
            bursts[str(e["label"])] = (t, t + float(e["duration"]), f"{e['src']}->{e['dst']}")
        elif e["kind"] == "fault" and action == "clockchange":
            parts = [f"skew {e['skew']:+.2f}s" if e.get("skew") is not None else "",
                     f"drift {e['drift']:+.3f}" if e.get("drift") is not None else ""]
            out.append(Window("clock", t, t, f"{e['node']} " + ", ".join(p for p in parts if p)))
        elif e["kind"] == "heal":
            everything = e.get("label") == "all"
            for label in list(open_cuts) if everything else [str(e.get("label"))]:
                if label in open_cuts:
                    start, kind, what = open_cuts.pop(label)
                    out.append(Window(kind, start, t, what))
            if everything:
                for label, (start, stop, what) in list(bursts.items()):
                    out.append(Window("loss_burst", start, min(stop, t), what))
                    del bursts[label]
        elif e["kind"] == "crash":
            down.setdefault(str(e["node"]), t)
        elif e["kind"] == "restart" and str(e["node"]) in down:
            node = str(e["node"])
            out.append(Window("down", down.pop(node), t, node))
    end = _end(run)
    out.extend(Window(kind, t, end, what) for t, kind, what in open_cuts.values())
    out.extend(Window("loss_burst", t, min(stop, end), what) for t, stop, what in bursts.values())
    out.extend(Window("down", t, end, node) for node, t in down.items())
    return sorted(out, key=lambda w: (w.start, w.kind, w.what))


#: how each kind of fault window is drawn: (label, colour, hatch)
_STYLES: dict[str, tuple[str, str, str | None]] = {
    "partition": ("partition", PARTITION_COLOUR, None),
    "isolate": ("isolated node", PARTITION_COLOUR, ".."),
    "one_way": ("one-way cut", PARTITION_COLOUR, "\\\\"),
    "loss_burst": ("loss burst", LOSS_COLOUR, None),
}


def _shade(ax: Axes, windows: Sequence[Window], label_nodes: bool = True) -> list[Any]:
    """Draw fault windows on ``ax``; returns legend handles for the kinds present."""
    handles: list[Any] = []
    kinds = {w.kind for w in windows}
    for w in windows:
        if w.kind in _STYLES:
            _, colour, hatch = _STYLES[w.kind]
            if hatch is None:
                ax.axvspan(w.start, w.end, color=colour, alpha=0.15, lw=0, zorder=0)
            else:
                ax.axvspan(w.start, w.end, facecolor="none", edgecolor=colour, alpha=0.6, hatch=hatch, lw=0,
                           zorder=0)
        elif w.kind == "clock":
            ax.axvline(w.start, color=CLOCK_COLOUR, lw=1, ls="-.", zorder=1)
            if label_nodes:
                ax.text(w.start, 0.98, f" clock {w.what}", transform=ax.get_xaxis_transform(), ha="left",
                        va="top", fontsize=7, color=CLOCK_COLOUR, rotation=90)
        else:
            ax.axvspan(w.start, w.end, facecolor="none", edgecolor=DOWN_COLOUR, alpha=0.5, hatch="//", lw=0,
                       zorder=0)
            if label_nodes:
                ax.text((w.start + w.end) / 2, 0.02, f"{w.what} down", transform=ax.get_xaxis_transform(),
                        ha="center", va="bottom", fontsize=8, color=DOWN_COLOUR,
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    for kind, (label, colour, hatch) in _STYLES.items():
        if kind in kinds:
            handles.append(Patch(color=colour, alpha=0.3, label=label) if hatch is None else
                           Patch(facecolor="none", edgecolor=colour, hatch=hatch, alpha=0.6, label=label))
    if "down" in kinds:
        handles.append(Patch(facecolor="none", edgecolor=DOWN_COLOUR, hatch="//", alpha=0.5, label="node down"))
    if "clock" in kinds:
        handles.append(Line2D([], [], color=CLOCK_COLOUR, lw=1, ls="-.", label="clock change"))
    return handles


def _mark_quiet(ax: Axes, run: ScenarioRun) -> list[Any]:
    """A dotted line where the workload stops and the quiet phase begins."""
    assert run.result is not None
    quiet = run.result.phases.get("quiet")
    if quiet is None:
        return []
    ax.axvline(quiet[0], color="grey", ls=":", lw=1, zorder=1)
    return [Line2D([], [], color="grey", ls=":", lw=1, label="workload ends")]


def _top_legend(ax: Axes, handles: list[Any]) -> None:
    """One row of legend entries along the top of the axes (the plots leave headroom there)."""
    ax.legend(handles=handles, loc="upper center", ncol=max(1, len(handles)), fontsize=8, framealpha=0.9,
              handlelength=1.5, columnspacing=1.2)


def _axes(ax: Axes | None, figsize: tuple[float, float] = FIGSIZE) -> tuple[Figure, Axes]:
    if ax is not None:
        figure = ax.get_figure()
        assert isinstance(figure, Figure)
        return figure, ax
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


# -- fault timeline -----------------------------------------------------------------------


def _zone_order(run: ScenarioRun) -> list[str]:
    topology = run.world.topology
    return [node for zone in topology.zones for node in topology.nodes_in(zone)]


def fault_timeline(run: ScenarioRun, ax: Axes | None = None) -> Figure:
    """What each node went through, one lane per node (by zone): the sides of each partition,
    one-way cuts and isolations, down time, loss bursts on a node's outgoing link, clock changes.

    Read from the world's fault log, so it needs no full trace.
    """
    windows = fault_windows(run)
    nodes = _zone_order(run)
    if len(nodes) > AGGREGATE_ABOVE:
        nodes = sorted({n for w in windows for n in _nodes_of(run, w)}, key=nodes.index)
    lane = {n: len(nodes) - 1 - i for i, n in enumerate(nodes)}
    fig, ax = _axes(ax, (FIGSIZE[0], max(2.5, min(10.0, 0.35 * len(nodes) + 1.5))))
    events = {str(e.get("label")): e for e in run.world.fault_log if e["kind"] == "fault"}
    handles: dict[str, Any] = {}
    for w in windows:
        width = max(w.end - w.start, 0.0)
        if w.kind in ("partition", "isolate"):
            groups = _sides(run, events.get(w.what), w)
            for i, group in enumerate(groups):
                colour = _SIDE_COLOURS[i % len(_SIDE_COLOURS)]
                for n in group:
                    if n in lane:
                        ax.barh(lane[n], width, left=w.start, height=0.6, color=colour, alpha=0.7, lw=0)
                handles.setdefault(f"side {i + 1}", Patch(color=colour, alpha=0.7, label=f"partition side {i + 1}"))
        elif w.kind == "one_way":
            e = events.get(w.what, {})
            for n in expand_fault_nodes(run, e.get("srcs", ())):
                if n in lane:
                    ax.barh(lane[n], width, left=w.start, height=0.6, facecolor="none", edgecolor=PARTITION_COLOUR,
                            hatch="\\\\", lw=0)
            handles.setdefault("one_way", Patch(facecolor="none", edgecolor=PARTITION_COLOUR, hatch="\\\\",
                                                label="one-way cut (sender)"))
        elif w.kind == "down" and w.what in lane:
            ax.barh(lane[w.what], width, left=w.start, height=0.6, facecolor="none", edgecolor=DOWN_COLOUR,
                    hatch="//", lw=0.8)
            handles.setdefault("down", Patch(facecolor="none", edgecolor=DOWN_COLOUR, hatch="//", label="node down"))
        elif w.kind == "loss_burst":
            src = w.what.split("->")[0]
            if src in lane:
                ax.barh(lane[src], width, left=w.start, height=0.3, color=LOSS_COLOUR, alpha=0.8, lw=0)
                ax.text(w.end, lane[src], f" ->{w.what.split('->')[1]}", va="center", fontsize=7, color=LOSS_COLOUR)
            handles.setdefault("loss", Patch(color=LOSS_COLOUR, alpha=0.8, label="loss burst (sender)"))
        elif w.kind == "clock":
            node = w.what.split(" ", 1)[0]
            if node in lane:
                ax.plot([w.start], [lane[node]], marker="D", color=CLOCK_COLOUR, ms=6, ls="none", zorder=3)
                ax.text(w.start, lane[node] + 0.35, w.what.split(" ", 1)[1], fontsize=7, color=CLOCK_COLOUR)
            handles.setdefault("clock", Line2D([], [], color=CLOCK_COLOUR, marker="D", ls="none", label="clock change"))
    quiet = _mark_quiet(ax, run)
    if not windows:
        ax.text(0.5, 0.5, "no fault was applied", transform=ax.transAxes, ha="center", va="center")
    ax.set_yticks([lane[n] for n in nodes], nodes, fontsize=8)
    ax.set_ylim(-0.7, max(len(nodes), 1) - 0.3)
    ax.set_xlim(0, _end(run))
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("node")
    ax.set_title(f"{run.scenario.name}: faults applied, per node")
    if handles or quiet:
        ax.legend(handles=list(handles.values()) + quiet, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  borderaxespad=0)
    return fig


_SIDE_COLOURS = ("tab:orange", "tab:cyan", "tab:olive", "tab:pink")


def expand_fault_nodes(run: ScenarioRun, members: Iterable[str]) -> list[str]:
    """Node ids of a fault's members (node ids or zone names)."""
    topology = run.world.topology
    out: list[str] = []
    for m in members:
        out.extend(topology.nodes_in(m) if topology.has_zone(m) else [m])
    return out


def _sides(run: ScenarioRun, event: dict[str, Any] | None, w: Window) -> list[list[str]]:
    """The groups of a partition (nodes listed in none form one more group), or an isolation's two."""
    every = _zone_order(run)
    if event is None:
        return [every]
    if event.get("action") == "isolate":
        return [[event["node"]], [n for n in every if n != event["node"]]]
    groups = [expand_fault_nodes(run, g) for g in event.get("groups", [])]
    listed = {n for g in groups for n in g}
    rest = [n for n in every if n not in listed]
    return groups + ([rest] if rest else [])


def _nodes_of(run: ScenarioRun, w: Window) -> list[str]:
    if w.kind == "down":
        return [w.what]
    if w.kind in ("loss_burst", "clock"):
        return [w.what.split("->")[0].split(" ")[0]]
    return []


# -- distinct states ----------------------------------------------------------------------


def distinct_state_series(run: ScenarioRun) -> dict[str, tuple[list[float], list[int]]]:
    """Per key: times and the number of distinct replica states from each time on.

    A replica that never changed a key holds its empty state. With volatile (non-durable)
    data a crashed replica has lost its state, so from its crash on it holds the empty state
    again, until it hears from its peers.
    """
    _events(run)
    dd = run.data
    if dd is None:
        raise ValueError("this scenario has no replicated data to plot")
    if dd.history is None:
        raise ValueError("the run kept no state history: build it with trace='full'")
    empty: dict[str, str] = {}
    for key, spec in dd.keys.items():
        try:
            empty[key] = fingerprint(spec.type())
        except Exception:  # a type without an empty constructor: a marker distinct from every state
            empty[key] = "<empty>"
    states: dict[str, dict[str, str]] = {key: dict.fromkeys(dd.node_ids, empty[key]) for key in dd.keys}
    # Changes, and (volatile data only) the crashes that forget them, in time order.
    changes: list[tuple[float, int, str | None, str, str | None]] = [
        (t, i, key, node, fp) for i, (t, key, node, fp) in enumerate(dd.history)
    ]
    if not dd.durable:
        changes += [(e.t, -1, None, str(e.fields["node"]), None) for e in run.world.trace.events if e.kind == "crash"]
        changes.sort(key=lambda c: (c[0], c[1]))
    series = {key: ([0.0], [1]) for key in sorted(dd.keys)}
    for t, _, changed, node, fp in changes:
        targets = [changed] if changed is not None else list(series)
        for k in targets:
            if node not in states[k]:
                continue
            states[k][node] = empty[k] if fp is None else fp
            times, counts = series[k]
            n = len(set(states[k].values()))
            if times[-1] == t:  # several changes at one instant: keep the last count
                counts[-1] = n
            elif counts[-1] != n:
                times.append(t)
                counts.append(n)
    end = _end(run)
    for times, counts in series.values():
        times.append(max(end, times[-1]))
        counts.append(counts[-1])
    return series


def distinct_states(run: ScenarioRun, ax: Axes | None = None, keys: Iterable[str] | None = None) -> Figure:
    """How many distinct states the replicas hold, per key, over time; faults shaded.

    One means every replica agrees; a partition or a crash makes the count climb, and it
    falls back to one as the replicas converge.
    """
    series = distinct_state_series(run)
    chosen = sorted(keys) if keys is not None else sorted(series)
    fig, ax = _axes(ax)
    handles = _shade(ax, fault_windows(run))
    handles += _mark_quiet(ax, run)
    lines = []
    for i, key in enumerate(chosen):
        times, counts = series[key]
        # Lines that coincide stay visible: wider ones are drawn first.
        (line,) = ax.step(times, counts, where="post", lw=max(1.2, 3.0 - 0.8 * i), label=key, zorder=3 + i)
        lines.append(line)
    assert run.data is not None
    top = max((max(series[k][1]) for k in chosen), default=1)
    ax.set_ylim(0, max(top, len(run.data.node_ids)) * 1.3 + 0.3)  # headroom for the legend
    ax.set_xlim(0, _end(run))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("distinct replica states")
    ax.set_title(f"{run.scenario.name}: divergence per key ({len(run.data.node_ids)} replicas)")
    _top_legend(ax, lines + handles)
    return fig


# -- traffic ------------------------------------------------------------------------------


def traffic_series(run: ScenarioRun) -> tuple[list[float], dict[str, list[int]], dict[str, list[int]]]:
    """Tick start times, and messages and bytes sent during each tick, by protocol.

    Counted from the trace's send events (a message dropped on the way was still sent), so
    the totals are the summary's.
    """
    events = _events(run)
    tick = float(run.world.tick)
    n = max(1, math.ceil(_end(run) / tick - 1e-9))
    messages: dict[str, list[int]] = {}
    volume: dict[str, list[int]] = {}
    for e in events:
        if e.kind != "send":
            continue
        protocol = protocol_of(str(e.fields["msg_kind"]))
        if protocol not in messages:
            messages[protocol] = [0] * n
            volume[protocol] = [0] * n
        i = min(n - 1, int(e.t / tick + 1e-9))
        messages[protocol][i] += 1
        volume[protocol][i] += int(e.fields.get("size", 0))
    starts = [i * tick for i in range(n)]
    return starts, dict(sorted(messages.items())), dict(sorted(volume.items()))


def _two_panels(axes: Sequence[Axes] | None) -> tuple[Figure, Axes, Axes]:
    """The given pair of axes and their figure, or a new figure of two panels sharing time."""
    if axes is None:
        fig = Figure(figsize=(FIGSIZE[0], FIGSIZE[1] * 1.25), dpi=DPI, layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True)
        return fig, top, bottom
    top, bottom = axes
    figure = top.get_figure()
    assert isinstance(figure, Figure)
    return figure, top, bottom


def traffic(run: ScenarioRun, axes: Sequence[Axes] | None = None) -> Figure:
    """Messages and bytes sent per tick, stacked by protocol, in two panels; faults shaded."""
    starts, messages, volume = traffic_series(run)
    tick = float(run.world.tick)
    fig, top, bottom = _two_panels(axes)
    windows = fault_windows(run)
    colours = {p: f"C{i}" for i, p in enumerate(messages)}
    for ax, data, label in ((top, messages, "messages / tick"), (bottom, volume, "bytes / tick")):
        handles = _shade(ax, windows, label_nodes=ax is top)
        base = [0] * len(starts)
        for protocol, values in data.items():
            ax.bar(starts, values, width=tick, bottom=base, align="edge", color=colours[protocol], label=protocol,
                   lw=0, zorder=2)
            base = [b + v for b, v in zip(base, values, strict=True)]
        ax.set_ylabel(label)
        ax.set_xlim(0, _end(run))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if ax is top:
            bars = [Patch(color=colours[p], label=p) for p in data]
            _top_legend(ax, bars + handles)
        ax.set_ylim(0, max(1, max(base, default=0)) * 1.3)
    if not messages:
        top.text(0.5, 0.5, "no messages were sent", transform=top.transAxes, ha="center", va="center")
    bottom.set_xlabel(TIME_LABEL)
    top.set_title(f"{run.scenario.name}: traffic by protocol (tick = {tick * 1000:g} ms)")
    return fig


# -- latency ------------------------------------------------------------------------------


def latencies(run: ScenarioRun) -> dict[str, list[float]]:
    """Delivery latency in ms of every delivered copy of every message, by protocol.

    Each delivery is matched to its send by message id (a duplicated message is delivered,
    and counted, twice).
    """
    sent: dict[int, float] = {}
    out: dict[str, list[float]] = {}
    for e in _events(run):
        if e.kind == "send":
            sent[int(e.fields["id"])] = e.t
        elif e.kind == "deliver":
            start = sent.get(int(e.fields["id"]), e.fields.get("sent_at"))
            if start is None:
                continue
            out.setdefault(protocol_of(str(e.fields["msg_kind"])), []).append((e.t - float(start)) * 1000.0)
    return dict(sorted(out.items()))


def latency_histogram(run: ScenarioRun, ax: Axes | None = None, bins: int = 40) -> Figure:
    """Histogram of delivery latencies (ms), stacked by protocol, with the median and p99."""
    by_protocol = latencies(run)
    fig, ax = _axes(ax)
    everything = [v for values in by_protocol.values() for v in values]
    if everything:
        ax.hist(list(by_protocol.values()), bins=bins, stacked=True, label=list(by_protocol),
                color=[f"C{i}" for i in range(len(by_protocol))])
        median, p99 = quantile(everything, 0.5), quantile(everything, 0.99)
        ax.axvline(median, color="black", ls="--", lw=1, label=f"median {median:.1f} ms")
        ax.axvline(p99, color="black", ls=":", lw=1, label=f"p99 {p99:.1f} ms")
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    else:
        ax.text(0.5, 0.5, "no message was delivered", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlim(left=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("delivery latency (ms)")
    ax.set_ylabel("delivered messages")
    ax.set_title(f"{run.scenario.name}: latency of {len(everything):,} delivered messages")
    return fig


# -- space-time diagram -------------------------------------------------------------------


#: the widest a space-time diagram gets, in inches
SPACETIME_MAX_WIDTH = 32.0
#: above this many nodes a space-time diagram draws lanes of several nodes each, per zone
AGGREGATE_ABOVE = 30
#: protocol colours leave red to dropped messages and crashes
_MESSAGE_COLOURS = ("tab:blue", "tab:green", "tab:olive", "tab:purple", "tab:brown", "tab:pink", "tab:cyan",
                    "tab:grey", "navy", "teal")


def first_divergence(run: ScenarioRun) -> float | None:
    """When the divergence the run ended with began: the last time a key that did not converge
    went from one state everywhere to several (None when every key converged)."""
    if run.data is None or run.data.history is None or run.result is None:
        return None
    convergence = next((c for c in run.result.checks if c.name == "convergence"), None)
    if convergence is None or convergence.ok:
        return None
    series = distinct_state_series(run)
    starts = []
    for key, report in convergence.details["keys"].items():
        if report["converged"] or key not in series:
            continue
        times, counts = series[key]
        rises = [t for i, t in enumerate(times) if i > 0 and counts[i] > 1 and counts[i - 1] == 1]
        starts.append(rises[-1] if rises else times[0])
    return min(starts) if starts else None


def _lost_write_time(run: ScenarioRun) -> float | None:
    assert run.result is not None
    invariants = next((c for c in run.result.checks if c.name == "invariants"), None)
    if invariants is None or invariants.ok:
        return None
    times = [w["time"] for writes in invariants.details.get("lost_writes", {}).values() for w in writes]
    return min(times) if times else None


def default_window(run: ScenarioRun) -> tuple[float, float]:
    """Where a space-time diagram looks by default.

    A failing run: around the first divergence (or the first acknowledged write lost). A
    passing run with a cut: from just before the first cut to just after its heal; with a
    crash but no cut, around the first crash and restart. Otherwise the first second.
    """
    end = _end(run)
    focus = first_divergence(run)
    if focus is None:
        focus = _lost_write_time(run)
    if focus is not None:
        return max(0.0, focus - 0.25), min(end, focus + 0.75)
    windows = fault_windows(run)
    for kinds in (("partition", "one_way", "isolate"), ("down",)):
        chosen = [w for w in windows if w.kind in kinds]
        if chosen:
            return max(0.0, chosen[0].start - 0.25), min(end, chosen[0].end + 0.5)
    return 0.0, min(end, 1.0)


def _lanes(run: ScenarioRun, aggregate_above: int) -> tuple[dict[str, int], list[str]]:
    """Lane of each node (0 at the top) and the lane labels: nodes by zone, or groups of them."""
    topology = run.world.topology
    zones = [(zone, topology.nodes_in(zone)) for zone in topology.zones]
    total = sum(len(nodes) for _, nodes in zones)
    lane: dict[str, int] = {}
    labels: list[str] = []
    if total <= aggregate_above:
        for _, nodes in zones:
            for node in nodes:
                lane[node] = len(labels)
                labels.append(node)
        return lane, labels
    # Each zone gets lanes in proportion to its size (at least one), each lane a run of nodes.
    budget = max(len(zones), aggregate_above)
    for zone, nodes in zones:
        count = max(1, min(len(nodes), round(budget * len(nodes) / total)))
        size = math.ceil(len(nodes) / count)
        for i in range(0, len(nodes), size):
            chunk = nodes[i:i + size]
            for node in chunk:
                lane[node] = len(labels)
            labels.append(f"{zone}: {chunk[0]}…{chunk[-1]} ({len(chunk)})" if len(chunk) > 1 else chunk[0])
    return lane, labels


def _mark_failure(ax: Axes, run: ScenarioRun, y: dict[str, int], lo: float, hi: float) -> list[Any]:
    """Where the final divergence began (a vertical line) and the lost acknowledged writes (stars)."""
    assert run.result is not None
    handles: list[Any] = []
    began = first_divergence(run)
    if began is not None and lo <= began <= hi:
        ax.axvline(began, color="black", lw=1.2, ls="-", zorder=5)
        handles.append(Line2D([], [], color="black", lw=1.2, label=f"divergence begins ({began:.3f}s)"))
    invariants = next((c for c in run.result.checks if c.name == "invariants"), None)
    lost = [w for ws in (invariants.details.get("lost_writes", {}) if invariants else {}).values() for w in ws
            if lo <= w["time"] <= hi and w["node"] in y]
    if lost:
        ax.scatter([w["time"] for w in lost], [y[w["node"]] for w in lost], marker="*", s=160, color="gold",
                   edgecolors="black", linewidths=0.7, zorder=6)
        handles.append(Line2D([], [], color="gold", marker="*", ms=10, mec="black", ls="none",
                              label="acknowledged write later lost"))
    return handles


def spacetime(
    run: ScenarioRun,
    max_messages: int | None = None,
    ax: Axes | None = None,
    window: tuple[float, float] | None = None,
    aggregate_above: int = AGGREGATE_ABOVE,
) -> Figure:
    """A space-time (Lamport) diagram: one lane per node, one arrow per delivered message.

    Time runs left to right; lanes are ordered by zone. Every message sent within ``window``
    (start, end in seconds; default :func:`default_window`) is drawn, or only the first
    ``max_messages``: an arrow from its sender at the send time to its receiver at the
    delivery time, coloured by kind. A dropped message is a red dashed stub ending in a cross
    (at the send time when lost or cut off, at the arrival time when the receiver was down).
    Cuts and loss bursts are shaded, down nodes' lanes are dashed red, crashes and restarts are
    marked. Above ``aggregate_above`` nodes each lane stands for several nodes of one zone.
    """
    events = _events(run)
    lane, labels = _lanes(run, aggregate_above)
    lo, hi = window if window is not None else default_window(run)
    if not hi > lo:
        raise ValueError(f"a window must end after it starts, found {lo}..{hi}")
    y = {node: len(labels) - 1 - i for node, i in lane.items()}
    sends: dict[int, TraceEvent] = {}
    total = 0
    for e in events:
        if e.kind == "send" and lo <= e.t <= hi:
            total += 1
            if max_messages is None or len(sends) < max_messages:
                sends[int(e.fields["id"])] = e
    shown_end = hi if total == len(sends) or not sends else max(s.t for s in sends.values())
    # Wide enough that arrows stay apart (a report scrolls it sideways), tall enough for the lanes.
    width = min(SPACETIME_MAX_WIDTH, max(FIGSIZE[0] * 1.25, len(sends) / 40))
    height = max(3.0, min(14.0, (0.6 if len(labels) <= 12 else 0.3) * len(labels) + 1.5))
    fig, ax = _axes(ax, (width, height))
    windows = [w for w in fault_windows(run) if w.end >= lo and w.start <= shown_end]
    handles = _shade(ax, [w for w in windows if w.kind != "down"], label_nodes=False)
    ax.hlines(list(range(len(labels))), lo, shown_end, color="black", lw=0.6, zorder=1)
    single = len(labels) == len(lane)
    for w in windows:
        if w.kind == "down" and single:
            a, b = max(w.start, lo), min(w.end, shown_end)
            ax.hlines(y[w.what], a, b, color="white", lw=2, zorder=1.5)
            ax.hlines(y[w.what], a, b, color=DOWN_COLOUR, lw=1, ls="--", zorder=1.6)
    kinds = sorted({str(s.fields["msg_kind"]) for s in sends.values()})
    colours = {k: _MESSAGE_COLOURS[i % len(_MESSAGE_COLOURS)] for i, k in enumerate(kinds)}
    arrows: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in kinds}
    delays = []
    for e in events:
        if e.kind == "deliver" and int(e.fields["id"]) in sends:
            s = sends[int(e.fields["id"])]
            y0, y1 = y[str(s.fields["src"])], y[str(e.fields["dst"])]
            delays.append(e.t - s.t)
            arrows[str(s.fields["msg_kind"])].append((s.t, y0, e.t - s.t, y1 - y0))
    for kind, rows in arrows.items():
        if rows:
            xs, ys, us, vs = zip(*rows, strict=True)
            ax.quiver(xs, ys, us, vs, angles="xy", scale_units="xy", scale=1, color=colours[kind], units="dots",
                      width=1.0, headwidth=5, headlength=6, headaxislength=5, zorder=3, label=kind)
    span = max(shown_end - lo, 1e-9)
    stub = sorted(delays)[len(delays) // 2] * 0.5 if delays else span * 0.01
    drops_xy: list[tuple[float, float]] = []
    segments = []
    for e in events:
        if e.kind == "drop" and int(e.fields["id"]) in sends:
            s = sends[int(e.fields["id"])]
            y0, y1 = y[str(s.fields["src"])], y[str(e.fields["dst"])]
            x1 = e.t if e.t > s.t else s.t + stub  # dropped at the receiver, or on the way out
            yend = y0 + (y1 - y0) * (0.85 if e.t > s.t else 0.3)
            segments.append([(s.t, y0), (x1, yend)])
            drops_xy.append((x1, yend))
    if segments:
        ax.add_collection(LineCollection(segments, colors=DROP_COLOUR, linewidths=0.8, linestyles="--", zorder=3.5))
        ax.scatter([x for x, _ in drops_xy], [v for _, v in drops_xy], marker="x", color=DROP_COLOUR, s=14,
                   linewidths=1, zorder=3.6)
    handles += _mark_failure(ax, run, y, lo, shown_end)
    for e in events:
        if e.kind in ("crash", "restart") and lo <= e.t <= shown_end:
            crash = e.kind == "crash"
            ax.plot([e.t], [y[str(e.fields["node"])]], marker="X" if crash else "o", ms=9 if crash else 7,
                    color=DOWN_COLOUR if crash else "tab:green", mec="black", mew=0.5, zorder=4, ls="none")
    handles = [Line2D([], [], color=colours[k], lw=1, marker=">", ms=4, label=k) for k in kinds] + [
        Line2D([], [], color=DROP_COLOUR, lw=0.8, ls="--", marker="x", ms=4, label="dropped")] + handles
    if any(w.kind == "down" for w in windows):
        handles += [Line2D([], [], color=DOWN_COLOUR, marker="X", ms=7, mec="black", mew=0.5, ls="--", lw=1,
                           label="crash / down"),
                    Line2D([], [], color="tab:green", marker="o", ms=6, mec="black", mew=0.5, ls="none",
                           label="restart")]
    ax.set_yticks(list(range(len(labels) - 1, -1, -1)), labels, fontsize=8 if single else 7)
    ax.set_ylim(-0.5, len(labels) - 0.5)
    ax.set_xlim(lo, shown_end)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("node" if single else "nodes (by zone)")
    shown = f"{len(sends)} of {total} messages" if total > len(sends) else f"{total} messages"
    ax.set_title(f"{run.scenario.name}: space-time diagram {lo:.2f}–{shown_end:.2f}s "
                 f"({shown}, {len(segments)} dropped)")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    return fig


# -- requests -----------------------------------------------------------------------------


def request_series(run: ScenarioRun) -> tuple[list[float], dict[str, list[int]]]:
    """Tick start times, and requests completed during each tick by outcome (ok, fail, info)."""
    if run.result is None:
        raise ValueError("the scenario has not run yet: call run.run() (or use run_scenario) first")
    tick = float(run.world.tick)
    n = max(1, math.ceil(_end(run) / tick - 1e-9))
    counts: dict[str, list[int]] = {o: [0] * n for o in ("ok", "fail", "info")}
    for op in run.world.history.operations:
        if op.completed is not None and op.type is not None:
            counts[op.type][min(n - 1, int(op.completed / tick + 1e-9))] += 1
    return [i * tick for i in range(n)], counts


_OUTCOME_COLOURS = {"ok": "tab:green", "fail": "tab:red", "info": "tab:orange"}


def requests(run: ScenarioRun, axes: Sequence[Axes] | None = None) -> Figure:
    """Requests per tick by outcome, and each request's latency at its completion; faults shaded.

    Reads the run's history, so it needs no full trace.
    """
    starts, counts = request_series(run)
    tick = float(run.world.tick)
    fig, top, bottom = _two_panels(axes)
    windows = fault_windows(run)
    handles = _shade(top, windows)
    _shade(bottom, windows, label_nodes=False)
    base = [0] * len(starts)
    for outcome, values in counts.items():
        if any(values):
            top.bar(starts, values, width=tick, bottom=base, align="edge", color=_OUTCOME_COLOURS[outcome], lw=0,
                    zorder=2, label=outcome)
            base = [b + v for b, v in zip(base, values, strict=True)]
            handles.insert(0, Patch(color=_OUTCOME_COLOURS[outcome], label=outcome))
    top.set_ylim(0, max(1, max(base, default=0)) * 1.3)
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_ylabel("requests / tick")
    _top_legend(top, handles)
    groups: dict[str, tuple[list[float], list[float]]] = {}
    for op in run.world.history.operations:
        if op.completed is not None and op.latency is not None:
            name = op.kind if op.level is None else f"{op.kind} {op.level}"
            xs, ys = groups.setdefault(name, ([], []))
            xs.append(op.completed)
            ys.append(op.latency * 1000.0)
    for i, (name, (xs, ys)) in enumerate(sorted(groups.items())):
        bottom.scatter(xs, ys, s=6, color=f"C{i}", label=name, zorder=3)
    if groups:
        bottom.legend(loc="upper right", fontsize=8, framealpha=0.9)
    else:
        top.text(0.5, 0.5, "no requests were made", transform=top.transAxes, ha="center", va="center")
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel(TIME_LABEL)
    for ax in (top, bottom):
        ax.set_xlim(0, _end(run))
    total = len(run.world.history.operations)
    top.set_title(f"{run.scenario.name}: {total:,} requests, by outcome; latency at completion")
    return fig


# -- files --------------------------------------------------------------------------------


def figures(run: ScenarioRun, window: tuple[float, float] | None = None) -> dict[str, Callable[[], Figure]]:
    """Figure name -> a function drawing it: every plot of a run made with the full trace."""
    _events(run)
    drawn: dict[str, Callable[[], Figure]] = {"faults": lambda: fault_timeline(run)}
    if run.data is not None:
        drawn["distinct_states"] = lambda: distinct_states(run)
    drawn["traffic"] = lambda: traffic(run)
    drawn["requests"] = lambda: requests(run)
    drawn["latency"] = lambda: latency_histogram(run)
    drawn["spacetime"] = lambda: spacetime(run, window=window)
    return drawn


def svg(fig: Figure) -> str:
    """The figure as SVG text (fonts drawn as paths, no date: the same run gives the same text)."""
    out = io.StringIO()
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": "crdtsim"}):
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _writer(draw: Callable[[], Figure], fmt: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        if fmt == "svg":
            path.write_text(svg(draw()), encoding="utf-8")
        else:
            draw().savefig(path, dpi=DPI, format=fmt)

    return write


def write_all(run: ScenarioRun, fmt: str = "png", window: tuple[float, float] | None = None,
              ) -> dict[str, Callable[[Path], None]]:
    """File name -> a function writing that figure as ``fmt`` (``png`` or ``svg``).

    ``crdtsim run --out DIR`` writes the SVGs (the report embeds them); ``--plots`` adds PNGs.
    """
    return {f"{name}.{fmt}": _writer(draw, fmt) for name, draw in figures(run, window).items()}
