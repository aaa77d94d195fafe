"""The error a user sees for a bad scenario: where it is and what was expected."""

from __future__ import annotations

import re
from typing import Any

from sim.errors import SimError

__all__ = ["ScenarioError", "Shown", "format_path"]


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,59}$")


def format_path(path: tuple[str | int, ...]) -> str:
    """``("faults", 2, "at")`` -> ``faults[2].at``; the empty path is the document."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _PLAIN.match(str(part)):
            text += f"[{str(part)[:60]!r}]"  # '../x' or a key with a newline: quoted, so the path reads one way
        else:
            text += f".{part}" if text else str(part)
    return text or "(document)"


class Shown(str):
    """A ``found`` text shown as it is, not quoted: a description (``3 levels too deep``), not a value."""


class ScenarioError(SimError):
    """A scenario that cannot run: ``file:line: yaml.path: expected …, found …``."""

    def __init__(self, file: str, line: int | None, path: tuple[str | int, ...], expected: str, found: Any) -> None:
        self.file, self.line, self.path, self.expected, self.found = file, line, path, expected, found
        where = f"{file}:{line}" if line is not None else file
        shown = found if isinstance(found, Shown) or isinstance(found, str) and found.startswith("<") else repr(found)
        super().__init__(f"{where}: {format_path(path)}: expected {expected}, found {shown:.200}")
