"""Sessions: claims signed with HMAC-SHA256 by the node that issued them.

Each node's secret is derived from the world seed (``world.rng("app-secret:<node>")``), so runs
are reproducible and nothing reads ``os.urandom``.

>>> s = issue({"user": "u1", "node": "client-1", "issuer": "server-1", "exp": 10.0}, b"k")
>>> verify(s, b"k", now=1.0), verify(s, b"k", now=11.0), verify(s, b"other", now=1.0)
('ok', 'expired', 'forged')
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.trace import canonical_json

if TYPE_CHECKING:
    from sim.world import World

__all__ = ["Session", "issue", "verify", "secret_for", "forge"]


@dataclass(frozen=True)
class Session:
    """Claims (``user``, ``node``, ``issuer``, ``exp`` in simulated seconds) and their signature."""

    claims: tuple[tuple[str, Any], ...]
    signature: str

    def claim(self, name: str) -> Any:
        return dict(self.claims).get(name)

    @property
    def user(self) -> str:
        return str(self.claim("user"))

    def to_data(self) -> dict[str, Any]:
        return {"claims": dict(self.claims), "signature": self.signature}

    def size(self) -> int:
        return len(canonical_json(self.to_data()))


def _sign(claims: tuple[tuple[str, Any], ...], secret: bytes) -> str:
    return hmac.new(secret, canonical_json(dict(claims)).encode(), hashlib.sha256).hexdigest()


def issue(claims: dict[str, Any], secret: bytes) -> Session:
    frozen = tuple(sorted(claims.items()))
    return Session(frozen, _sign(frozen, secret))


def forge(claims: dict[str, Any]) -> Session:
    """A session an attacker made up: the right shape, a signature made without the secret."""
    frozen = tuple(sorted(claims.items()))
    return Session(frozen, hashlib.sha256(canonical_json(dict(frozen)).encode()).hexdigest())


def verify(session: Session, secret: bytes, now: float) -> str:
    """``"ok"``, ``"forged"`` (bad signature) or ``"expired"``."""
    if not hmac.compare_digest(session.signature, _sign(session.claims, secret)):
        return "forged"
    exp = session.claim("exp")
    if not isinstance(exp, int | float) or now >= exp:
        return "expired"
    return "ok"


def secret_for(world: World, node_id: str) -> bytes:
    """The signing secret of ``node_id``: 32 bytes from the world's seeded stream."""
    return world.rng(f"app-secret:{node_id}").getrandbits(256).to_bytes(32, "big")
