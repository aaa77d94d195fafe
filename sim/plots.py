"""Pictures of a finished run: divergence over time, traffic, a space-time diagram, latencies.

Every function takes a finished :class:`~sim.scenario.ScenarioRun` built with the full trace
(``run_scenario(scenario, trace="full")``) and returns a :class:`matplotlib.figure.Figure`;
pass ``ax=`` to draw into axes of your own. Figures are made without ``pyplot``, so nothing
is shown or kept open behind your back and no display is needed: save them with
``fig.savefig(path)``, or return them from a notebook cell (after ``%matplotlib inline``).

:func:`write_all` gives the files ``crdtsim run --plots --out DIR`` writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from sim.replication.values import fingerprint
from sim.report import protocol_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.scenario.build import ScenarioRun
    from sim.trace import TraceEvent

__all__ = [
    "SPACETIME_MAX_NODES",
    "Window",
    "distinct_states",
    "fault_windows",
    "latency_histogram",
    "spacetime",
    "traffic",
    "write_all",
]

#: beyond this many nodes a space-time diagram is a tangle of lines
SPACETIME_MAX_NODES = 12
#: the size of every figure, in inches: a notebook's width
FIGSIZE = (8.0, 4.0)
DPI = 100
TIME_LABEL = "simulated time (s)"

PARTITION_COLOUR = "tab:orange"
DOWN_COLOUR = "tab:red"
DROP_COLOUR = "red"
# Partitions, one-way cuts and isolations all cut links until healed.
_CUTS = ("partition", "one_way", "isolate")


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of simulated time when a fault held: a cut (``partition``) or a node down (``down``)."""

    kind: str
    start: float
    end: float
    #: the partition's label, or the node that was down
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
    """The partitions and node-down windows of the run, from its trace, in start order.

    A partition (or one-way cut, or isolation) lasts until its own heal or a heal of
    everything; a node is down from its crash to its restart. What is still open at the end
    of the run ends there.
    """
    open_cuts: dict[str, float] = {}
    down: dict[str, float] = {}
    out: list[Window] = []
    for e in _events(run):
        f = e.fields
        if e.kind == "fault" and f.get("action") in _CUTS:
            open_cuts.setdefault(str(f["label"]), e.t)
        elif e.kind == "heal":
            labels = list(open_cuts) if f.get("label") == "all" else [str(f.get("label"))]
            for label in labels:
                if label in open_cuts:
                    out.append(Window("partition", open_cuts.pop(label), e.t, label))
        elif e.kind == "crash":
            down.setdefault(str(f["node"]), e.t)
        elif e.kind == "restart" and str(f["node"]) in down:
            node = str(f["node"])
            out.append(Window("down", down.pop(node), e.t, node))
    end = _end(run)
    out.extend(Window("partition", t, end, label) for label, t in open_cuts.items())
    out.extend(Window("down", t, end, node) for node, t in down.items())
    return sorted(out, key=lambda w: (w.start, w.kind, w.what))


