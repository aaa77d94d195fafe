"""The generic result of a check run after the quiet phase.

>>> r = CheckResult("converged", False, "2 replicas differ", {"keys": ["k1"]})
>>> r.ok, r.details["keys"]
(False, ['k1'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.deprecation import renamed

if TYPE_CHECKING:
    from sim.world import World

__all__ = ["Check", "CheckResult"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of one named check; a failed check is a value, not an exception."""

    name: str
    ok: bool
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """The result as plain data (JSON-ready when ``details`` is)."""
        return {"name": self.name, "ok": self.ok, "message": self.message,
                "details": dict(self.details)}

    def as_dict(self) -> dict[str, Any]:
        """Deprecated name of :meth:`to_data`."""
        renamed("CheckResult.as_dict", "CheckResult.to_data")
        return self.to_data()


#: a check is called once with the world after the quiet phase
Check = Callable[["World"], CheckResult]
