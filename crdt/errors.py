"""The one exception family of the :mod:`crdt` package.

Every message names the type, the operation and the offending value, so a user can act on it.
"""

from __future__ import annotations

__all__ = ["CrdtError", "TypeMismatchError", "InvalidOperationError", "DecodeError", "RegistrationError"]


class CrdtError(Exception):
    """Base class of every error raised by :mod:`crdt`."""


class TypeMismatchError(CrdtError, TypeError):
    """Two values of different CRDT types were combined (merged, compared, applied)."""

    def __init__(self, type_name: str, operation: str, other: object) -> None:
        found = getattr(type(other), "type_name", type(other).__name__)
        super().__init__(f"{type_name}.{operation}: expected a {type_name}, found {found} ({other!r:.80})")


class InvalidOperationError(CrdtError, ValueError):
    """A mutation was asked for with an argument the type's semantics forbid."""

    def __init__(self, type_name: str, operation: str, problem: str, value: object) -> None:
        self.value = value
        super().__init__(f"{type_name}.{operation}: {problem}, found {value!r:.80}")


class DecodeError(CrdtError, ValueError):
    """Encoded data could not be turned back into a value."""

    def __init__(self, type_name: str, problem: str, data: object) -> None:
        super().__init__(f"{type_name}.from_data: {problem}, found {data!r:.120}")


class RegistrationError(CrdtError, TypeError):
    """A type could not be registered: its name is taken, or it lacks a form of an operation."""

    def __init__(self, cls: type, problem: str) -> None:
        super().__init__(f"register({cls.__qualname__}): {problem}")
