"""The plots of a finished run: each draws the run's own data, with labelled axes."""

from pathlib import Path
from xml.etree import ElementTree

import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.quiver import Quiver

from sim import plots
from sim.cli import bundled, main
from sim.scenario import Scenario, ScenarioRun, run_scenario

BROKEN = Path(__file__).parent.parent / "examples" / "broken" / "lossy-protocols-unreliable.yaml"


@pytest.fixture(scope="module")
def quickstart() -> ScenarioRun:
    return run_scenario(Scenario.from_yaml(bundled()["quickstart"]), trace="full")


@pytest.fixture(scope="module")
def broken_run() -> ScenarioRun:
    return run_scenario(Scenario.from_yaml(BROKEN), trace="full")


def _small(nodes: int, **extra: object) -> ScenarioRun:
    spec = {"seed": 1, "zones": {"dc": nodes}, "duration": "1s", "data": {"keys": {"hits": "GCounter"}},
            "workload": {"rate": "20/s"}, **extra}
    return run_scenario(Scenario.from_data(spec), trace="full")


def test_fault_windows_of_the_quickstart(quickstart: ScenarioRun) -> None:
    assert plots.fault_windows(quickstart) == [
        plots.Window("partition", 1.0, 2.5, "fault-0"),
        plots.Window("down", 3.0, 4.0, "dc-3"),
    ]
    no_trace = run_scenario(Scenario.from_yaml(bundled()["quickstart"]))  # the fault log needs no full trace
    assert plots.fault_windows(no_trace) == plots.fault_windows(quickstart)


def test_distinct_states_climb_in_the_partition_and_end_at_one(quickstart: ScenarioRun) -> None:
    fig = plots.distinct_states(quickstart)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "simulated time (s)"
    assert ax.get_ylabel() == "distinct replica states"
    lines = {line.get_label(): line for line in ax.get_lines() if line.get_label() in ("cart", "visits")}
    assert sorted(lines) == ["cart", "visits"]
    legend = ax.get_legend()
    assert legend is not None
    assert {"cart", "visits", "partition", "node down"} <= {t.get_text() for t in legend.get_texts()}
    for line in lines.values():
        times = [float(t) for t in line.get_xdata()]
        counts = [int(c) for c in line.get_ydata()]
        assert counts[0] == 1 and counts[-1] == 1
        assert max(c for t, c in zip(times, counts, strict=True) if 1.0 <= t < 2.5) > 1
        assert max(counts) <= 3


def test_distinct_states_of_volatile_data_count_a_crash_as_forgetting() -> None:
    run = _small(3, data={"keys": {"hits": "GCounter"}, "durable": False},
                 faults=[{"at": "0.5s", "crash": "dc-1"}])
    times, counts = plots.distinct_state_series(run)["hits"]
    at_crash = [c for t, c in zip(times, counts, strict=True) if t == 0.5]
    assert at_crash and at_crash[0] > 1
    assert counts[-1] == 1


def test_traffic_stacks_the_summary_totals_by_protocol(quickstart: ScenarioRun) -> None:
    fig = plots.traffic(quickstart)
    top, bottom = fig.axes
    assert (top.get_ylabel(), bottom.get_ylabel()) == ("messages / tick", "bytes / tick")
    assert bottom.get_xlabel() == "simulated time (s)"
    report = quickstart.summary()

    def total(ax: Axes) -> int:
        return round(sum(bar.get_height() for bars in ax.containers for bar in bars))

    assert total(top) == report["messages"]["total"]
    assert total(bottom) == report["bytes"]["total"]
    _, messages, volume = plots.traffic_series(quickstart)
    assert {p: sum(v) for p, v in messages.items()} == report["messages"]["by_protocol"]
    assert {p: sum(v) for p, v in volume.items()} == report["bytes"]["by_protocol"]


def test_traffic_separates_protocols() -> None:
    run = _small(3, data={"protocol": "state", "keys": {"a": {"type": "GCounter", "protocol": "state"},
                                   "b": {"type": "GCounter", "protocol": "op"}}})
    _, messages, _ = plots.traffic_series(run)
    assert set(messages) == {"state", "op"}
    legend = plots.traffic(run).axes[0].get_legend()
    assert legend is not None and {"state", "op"} <= {t.get_text() for t in legend.get_texts()}


def test_latency_histogram_counts_every_delivered_message(quickstart: ScenarioRun) -> None:
    fig = plots.latency_histogram(quickstart)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "delivery latency (ms)"
    assert ax.get_ylabel() == "delivered messages"
    counted = sum(bar.get_height() for bars in ax.containers for bar in bars)
    assert quickstart.result is not None
    assert counted == quickstart.result.metrics["delivered"]
    values = [v for vs in plots.latencies(quickstart).values() for v in vs]
    assert len(values) == quickstart.result.metrics["delivered"]
    assert min(values) >= 1.0  # the link's minimum latency is 1 ms


