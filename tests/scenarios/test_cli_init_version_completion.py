"""``crdtsim --version``, ``crdtsim init`` and ``crdtsim completion``."""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from sim.cli import _templates, main


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"crdtsim {version('crdtsim')}"


@pytest.mark.parametrize("template", ["data", "eventsourcing", "app"])
def test_init_writes_a_commented_scenario_that_validates_and_runs(
    tmp_path: Path, template: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "shop.yaml"
    assert main(["init", str(tmp_path / "shop"), "--template", template]) == 0
    text = path.read_text()
    comments = [line for line in text.splitlines() if "#" in line]
    assert len(comments) >= 5 and "crdtsim run " + str(path) in text  # it says how to use itself
    assert yaml.safe_load(text)["name"] == "shop"
    assert main(["validate", str(path)]) == 0
    assert main(["run", str(path), "--quiet"]) == 0
    assert capsys.readouterr().out.count("scenario shop  seed 1  OK") == 1


def test_init_defaults_to_the_data_template_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert "data" in yaml.safe_load((tmp_path / "my-scenario.yaml").read_text())
    assert sorted(_templates()) == ["app", "data", "eventsourcing"]


def test_init_never_overwrites_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("keep me\n")
    assert main(["init", str(path)]) == 2
    assert path.read_text() == "keep me\n"
    assert f"{path} exists" in capsys.readouterr().err


def _complete(script: str, *words: str) -> list[str]:
    """What bash offers after ``words`` (the last one being completed), with the script sourced."""
    line = " ".join(f"'{w}'" for w in words)
    probe = (f"source /dev/stdin <<'EOF'\n{script}\nEOF\n"
             f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _shtab_crdtsim; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_bash_completion_offers_commands_options_and_templates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert _complete(script, "crdtsim", "in") == ["init"]
    assert _complete(script, "crdtsim", "--ver") == ["--version"]
    assert _complete(script, "crdtsim", "init", "x", "--template", "") == ["app", "data", "eventsourcing"]
    assert "run" in _complete(script, "crdtsim", "")
    assert _complete(script, "crdtsim", "run", "quick") == ["quickstart"]  # bundled scenario names
    assert _complete(script, "crdtsim", "sweep", "todo-acc") == ["todo-access"]


def test_bash_completion_of_a_scenario_offers_files_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine.yaml").write_text("zones: {dc: 1}\n")
    assert main(["completion", "bash"]) == 0
    offered = _complete(capsys.readouterr().out, "crdtsim", "validate", str(tmp_path / "mi"))
    assert offered == [str(tmp_path / "mine.yaml")]


def test_zsh_and_tcsh_completion_scripts_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0 and "#compdef crdtsim" in capsys.readouterr().out
    assert main(["completion", "tcsh"]) == 0 and "complete crdtsim" in capsys.readouterr().out
