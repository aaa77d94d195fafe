"""The generic result of a check run after the quiet phase.

>>> r = CheckResult("converged", False, "2 replicas differ", {"keys": ["k1"]})
>>> r.ok, r.details["keys"]
(False, ['k1'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "message": self.message,
                "details": dict(self.details)}


#: a check is called once with the world after the quiet phase
Check = Callable[["World"], CheckResult]
