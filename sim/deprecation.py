"""Old names kept for a while after a rename: each warns (a DeprecationWarning) and forwards.

The naming scheme is in docs/architecture.md ("Names"). An alias is a thin method or function
that calls :func:`renamed` and then the new name; nothing in the project calls an alias.
"""

from __future__ import annotations

import warnings

__all__ = ["renamed"]


def renamed(old: str, new: str) -> None:
    """Warn that ``old`` is now ``new`` (a :class:`DeprecationWarning` at the caller's line).

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     renamed("RunResult.as_dict", "RunResult.to_data")
    >>> print(caught[0].message)
    RunResult.as_dict is deprecated, use RunResult.to_data (same arguments, same result)
    """
    # stacklevel 3: past this function and the alias, at the line that called the old name
    warnings.warn(f"{old} is deprecated, use {new} (same arguments, same result)", DeprecationWarning, stacklevel=3)
