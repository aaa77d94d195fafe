"""Results directories: ``--window``, ``crdtsim report DIR``, ``crdtsim serve DIR``, progress."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim import plots
from sim.cli import _progress, main
from sim.scenario import Scenario, build, run_scenario
from sim.serve import make_server, results_directories

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "examples" / "broken" / "lossy-protocols-unreliable.yaml"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep-like tree: one passing and one failing results directory."""
    root = tmp_path_factory.mktemp("results")
    assert main(["run", "quickstart", "--quiet", "--out", str(root / "quickstart"), "--window", "1s..1.5s"]) == 0
    quiet = dict(Scenario.from_yaml(BROKEN).data, quiet_max=20)
    (root / "broken.json").write_text(json.dumps(quiet))
    assert main(["run", str(root / "broken.json"), "--quiet", "--out", str(root / "hunt" / "seed-5")]) == 1
    return root


def test_window_sets_the_space_time_diagram(results: Path) -> None:
    svg = (results / "quickstart" / "spacetime.svg").read_text()
    assert "<!-- quickstart: space-time diagram 1.00–1.50s (" in svg  # matplotlib keeps each text as a comment
    default = (results / "hunt" / "seed-5" / "spacetime.svg").read_text()
    run = run_scenario(Scenario.from_data(json.loads((results / "broken.json").read_text())), trace="full")
    began = plots.first_divergence(run)
    lo, hi = plots.default_window(run)
    assert began is not None and lo < began < hi
    assert f"space-time diagram {lo:.2f}–{hi:.2f}s" in default  # around the first divergence
    summary = json.loads((results / "quickstart" / "summary.json").read_text())
    assert summary["rerun"] == "crdtsim run quickstart --seed 42 --window 1s..1.5s"


@pytest.mark.parametrize("window", ["2.5s..0.8s", "1s", "soon..later"])
def test_a_bad_window_is_bad_input(window: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "quickstart", "--quiet", "--out", str(tmp_path), "--window", window]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crdtsim: --window must be ") and f"found '{window.split('..')[0]}" in err
    assert not list(tmp_path.iterdir())


def test_window_needs_an_out_dir(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "quickstart", "--window", "1s..2s"]) == 2
    assert "give --out DIR" in capsys.readouterr().err


def test_report_rebuilds_the_page_from_the_directory_alone(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = results / "hunt" / "seed-5"
    page = directory / "report.html"
    original = page.read_text()
    page.unlink()
    assert main(["report", str(directory)]) == 0
    assert capsys.readouterr().out.strip() == str(page)
    assert page.read_text() == original
    assert "FAILED" in original and "by_op" in original and "data:image/svg+xml;base64," in original
    assert "http://" not in original.replace('"http://www.w3.org', "") and "<script" not in original


def test_report_of_a_directory_without_results_is_bad_input(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no summary.json" in capsys.readouterr().err


@pytest.fixture()
def server(results: Path) -> Iterator[str]:
    httpd = make_server(results, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


def test_serve_lists_every_results_directory_failing_first(server: str, results: Path) -> None:
    status, index = _get(server + "/")
    assert status == 200
    failing, passing = index.index("hunt/seed-5"), index.index("quickstart")
    assert failing < passing and "FAILED" in index and "convergence:" in index
    status, page = _get(server + "/hunt/seed-5/report.html")
    assert status == 200 and page == (results / "hunt" / "seed-5" / "report.html").read_text()
    assert [str(p) for p, _ in results_directories(results)] == ["hunt/seed-5", "quickstart"]


def test_serve_builds_a_missing_report_without_writing_it(server: str, results: Path) -> None:
    (results / "quickstart" / "report.html").rename(results / "quickstart" / "kept.html")
    try:
        status, page = _get(server + "/quickstart/report.html")
        assert status == 200 and "OK: scenario quickstart" in page
        assert not (results / "quickstart" / "report.html").exists()
    finally:
        (results / "quickstart" / "kept.html").rename(results / "quickstart" / "report.html")
    with pytest.raises(urllib.error.HTTPError) as missing:
        _get(server + "/nothing/report.html")
    assert missing.value.code == 404


def test_progress_covers_the_quiet_phase() -> None:
    run = build(Scenario.from_data({"seed": 1, "zones": {"dc": 3}, "duration": "1s", "quiet_max": 50,
                                    "data": {"keys": {"k": "GCounter"}}, "workload": {"rate": "20/s"}}))
    out = io.StringIO()
    close = _progress(run, True, file=out)
    run.run()
    close()
    shown = out.getvalue()
    assert "workload" in shown and "quiet" in shown


def test_the_summary_lists_the_journals_a_run_wrote_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "es-counter", "--quiet", "--json", "--out", str(tmp_path)]) == 0
    listed = json.loads(capsys.readouterr().out)["files"]
    journals = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.sqlite"))
    assert journals == ["counter-1/dc-1.sqlite", "counter-1/dc-2.sqlite", "counter-1/dc-3.sqlite"]
    assert set(journals) <= set(listed)
    kept = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(("-wal", "-shm"))]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in kept) == listed  # SQLite's open-file companions aside


@pytest.mark.slow
def test_a_sweep_keeps_the_results_of_its_failing_seeds_for_serve(results: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    args = ["sweep", str(results / "broken.json"), "--seeds", "5-7", "--workers", "1", "--out", str(out), "--keep", "2"]
    assert main([*args, "--json"]) == 1
    swept = json.loads(capsys.readouterr().out)
    failing = [r["seed"] for r in swept["runs"] if not r["ok"]]
    assert len(failing) == 3
    assert sorted(p.name for p in out.iterdir()) == ["seed-5", "seed-6", "sweep.json"]  # --keep 2
    assert json.loads((out / "sweep.json").read_text()) == swept
    summary = json.loads((out / "seed-6" / "summary.json").read_text())
    assert summary["seed"] == 6 and not summary["ok"] and "report.html" in summary["files"]
    assert summary["rerun"] == f"crdtsim run {results / 'broken.json'} --seed 6"
    assert [str(p) for p, _ in results_directories(out)] == ["seed-5", "seed-6"]
