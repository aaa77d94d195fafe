"""Reading a scenario file safely: bounded bytes, strict UTF-8, and a YAML loader with limits.

A scenario file is untrusted input. Before any YAML is parsed the file must be a regular file
(not a FIFO, a device such as ``/dev/zero`` or a directory) of at most ``limits.file_bytes``
bytes, and its bytes must be valid UTF-8 (the error names the byte offset). The YAML loader
then refuses a duplicate key (naming both lines), nesting deeper than ``limits.yaml_depth`` and
documents whose aliases expand to more than ``limits.yaml_values`` values (a "billion laughs"
bomb is a few hundred bytes), and a recursive alias. Every refusal is a one-line
:class:`ScenarioError`.

>>> data, lines = load_yaml("a: 1\\nb: [x, y]\\n", "x.yaml")
>>> data, lines[("b", 1)]
({'a': 1, 'b': ['x', 'y']}, 2)
>>> load_yaml("a: 1\\nb: 2\\na: 3\\n", "x.yaml")
Traceback (most recent call last):
...
sim.scenario.errors.ScenarioError: x.yaml:3: a: expected each key once (first on line 1), found 'a' again
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from sim.scenario.errors import ScenarioError, Shown
from sim.scenario.limits import DEFAULT_LIMITS, Limits

__all__ = ["load_yaml", "read_text"]

Path_ = tuple[str | int, ...]


def read_text(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """The text of the scenario file at ``path``, refusing what is not a small UTF-8 regular file."""
    file = str(path)
    try:
        # O_NONBLOCK: opening a FIFO that has no writer would otherwise wait forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        raise ScenarioError(file, None, (), "a readable scenario file", f"<{error.strerror}>") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError(file, None, (), "a regular file", f"<{_kind(info.st_mode)}>")
        if info.st_size > limits.file_bytes:
            raise ScenarioError(file, None, (), f"a file of at most {limits.file_bytes:,} bytes "
                                f"(raise with --limit file_bytes=N)", f"<{info.st_size:,} bytes>")
        chunks, total = [], 0
        while total <= limits.file_bytes:  # the size can change between fstat and read
            chunk = os.read(fd, min(1 << 16, limits.file_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as error:
        raise ScenarioError(file, None, (), "a readable scenario file", f"<{error.strerror}>") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limits.file_bytes:
        raise ScenarioError(file, None, (), f"a file of at most {limits.file_bytes:,} bytes "
                            f"(raise with --limit file_bytes=N)", f"<more than {limits.file_bytes:,} bytes>")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ScenarioError(file, line, (), "UTF-8 text",
                            f"<byte 0x{raw[error.start]:02x} at byte offset {error.start}>") from None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


class _Refused(Exception):
    """A limit or rule of the loader was broken at ``mark``."""

    def __init__(self, mark: Any, path: Path_, expected: str, found: str) -> None:
        self.mark, self.path, self.expected, self.found = mark, path, expected, found


#: libyaml's parser when it is installed (a 1 MiB file parses in milliseconds), else PyYAML's own
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_depth(text: str, limits: Limits) -> None:
    """Refuse nesting deeper than the limit from the event stream, before anything recurses over it.

    The parser is iterative; the composer (in C or Python) recurses once per level, so a file of
    100,000 brackets would exhaust the stack there.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, _OPEN):
            depth += 1
            if depth > limits.yaml_depth:
                raise _Refused(event.start_mark, (), f"nesting at most {limits.yaml_depth} levels deep",
                               "deeper nesting")
        elif isinstance(event, _CLOSE):
            depth -= 1


_STR, _MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expanded_sizes(root: yaml.Node) -> dict[int, int]:
    """Values under each node once aliases are expanded, computed once per node (a bomb's size is
    found without expanding it); an alias to its own ancestor is refused."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in open_nodes:  # reached again while its own expansion is under way
            raise _Refused(node.start_mark, (), "no recursive alias", "an alias to its own ancestor")
        open_nodes.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise _Refused(child.start_mark, (), "no recursive alias", "an alias to its own ancestor")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes


def _measure(node: yaml.Node, path: Path_, lines: dict[Path_, int], limits: Limits) -> None:
    """Refuse an alias bomb; record the line of every path; refuse duplicate and non-text keys."""
    sizes = _expanded_sizes(node)
    if sizes[id(node)] > limits.yaml_values:
        where, current = path, node
        while True:  # point at the biggest part
            bigger = [(sizes[id(v)], k) for k, v in _named_children(current)]
            if not bigger or max(bigger)[0] <= limits.yaml_values // 10:
                break
            _, step = max(bigger, key=lambda item: item[0])
            current = dict(_named_children(current))[step]
            where = (*where, step)
        raise _Refused(current.start_mark, where, f"at most {limits.yaml_values:,} values once aliases are expanded "
                       "(raise with --limit yaml_values=N)", f"{sizes[id(node)]:,} values")
    seen_nodes: set[int] = set()
    # Each node once: a path through an alias takes the line of the alias's nearest recorded ancestor.
    stack: list[tuple[yaml.Node, Path_]] = [(node, path)]
    while stack:
        current, where = stack.pop()
        if id(current) in seen_nodes:
            continue
        seen_nodes.add(id(current))
        lines.setdefault(where, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in current.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _Refused(key_node.start_mark, where, "a plain key (a string)", "a mapping or a list as a key")
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key_node.tag not in (_STR, _MERGE):  # `1:` or `true:` would be a number or a boolean
                    raise _Refused(key_node.start_mark, (*where, key), f"a text key (quote it: '{key}')", repr(key))
                if key in seen and key_node.tag != _MERGE:
                    raise _Refused(key_node.start_mark, (*where, key), f"each key once (first on line {seen[key]})",
                                   f"{key!r} again")
                seen.setdefault(key, line)
                # An error about a key points at the key's line, not where its value starts.
                lines.setdefault((*where, key), line)
                stack.append((value_node, (*where, key)))
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                stack.append((item, (*where, index)))


def _named_children(node: yaml.Node) -> list[tuple[str | int, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        return [(k.value, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]
    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    return []


def load_yaml(text: str, source: str, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, dict[Path_, int]]:
    """Parse ``text`` once: the data and the line of every path, within ``limits``."""
    loader = None
    try:
        _check_depth(text, limits)
        loader = _LOADER(text)
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        if node is None:
            return None, lines
        _measure(node, (), lines, limits)
        data = loader.construct_document(node)
    except _Refused as refused:
        line = refused.mark.line + 1 if refused.mark is not None else None
        raise ScenarioError(source, line, refused.path, refused.expected, Shown(refused.found)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError(source, line, (), "valid YAML", f"<{_one_line(error.problem or str(error))}>") from None
    except yaml.YAMLError as error:  # e.g. a reader error: a control character in the text
        mark = getattr(error, "position", None)
        where = f" at character {mark}" if mark is not None else ""
        raise ScenarioError(source, None, (), "valid YAML", f"<{_one_line(str(error))}{where}>") from None
    except (ValueError, OverflowError, RecursionError) as error:  # a constructor refused a scalar (e.g. a date)
        raise ScenarioError(source, None, (), "valid YAML values", f"<{_one_line(str(error))}>") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
