"""Reading a scenario file safely: what is refused, with which one-line message (sim.scenario.read)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.scenario import Scenario, ScenarioError
from sim.scenario.limits import Limits


def _refused(tmp_path: Path, raw: bytes | str, limits: Limits | None = None) -> str:
    file = tmp_path / "s.yaml"
    file.write_bytes(raw.encode() if isinstance(raw, str) else raw)
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_yaml(file, limits or Limits())
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{file}"), message
    return message.removeprefix(str(file))


def test_a_valid_file_reads(tmp_path: Path) -> None:
    file = tmp_path / "ok.yaml"
    file.write_text("zones: {dc: 3}\n")
    assert Scenario.from_yaml(file).get("zones") == {"dc": 3}


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "/dev/null", "/"])
def test_only_regular_files_are_read(special: str) -> None:
    if not os.path.exists(special):
        pytest.skip(f"{special} is absent here")
    with pytest.raises(ScenarioError, match=r": \(document\): expected a regular file, found <a (character device|"
                                            r"directory)>"):
        Scenario.from_yaml(special)


def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="expected a regular file, found <a FIFO>"):
        Scenario.from_yaml(fifo)


def test_the_size_is_bounded_and_the_bound_can_be_raised(tmp_path: Path) -> None:
    raw = "zones: {dc: 3}\n" + "# a comment\n" * 1000
    message = _refused(tmp_path, raw, Limits(file_bytes=1000))
    assert message == (": (document): expected a file of at most 1,000 bytes (raise with --limit file_bytes=N), "
                       f"found <{len(raw):,} bytes>")
    assert Scenario.from_yaml(tmp_path / "s.yaml", Limits(file_bytes=len(raw))).get("zones") == {"dc": 3}


def test_bad_utf8_names_the_byte_offset_and_line(tmp_path: Path) -> None:
    raw = b"zones: {dc: 3}\nname: caf\xe9\n"
    assert _refused(tmp_path, raw) == ":2: (document): expected UTF-8 text, found <byte 0xe9 at byte offset 24>"


def test_binary_garbage_and_control_characters_are_one_line_errors(tmp_path: Path) -> None:
    assert "expected UTF-8 text" in _refused(tmp_path, bytes(range(256)))
    assert "expected valid YAML" in _refused(tmp_path, "zones: {dc: 3}\nname: a\x07b\n")


def test_a_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    message = _refused(tmp_path, "zones:\n  dc: 3\n  web: 2\n  dc: 4\n")
    assert message == ":4: zones.dc: expected each key once (first on line 2), found 'dc' again"


@pytest.mark.parametrize("raw, found", [("zones: {dc: 3, 7: 2}\n", "'7'"), ("zones: {dc: 3}\ntrue: 1\n", "'true'"),
                                        ("zones: {dc: 3}\n? [a, b]\n: 1\n", "a mapping or a list as a key")])
def test_keys_must_be_text(tmp_path: Path, raw: str, found: str) -> None:
    assert _refused(tmp_path, raw).endswith(f"found {found}")


def test_nesting_depth_is_bounded_before_anything_recurses(tmp_path: Path) -> None:
    message = _refused(tmp_path, "zones: {dc: 3}\nname: " + "[" * 100 + "]" * 100 + "\n")
    assert message == ":2: (document): expected nesting at most 40 levels deep, found deeper nesting"
    # libyaml refuses even deeper nesting itself; either way one line, no RecursionError
    assert "nesting" in _refused(tmp_path, "zones: {dc: 3}\nname: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert _refused(tmp_path, "zones: {dc: 3}\nname: " + "[" * 30 + "]" * 30 + "\n").startswith(":2: name: expected")


def test_an_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, y]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 12)]
    message = _refused(tmp_path, "\n".join(lines) + "\nzones: {dc: 3}\n")
    assert "expected at most 100,000 values once aliases are expanded (raise with --limit yaml_values=N)" in message
    found = int(message.rsplit("found ", 1)[1].removesuffix(" values").replace(",", ""))
    assert found > 3 * 9**11  # the expanded size, counted without building it


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert _refused(tmp_path, "zones: {dc: 3}\nname: &a [*a]\n").endswith(
        "expected no recursive alias, found an alias to its own ancestor")


def test_a_shared_alias_within_the_bound_is_fine(tmp_path: Path) -> None:
    file = tmp_path / "ok.yaml"
    file.write_text("base: &b {dc: 3}\nzones: *b\n")
    with pytest.raises(ScenarioError, match="base: expected a known key"):  # the anchor's own key is unknown
        Scenario.from_yaml(file)
    file.write_text("zones: &b {dc: 3}\ndata: {nodes: [dc-1, dc-2], keys: {k: GCounter}}\n")
    assert Scenario.from_yaml(file).get("zones") == {"dc": 3}


def test_a_line_break_in_a_key_keeps_the_message_on_one_line(tmp_path: Path) -> None:
    message = _refused(tmp_path, 'zones: {dc: 3}\n"a\\nb": 1\n')
    assert message.startswith(":2: ['a\\nb']: expected a known key")
