"""A run's output directory, written all-or-nothing: the one place every output writer writes into.

A run writes every file (summary, traces, plots, SQLite journals and stores) into a fresh
staging directory next to ``out``; :meth:`RunDirectory.commit` moves it into place once
everything is written, and anything that goes wrong (an error, Ctrl-C, SIGTERM) discards it,
so ``out`` either holds one complete run or is left as it was. An existing ``out`` is refused
unless it is empty or ``force=True``, which replaces it whole. Because the staging directory is new, a run
never reads state (journals) left by another.

The API for writers is small: ``rundir.path(name)`` is where to write a file (parents made,
proven inside the directory), ``rundir.write(name, writer)`` calls ``writer(path)``, and
``write_text`` / ``write_json`` cover the common cases. Any ``OSError`` becomes an
:class:`OutputError` (a one-line message naming the file).

>>> import tempfile, pathlib
>>> scratch = tempfile.TemporaryDirectory()
>>> parent = pathlib.Path(scratch.name)
>>> with RunDirectory(parent / "out") as rundir:
...     rundir.write_json("summary.json", {"ok": True})
...     _ = rundir.commit()
>>> sorted(p.name for p in (parent / "out").iterdir()), sorted(p.name for p in parent.iterdir())
(['summary.json'], ['out'])
>>> RunDirectory(parent / "out")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sim.output.OutputError: .../out exists; give --force to replace it
>>> child_path(parent, "../x")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sim.output.OutputError: ../x: a run's files must lie inside its directory ...
>>> scratch.cleanup()
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from sim.errors import SimError

__all__ = ["OutputError", "RunDirectory", "child_path", "fresh_directory"]


class OutputError(SimError):
    """An output file or directory could not be written (a full disk, a read-only place, a bad --out)."""


def child_path(root: str | Path, *parts: str) -> Path:
    """``root/parts...``, refusing any result outside ``root`` (``..``, an absolute part, a symlink out)."""
    base = Path(root).resolve()
    candidate = base.joinpath(*parts)
    if any(not part or "\x00" in part for part in parts) or not candidate.resolve().is_relative_to(base):
        raise OutputError(f"{'/'.join(parts)}: a run's files must lie inside its directory {base}")
    return candidate


def fresh_directory(workdir: str | Path, name: str) -> Path:
    """``workdir/name`` for a run's SQLite files: inside ``workdir``, and holding nothing of an earlier run."""
    directory = child_path(workdir, name)
    if directory.exists() and any(directory.iterdir()):
        raise OutputError(f"{directory} holds files of an earlier run; a run starts from empty journals "
                          "(give a fresh output directory)")
    return directory


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


class RunDirectory:
    """Stage a run's files in a private directory; :meth:`commit` moves them to ``out`` at once.

    ``out=None`` makes a temporary directory that :meth:`discard` (or leaving the ``with``
    block) removes: the place for the SQLite files of a run that keeps no output.
    """

    def __init__(self, out: str | Path | None, *, force: bool = False) -> None:
        self.out = Path(out) if out is not None else None
        self.force = force
        self.committed = False
        try:
            if self.out is None:
                self.root = Path(tempfile.mkdtemp(prefix="crdtsim-"))
                return
            if self.out.exists() or self.out.is_symlink():
                if not self.out.is_dir() or self.out.is_symlink():
                    raise OutputError(f"{self.out} is not a directory; --out names a directory to create")
                if not force and any(self.out.iterdir()):  # an empty directory holds no run to lose
                    raise OutputError(f"{self.out} exists; give --force to replace it")
            parent = self.out.absolute().parent
            parent.mkdir(parents=True, exist_ok=True)
            # A sibling of ``out``, so the final move is a rename within one file system.
            self.root = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.crdtsim-", dir=parent))
        except OSError as error:
            raise OutputError(f"cannot create the output directory {self.out}: {_reason(error)}") from None

    # -- writing ---------------------------------------------------------------------------

    def path(self, *parts: str) -> Path:
        """Where to write ``parts`` (e.g. ``"plots", "traffic.png"``); its parent directories exist."""
        target = child_path(self.root, *parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"cannot write {self._shown(parts)}: {_reason(error)}") from None
        return target

    def write(self, name: str, writer: Callable[[Path], Any]) -> None:
        """Call ``writer(path)`` for the file ``name``; an ``OSError`` becomes an :class:`OutputError`."""
        target = self.path(name)
        try:
            writer(target)
        except OSError as error:
            raise OutputError(f"cannot write {self._shown((name,))}: {_reason(error)}") from None

    def write_text(self, name: str, text: str) -> None:
        self.write(name, lambda p: p.write_text(text, encoding="utf-8"))

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, indent=2, sort_keys=True) + "\n")

    def _shown(self, parts: tuple[str, ...]) -> str:
        return str(Path(self.out or self.root, *parts))

    # -- finishing -------------------------------------------------------------------------

    def commit(self) -> Path:
        """Move the staged files to ``out`` (replacing it when ``force``); returns ``out``."""
        if self.out is None:
            raise OutputError("a temporary run directory has nowhere to be committed")
        trash = None
        try:
            if self.out.exists():
                if not self.force and any(self.out.iterdir()):  # filled meanwhile by someone else: keep it
                    raise OutputError(f"{self.out} exists; give --force to replace it")
                trash = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-", dir=self.root.parent))
                os.rename(self.out, trash / "old")
            os.rename(self.root, self.out)
        except OSError as error:
            if trash is not None and (trash / "old").exists() and not self.out.exists():
                os.rename(trash / "old", self.out)  # put the previous run back
            raise OutputError(f"cannot move the run into {self.out}: {_reason(error)}") from None
        finally:
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
        self.committed = True
        return self.out

    def discard(self) -> None:
        """Remove the staged files (nothing of this run is left behind)."""
        if not self.committed:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.discard()