def _arrows(ax: Axes) -> int:
    return sum(c.N for c in ax.collections if isinstance(c, Quiver))


def test_spacetime_draws_one_arrow_per_delivery(quickstart: ScenarioRun) -> None:
    fig = plots.spacetime(quickstart, window=(0.9, 1.4))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["dc-1", "dc-2", "dc-3"]
    assert ax.get_xlabel() == "simulated time (s)" and ax.get_ylabel() == "node"
    events = quickstart.world.trace.events
    ids = {e.fields["id"] for e in events if e.kind == "send" and 0.9 <= e.t <= 1.4}
    delivered = sum(1 for e in events if e.kind == "deliver" and e.fields["id"] in ids)
    assert delivered > 0 and _arrows(ax) == delivered
    assert ax.get_xlim() == (0.9, 1.4)


def test_spacetime_draws_every_message_of_the_window_and_marks_the_crash(quickstart: ScenarioRun) -> None:
    fig = plots.spacetime(quickstart, window=(0.0, plots._end(quickstart)))
    (ax,) = fig.axes
    sent = sum(1 for e in quickstart.world.trace.events if e.kind == "send")
    assert sent > 300 and f"({sent} messages" in ax.get_title()
    legend = ax.get_legend()
    assert legend is not None
    assert {"dropped", "partition", "crash / down", "restart"} <= {t.get_text() for t in legend.get_texts()}
    capped = plots.spacetime(quickstart, max_messages=40, window=(0.0, 5.0))
    assert "40 of " in capped.axes[0].get_title()


def test_spacetime_marks_drops_apart_from_protocol_colours(quickstart: ScenarioRun) -> None:
    (ax,) = plots.spacetime(quickstart, window=(0.9, 1.4)).axes
    arrow_colours = {tuple(c.get_facecolor()[0]) for c in ax.collections if isinstance(c, Quiver)}
    red = to_rgba(plots.DROP_COLOUR)
    drops = [c for c in ax.collections if isinstance(c, LineCollection) and tuple(c.get_color()[0]) == red]
    assert len(drops) == 1 and len(drops[0].get_segments()) == int(ax.get_title().split(", ")[-1].split()[0])
    assert arrow_colours and red not in arrow_colours


def test_spacetime_orders_lanes_by_zone() -> None:
    spec = {"seed": 1, "zones": {"west": ["w-2", "w-1"], "east": ["e-1", "e-2"]}, "duration": "0.5s",
            "topology": [{"zone": "west", "kind": "complete"}, {"zone": "east", "kind": "complete"},
                         {"between": ["west", "east"]}],
            "data": {"keys": {"hits": "GCounter"}}, "workload": {"rate": "20/s"}}
    run = run_scenario(Scenario.from_data(spec), trace="full")
    (ax,) = plots.spacetime(run).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["w-2", "w-1", "e-1", "e-2"]  # top to bottom


def test_spacetime_aggregates_lanes_per_zone_above_the_limit() -> None:
    run = _small(40, duration="0.3s")
    (ax,) = plots.spacetime(run, window=(0.0, 0.3)).axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) <= plots.AGGREGATE_ABOVE and ax.get_ylabel() == "nodes (by zone)"
    assert labels[0].startswith("dc: dc-1…")  # the top lane holds the zone's first nodes
    sizes = [int(label.rsplit("(", 1)[1].rstrip(")")) for label in labels]
    assert sum(sizes) == 40
    events = run.world.trace.events
    delivered = sum(1 for e in events if e.kind == "deliver" and 0.0 <= float(e.fields["sent_at"]) <= 0.3)
    assert delivered > 0 and _arrows(ax) == delivered
    assert "spacetime.svg" in plots.write_all(run, "svg")
    (small,) = plots.spacetime(run, aggregate_above=40, window=(0.0, 0.1)).axes
    assert len(small.get_yticklabels()) == 40


def test_default_window_covers_the_partition_and_its_heal(quickstart: ScenarioRun) -> None:
    start, end = plots.default_window(quickstart)
    assert start < 1.0 and end > 2.5  # the quickstart's partition runs from 1.0 to 2.5 s
    assert end - start < plots._end(quickstart)


def test_default_window_of_a_failing_run_is_around_the_first_divergence(broken_run: ScenarioRun) -> None:
    began = plots.first_divergence(broken_run)
    assert began is not None
    start, end = plots.default_window(broken_run)
    assert start < began < end
    (ax,) = plots.spacetime(broken_run).axes
    assert any(t.get_text().startswith("divergence begins") for t in ax.get_legend().get_texts())


