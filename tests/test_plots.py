"""The plots of a finished run: each draws the run's own data, with labelled axes."""

from pathlib import Path

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim import plots
from sim.cli import bundled, main
from sim.report import summary
from sim.scenario import Scenario, ScenarioRun, run_scenario


@pytest.fixture(scope="module")
def quickstart() -> ScenarioRun:
    return run_scenario(Scenario.from_yaml(bundled()["quickstart"]), trace="full")


def _small(nodes: int, **extra: object) -> ScenarioRun:
    spec = {"seed": 1, "zones": {"dc": nodes}, "duration": "1s", "data": {"keys": {"hits": "GCounter"}},
            "workload": {"rate": "20/s"}, **extra}
    return run_scenario(Scenario.from_dict(spec), trace="full")


def test_fault_windows_of_the_quickstart(quickstart: ScenarioRun) -> None:
    assert plots.fault_windows(quickstart) == [
        plots.Window("partition", 1.0, 2.5, "fault-0"),
        plots.Window("down", 3.0, 4.0, "dc-3"),
    ]


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
    report = summary(quickstart)

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


def test_spacetime_draws_one_arrow_per_delivery(quickstart: ScenarioRun) -> None:
    fig = plots.spacetime(quickstart, window=(0.9, 1.4))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["dc-1", "dc-2", "dc-3"]
    assert ax.get_xlabel() == "simulated time (s)" and ax.get_ylabel() == "node"
    events = quickstart.world.trace.events
    ids = {e.fields["id"] for e in events if e.kind == "send" and 0.9 <= e.t <= 1.4}
    delivered = sum(1 for e in events if e.kind == "deliver" and e.fields["id"] in ids)
    assert len(ax.texts) == delivered  # each arrow is an annotation
    assert ax.get_xlim() == (0.9, 1.4)


def test_spacetime_keeps_to_max_messages_and_marks_the_crash(quickstart: ScenarioRun) -> None:
    fig = plots.spacetime(quickstart, max_messages=300)
    (ax,) = fig.axes
    sent = sum(1 for e in quickstart.world.trace.events if e.kind == "send")
    assert sent > 300 and f"300 of {sent} messages" in ax.get_title()
    legend = ax.get_legend()
    assert legend is not None
    assert {"dropped", "partition", "crash / down", "restart"} <= {t.get_text() for t in legend.get_texts()}


def test_spacetime_refuses_too_many_nodes() -> None:
    run = _small(13, duration="0.3s")
    with pytest.raises(ValueError, match="13 nodes is unreadable"):
        plots.spacetime(run)
    assert "spacetime.png" not in plots.write_all(run)
    assert isinstance(plots.spacetime(run, max_nodes=13), Figure)


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
    for name in ("distinct_states.png", "traffic.png", "latency.png", "spacetime.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
