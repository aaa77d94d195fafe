"""The generic result of a check run after the quiet phase.

A check ends in one of three states (:attr:`CheckResult.status`): ``ok`` (it looked and found
nothing wrong), ``failed`` (it found something wrong; the run fails), or ``not checked`` (there
was nothing for it to look at: no client received a message, no export ran). A check that had
nothing to look at does not fail the run, but it never says ``ok`` either, so a run that
checked nothing cannot pass for one that checked and found nothing.

>>> r = CheckResult("converged", False, "2 replicas differ", {"keys": ["k1"]})
>>> r.ok, r.status, r.details["keys"]
(False, 'failed', ['k1'])
>>> CheckResult.not_checked("app.leaks", "no message reached a user zone").status
'not checked'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sim.deprecation import renamed

if TYPE_CHECKING:
    from sim.world import World

__all__ = ["Check", "CheckResult", "Status"]

#: how a check ended
Status = Literal["ok", "failed", "not checked"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of one named check; a failed check is a value, not an exception.

    ``ok`` is False only for a check that failed; ``checked`` is False for one that had
    nothing to look at (then ``ok`` is True: nothing failed).
    """

    name: str
    ok: bool
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    checked: bool = True

    def __post_init__(self) -> None:
        if not self.checked and not self.ok:
            raise ValueError(f"check {self.name}: a check that looked at nothing cannot have failed")

    @classmethod
    def not_checked(cls, name: str, why: str, details: Mapping[str, Any] | None = None) -> CheckResult:
        """The result of a check that had nothing to look at; ``why`` says what was missing."""
        return cls(name, True, why, dict(details or {}), checked=False)

    @property
    def status(self) -> Status:
        """``ok``, ``failed`` or ``not checked``."""
        if not self.ok:
            return "failed"
        return "ok" if self.checked else "not checked"

    def to_data(self) -> dict[str, Any]:
        """The result as plain data (JSON-ready when ``details`` is)."""
        return {"name": self.name, "ok": self.ok, "status": self.status, "message": self.message,
                "details": dict(self.details)}

    def as_dict(self) -> dict[str, Any]:
        """Deprecated name of :meth:`to_data`."""
        renamed("CheckResult.as_dict", "CheckResult.to_data")
        return self.to_data()


#: a check is called once with the world after the quiet phase
Check = Callable[["World"], CheckResult]
