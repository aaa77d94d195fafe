"""``crdtsim bench goals``: rows that say what they could not measure, whole-process figures."""

import argparse
import sys
from unittest import mock

import pytest

import sim.benchmarks.crdt
from sim.benchmarks import goals


def _args(**kwargs: object) -> argparse.Namespace:
    return argparse.Namespace(**{"peer_python": None, "runs": 1, **kwargs})


def test_a_child_process_reports_its_own_exit_code_cpu_and_memory() -> None:
    burn = "x = bytearray(64 * 1024 * 1024); s = sum(range(3_000_000)); raise SystemExit(3)"
    run = goals.run_process([sys.executable, "-c", burn])
    assert run.code == 3
    assert run.cpu > 0
    assert run.peak_mib > 64  # the child's 64 MiB, not this process's own peak


def test_a_timed_out_child_is_killed_and_reported() -> None:
    run = goals.run_process([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    assert run.code == -9


def test_without_a_peer_python_the_happysim_rows_say_how_to_measure() -> None:
    rows = goals.happysim_rows(None)
    assert [r.met for r in rows] == [None, None]
    assert all("--peer-python" in r.measured and "happysim==0.2.5" in r.measured for r in rows)


def test_without_crdts_the_comparison_row_says_how_to_install_it() -> None:
    missing = {"ours": 1e-5, "single": 1e-5, "crdts": None}
    with mock.patch.object(sim.benchmarks.crdt, "delta_apply", return_value=missing):
        (row,) = goals.rows(["crdts"], _args())
    assert row.met is None and "pip install" in row.measured


def test_a_measured_row_compares_with_the_goal() -> None:
    fast = {"ours": 1e-6, "single": 1e-5, "crdts": 2e-5}
    slow = {"ours": 1e-5, "single": 1e-5, "crdts": 2e-5}
    with mock.patch.object(sim.benchmarks.crdt, "delta_apply", return_value=fast):
        assert goals.crdts_row().met is True and goals.crdts_row().measured.startswith("20.0x")
    with mock.patch.object(sim.benchmarks.crdt, "delta_apply", return_value=slow):
        assert goals.crdts_row().met is False


def test_a_broken_benchmark_gives_a_row_not_a_traceback() -> None:
    with mock.patch.object(sim.benchmarks.crdt, "delta_apply", side_effect=RuntimeError("boom")):
        (row,) = goals.rows(["crdts"], _args())
    assert row.met is None and "RuntimeError: boom" in row.measured


def test_benchmarks_get_only_the_arguments_they_accept() -> None:
    def narrow(n: int) -> int:
        return n

    with mock.patch.object(sim.benchmarks.crdt, "narrow", narrow, create=True):
        assert goals._call("crdt", "narrow", n=3, in_flight=1000) == 3


def test_the_table_exits_1_unless_every_row_is_met(capsys: pytest.CaptureFixture[str]) -> None:
    assert goals.main(["--only", "happysim"]) == 1
    out = capsys.readouterr().out
    assert "gossip-1000 CPU vs happysim" in out and "not measured" in out
    with pytest.raises(SystemExit):
        goals.main(["--only", "nonsense"])
