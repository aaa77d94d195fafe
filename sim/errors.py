"""Exceptions of the :mod:`sim` package.

Every error the simulator raises on purpose derives from :class:`SimError`. Bad input (a
scenario value, a link parameter, a fault naming an unknown node) is a :class:`ConfigError`
that carries the parameter, what was expected and what was found, so an outer layer (the YAML
loader) can re-raise it with a file and line without parsing the message.

>>> err = ConfigError("link a->b: loss", "must be a probability in [0, 1]", 1.5)
>>> str(err)
'link a->b: loss must be a probability in [0, 1], found 1.5'
>>> err.prefixed("scenario").param
'scenario: link a->b: loss'
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "SimError"]


class SimError(Exception):
    """Base class of every error raised by the simulator."""


class ConfigError(SimError):
    """Invalid configuration, detected before (or instead of) running.

    ``param`` names the offending parameter (a dotted or descriptive path), ``expected`` says
    what a valid value looks like and ``found`` is the value that was given.
    """

    def __init__(self, param: str, expected: str, found: Any) -> None:
        self.param = param
        self.expected = expected
        self.found = found
        super().__init__(f"{param} {expected}, found {found!r}")

    def prefixed(self, prefix: str) -> ConfigError:
        """The same error with ``prefix`` (e.g. ``"link a->b"``) put in front of the param."""
        return ConfigError(f"{prefix}: {self.param}", self.expected, self.found)