def _shade(ax: Axes, windows: Sequence[Window], label_nodes: bool = True) -> list[Any]:
    """Shade fault windows on ``ax``; returns legend handles for the kinds present."""
    handles: list[Any] = []
    kinds = {w.kind for w in windows}
    for w in windows:
        if w.kind == "partition":
            ax.axvspan(w.start, w.end, color=PARTITION_COLOUR, alpha=0.15, lw=0, zorder=0)
        else:
            ax.axvspan(w.start, w.end, facecolor="none", edgecolor=DOWN_COLOUR, alpha=0.5, hatch="//", lw=0,
                       zorder=0)
            if label_nodes:
                ax.text((w.start + w.end) / 2, 0.02, f"{w.what} down", transform=ax.get_xaxis_transform(),
                        ha="center", va="bottom", fontsize=8, color=DOWN_COLOUR,
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    if "partition" in kinds:
        handles.append(Patch(color=PARTITION_COLOUR, alpha=0.3, label="partition"))
    if "down" in kinds:
        handles.append(Patch(facecolor="none", edgecolor=DOWN_COLOUR, hatch="//", alpha=0.5, label="node down"))
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


def traffic(run: ScenarioRun, axes: Sequence[Axes] | None = None) -> Figure:
    """Messages and bytes sent per tick, stacked by protocol, in two panels; faults shaded."""
    starts, messages, volume = traffic_series(run)
    tick = float(run.world.tick)
    if axes is None:
        fig = Figure(figsize=(FIGSIZE[0], FIGSIZE[1] * 1.25), dpi=DPI, layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True)
    else:
        top, bottom = axes
        figure = top.get_figure()
        assert isinstance(figure, Figure)
        fig = figure
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


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def latency_histogram(run: ScenarioRun, ax: Axes | None = None, bins: int = 40) -> Figure:
    """Histogram of delivery latencies (ms), stacked by protocol, with the median and p99."""
    by_protocol = latencies(run)
    fig, ax = _axes(ax)
    everything = [v for values in by_protocol.values() for v in values]
    if everything:
        ax.hist(list(by_protocol.values()), bins=bins, stacked=True, label=list(by_protocol),
                color=[f"C{i}" for i in range(len(by_protocol))])
        median, p99 = _quantile(everything, 0.5), _quantile(everything, 0.99)
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


def spacetime(
    run: ScenarioRun,
    max_messages: int = 300,
    ax: Axes | None = None,
    window: tuple[float, float] | None = None,
    max_nodes: int = SPACETIME_MAX_NODES,
) -> Figure:
    """A space-time (Lamport) diagram: one line per node, one arrow per delivered message.

    Time runs left to right. A message is an arrow from its sender at the send time to its
    receiver at the delivery time, coloured by kind; a dropped message is a short red stub
    ending in a cross (at the send time when lost or cut off by a partition, at the arrival
    time when the receiver was down). Partitions are shaded, down nodes' lines are dashed,
    crashes and restarts are marked. Only the first ``max_messages`` messages sent within
    ``window`` (start, end in seconds; default the whole run) are drawn.
    """
    events = _events(run)
    nodes = list(run.world.node_ids)
    if len(nodes) > max_nodes:
        raise ValueError(f"a space-time diagram of {len(nodes)} nodes is unreadable (at most {max_nodes}); "
                         "plot a smaller run, or pass max_nodes= to draw it anyway")
    lo, hi = window if window is not None else (0.0, _end(run))
    y = {node: len(nodes) - 1 - i for i, node in enumerate(nodes)}
    sends: dict[int, TraceEvent] = {}
    total = 0
    for e in events:
        if e.kind == "send" and lo <= e.t <= hi:
            total += 1
            if len(sends) < max_messages:
                sends[int(e.fields["id"])] = e
    shown_end = hi if total <= max_messages else max(s.t for s in sends.values())
    fig, ax = _axes(ax, (FIGSIZE[0], max(3.0, min(FIGSIZE[1], 0.6 * len(nodes) + 1.5))))
    windows = [w for w in fault_windows(run) if w.end >= lo and w.start <= shown_end]
    handles = _shade(ax, [w for w in windows if w.kind == "partition"])
    # Node lines: solid while up, dashed while down.
    for node in nodes:
        ax.hlines(y[node], lo, shown_end, color="black", lw=0.8, zorder=1)
    for w in windows:
        if w.kind == "down":
            ax.hlines(y[w.what], max(w.start, lo), min(w.end, shown_end), color="white", lw=2, zorder=1.5)
            ax.hlines(y[w.what], max(w.start, lo), min(w.end, shown_end), color=DOWN_COLOUR, lw=1, ls="--", zorder=1.6)
    kinds = sorted({str(s.fields["msg_kind"]) for s in sends.values()})
    colours = {k: f"C{i % 10}" for i, k in enumerate(kinds)}
    delays = []
    for e in events:
        if e.kind == "deliver" and int(e.fields["id"]) in sends:
            s = sends[int(e.fields["id"])]
            delays.append(e.t - s.t)
            ax.annotate("", xy=(e.t, y[str(e.fields["dst"])]), xytext=(s.t, y[str(s.fields["src"])]),
                        arrowprops={"arrowstyle": "-|>", "color": colours[str(s.fields["msg_kind"])], "lw": 0.7,
                                    "shrinkA": 0, "shrinkB": 0, "mutation_scale": 7}, zorder=3)
    span = max(shown_end - lo, 1e-9)
    stub = sorted(delays)[len(delays) // 2] * 0.5 if delays else span * 0.01
    drops = 0
    for e in events:
        if e.kind == "drop" and int(e.fields["id"]) in sends:
            drops += 1
            s = sends[int(e.fields["id"])]
            y0, y1 = y[str(s.fields["src"])], y[str(e.fields["dst"])]
            x1 = e.t if e.t > s.t else s.t + stub  # dropped at the receiver, or on the way out
            frac = 0.85 if e.t > s.t else 0.3
            yend = y0 + (y1 - y0) * frac
            ax.plot([s.t, x1], [y0, yend], color=DROP_COLOUR, lw=0.8, zorder=3)
            ax.plot([x1], [yend], marker="x", color=DROP_COLOUR, ms=4, mew=1, zorder=3)
    for e in events:
        if e.kind in ("crash", "restart") and lo <= e.t <= shown_end:
            crash = e.kind == "crash"
            ax.plot([e.t], [y[str(e.fields["node"])]], marker="X" if crash else "o", ms=9 if crash else 7,
                    color=DOWN_COLOUR if crash else "tab:green", mec="black", mew=0.5, zorder=4, ls="none")
    handles = [Line2D([], [], color=colours[k], lw=1, marker=">", ms=4, label=k) for k in kinds] + [
        Line2D([], [], color=DROP_COLOUR, lw=0.8, marker="x", ms=4, label="dropped")] + handles
    if any(w.kind == "down" for w in windows):
        handles += [Line2D([], [], color=DOWN_COLOUR, marker="X", ms=7, mec="black", mew=0.5, ls="--", lw=1,
                           label="crash / down"),
                    Line2D([], [], color="tab:green", marker="o", ms=6, mec="black", mew=0.5, ls="none",
                           label="restart")]
    ax.set_yticks([y[n] for n in nodes], nodes)
    ax.set_ylim(-0.5, len(nodes) - 0.5)
    ax.set_xlim(lo, shown_end)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("node")
    shown = f"{len(sends)} of {total} messages" if total > len(sends) else f"{total} messages"
    ax.set_title(f"{run.scenario.name}: space-time diagram ({shown}, {drops} dropped)")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    return fig


# -- files --------------------------------------------------------------------------------


def _writer(draw: Callable[[], Figure]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        draw().savefig(path, dpi=DPI, format="png")

    return write


def write_all(run: ScenarioRun) -> dict[str, Callable[[Path], None]]:
    """File name -> a function writing that PNG: what ``crdtsim run --plots`` writes.

    ``spacetime.png`` only for runs of at most :data:`SPACETIME_MAX_NODES` nodes.
    """
    _events(run)
    files: dict[str, Callable[[Path], None]] = {}
    if run.data is not None:
        files["distinct_states.png"] = _writer(lambda: distinct_states(run))
    files["traffic.png"] = _writer(lambda: traffic(run))
    files["latency.png"] = _writer(lambda: latency_histogram(run))
    if len(run.world.node_ids) <= SPACETIME_MAX_NODES:
        files["spacetime.png"] = _writer(lambda: spacetime(run))
    return files