def test_default_window_without_a_cut_covers_the_first_crash() -> None:
    run = _small(3, duration="3s", faults=[{"at": "1.5s", "crash": "dc-2"}, {"at": "2s", "restart": "dc-2"}])
    assert plots.default_window(run) == (1.25, 2.5)
    assert plots.default_window(_small(3, duration="3s")) == (0.0, 1.0)


def test_first_divergence_is_none_when_every_key_converged(quickstart: ScenarioRun) -> None:
    assert plots.first_divergence(quickstart) is None


def test_plots_need_the_full_trace() -> None:
    run = run_scenario(Scenario.from_yaml(bundled()["quickstart"]))
    with pytest.raises(ValueError, match="trace='full'"):
        plots.distinct_states(run)


def test_drawing_into_given_axes() -> None:
    run = _small(3)
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plots.distinct_states(run, ax=left) is fig
    assert plots.latency_histogram(run, ax=right) is fig


def test_cli_writes_the_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "quickstart", "--plots", "--quiet", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    for name in ("faults", "distinct_states", "traffic", "requests", "latency", "spacetime"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert ElementTree.parse(tmp_path / f"{name}.svg").getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_svg_text_is_the_same_for_the_same_run(quickstart: ScenarioRun) -> None:
    first = plots.svg(plots.distinct_states(quickstart))
    assert first == plots.svg(plots.distinct_states(quickstart))
    assert "<dc:date>" not in first


def test_every_time_plot_draws_every_kind_of_fault() -> None:
    faults = [{"at": "0.2s", "partition": [["dc-1"], ["dc-2", "dc-3"]], "duration": "0.2s"},
              {"at": "0.3s", "one_way": ["dc-2"], "to": ["dc-3"], "duration": "0.2s"},
              {"at": "0.4s", "crash": "dc-3"}, {"at": "0.6s", "restart": "dc-3"},
              {"at": "0.5s", "loss_burst": "dc-1", "to": "dc-2", "duration": "0.2s", "loss": 0.9},
              {"at": "0.7s", "clock": "dc-2", "skew": 0.25}]
    run = _small(3, faults=faults)
    kinds = [w.kind for w in plots.fault_windows(run)]
    assert kinds == ["partition", "one_way", "down", "loss_burst", "clock"]
    expected = {"partition", "one-way cut", "node down", "loss burst", "clock change"}
    for draw in (plots.distinct_states, plots.traffic, plots.requests):
        fig = draw(run)
        legend = fig.axes[0].get_legend()
        assert expected <= {t.get_text() for t in legend.get_texts()}, draw.__name__


def test_requests_plot_counts_every_completed_request() -> None:
    run = _small(3, workload={"rate": "20/s", "write": {"majority": {"timeout": "200ms"}}})
    starts, counts = plots.request_series(run)
    assert sum(map(sum, counts.values())) == len(run.history.operations) > 0
    fig = plots.requests(run)
    top, bottom = fig.axes
    assert top.get_ylabel() == "requests / tick" and bottom.get_ylabel() == "latency (ms)"
    (points,) = [c for c in bottom.collections if c.get_label() == "update majority"]
    assert len(points.get_offsets()) == len(run.history.operations)


def test_fault_timeline_shows_each_node_s_side_down_time_bursts_and_clocks() -> None:
    faults = [{"at": "0.2s", "partition": [["dc-1"], ["dc-2"]], "duration": "0.2s"},
              {"at": "0.4s", "crash": "dc-3"}, {"at": "0.6s", "restart": "dc-3"},
              {"at": "0.5s", "loss_burst": "dc-1", "to": "dc-2", "duration": "0.2s"},
              {"at": "0.7s", "clock": "dc-2", "skew": 0.25}]
    spec = {"seed": 1, "zones": {"dc": 3}, "duration": "1s", "data": {"keys": {"hits": "GCounter"}},
            "workload": {"rate": "20/s"}, "faults": faults}
    run = run_scenario(Scenario.from_data(spec))  # the fault log needs no full trace
    (ax,) = plots.fault_timeline(run).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["dc-1", "dc-2", "dc-3"]
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"partition side 1", "partition side 2", "partition side 3", "node down", "loss burst (sender)",
            "clock change"} <= labels  # dc-3, listed in no group, is a side of its own
    bars = [(p.get_x(), p.get_width(), p.get_y() + p.get_height() / 2) for p in ax.patches]
    assert (0.2, 0.2, 2.0) in [(round(x, 6), round(w, 6), y) for x, w, y in bars]  # dc-1's side, top lane
    assert (0.4, 0.2, 0.0) in [(round(x, 6), round(w, 6), y) for x, w, y in bars]  # dc-3 down, bottom lane
    (empty,) = plots.fault_timeline(_small(3)).axes
    assert "no fault was applied" in [t.get_text() for t in empty.texts]
