"""Sessions and credentials: claims signed with HMAC-SHA256 under a key only the issuer holds.

A :class:`Keyring` keeps one signing key per issuing node, drawn from the operating system's
CSPRNG (:func:`secrets.token_bytes`) when the node starts and drawn anew at every restart (key
rotation: sessions signed before the restart no longer verify). Keys never leave the keyring:
it signs and verifies, and no method returns a key, so a node's code cannot mint another node's
sessions. Keys are the one draw not taken from the world's seed; they never influence the
schedule (a signature is always 64 hex digits and is never traced), so runs stay reproducible.

A :class:`Credentials` store holds each user's password as a salted PBKDF2-SHA256 hash; an
issuer verifies the password a node presents at login before it signs a session, and a user
removed from the store can neither log in nor keep using a session issued earlier.

>>> keys = Keyring()
>>> keys.rotate("server-1")
>>> s = keys.issue("server-1", {"user": "u1", "node": "client-1", "exp": 10.0})
>>> keys.verify(s, now=1.0), keys.verify(s, now=11.0)
('ok', 'expired')
>>> keys.rotate("server-1")      # the issuer restarted: its old sessions are void
>>> keys.verify(s, now=1.0)
'rotated'
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import Any

from sim.trace import canonical_json

__all__ = ["Credentials", "Keyring", "Session", "forge", "malformed"]

_ITERATIONS = 1000  # PBKDF2 rounds: a real store uses far more; the simulation needs the shape
_CLAIM_TYPES: dict[str, tuple[type, ...]] = {"user": (str,), "node": (str,), "issuer": (str,), "kid": (int,),
                                             "exp": (int, float)}


@dataclass(frozen=True)
class Session:
    """Claims (``user``, ``node``, ``issuer``, ``kid``, ``exp`` in simulated seconds) and their signature."""

    claims: tuple[tuple[str, Any], ...]
    signature: str

    def claim(self, name: str) -> Any:
        """The claim ``name``, or ``None`` (also for malformed claims, as an attacker may send)."""
        try:
            return dict(self.claims).get(name)
        except (TypeError, ValueError):
            return None

    @property
    def user(self) -> str:
        """The ``user`` claim as text."""
        return str(self.claim("user"))

    def to_data(self) -> dict[str, Any]:
        """``{claims: {...}, signature: ...}``, as it travels."""
        return {"claims": dict(self.claims), "signature": self.signature}

    def size(self) -> int:
        """Its size on the wire in bytes (64 for a session that cannot be encoded)."""
        try:
            return len(canonical_json(self.to_data()))
        except (TypeError, ValueError):
            return 64


def shape_error(session: Any) -> str | None:
    """Why ``session`` is not a well-formed session (None if it is): checked before any key is used."""
    if not isinstance(session, Session):
        return f"not a session ({type(session).__name__})"
    if not isinstance(session.signature, str) or len(session.signature) != 64:
        return "signature is not 64 hex digits"
    if not isinstance(session.claims, tuple) or not all(isinstance(c, tuple) and len(c) == 2 for c in session.claims):
        return "claims are not (name, value) pairs"
    claims = dict(session.claims)
    for name, value in claims.items():
        if not isinstance(name, str) or not (value is None or isinstance(value, str | int | float)):
            return f"claim {name!r} is not a JSON scalar"
    for name, types in _CLAIM_TYPES.items():
        value = claims.get(name)
        if not isinstance(value, types) or isinstance(value, bool):
            return f"claim {name} is {type(value).__name__}"
    if not math.isfinite(claims["exp"]):
        return "claim exp is not finite"
    return None


def _sign(claims: tuple[tuple[str, Any], ...], key: bytes) -> str:
    return hmac.new(key, canonical_json(dict(claims)).encode(), hashlib.sha256).hexdigest()


class Keyring:
    """The signing keys of the issuing nodes; it signs and verifies and never hands a key out."""

    def __init__(self) -> None:
        self.__keys: dict[str, tuple[int, bytes]] = {}

    def rotate(self, issuer: str) -> None:
        """A fresh key for ``issuer`` (at its start and every restart)."""
        kid = self.__keys[issuer][0] + 1 if issuer in self.__keys else 1
        self.__keys[issuer] = (kid, secrets.token_bytes(32))

    def knows(self, issuer: Any) -> bool:
        return isinstance(issuer, str) and issuer in self.__keys

    def issue(self, issuer: str, claims: dict[str, Any]) -> Session:
        kid, key = self.__keys[issuer]
        frozen = tuple(sorted({**claims, "issuer": issuer, "kid": kid}.items()))
        return Session(frozen, _sign(frozen, key))

    def verify(self, session: Any, now: float) -> str:
        """``ok``, ``malformed``, ``forged`` (bad signature or unknown issuer), ``rotated`` or ``expired``."""
        if shape_error(session) is not None:
            return "malformed"
        issuer = session.claim("issuer")
        if issuer not in self.__keys:
            return "forged"
        kid, key = self.__keys[issuer]
        if session.claim("kid") != kid:
            return "rotated"  # signed under a key the issuer dropped when it restarted
        if not hmac.compare_digest(session.signature, _sign(session.claims, key)):
            return "forged"
        if now >= session.claim("exp"):
            return "expired"
        return "ok"


class Credentials:
    """Users' passwords as salted PBKDF2-SHA256 hashes; users can be removed."""

    def __init__(self) -> None:
        self.__hashes: dict[str, tuple[bytes, bytes]] = {}

    def register(self, user: str, password: str) -> None:
        salt = secrets.token_bytes(16)
        self.__hashes[user] = (salt, hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS))

    def remove(self, user: str) -> None:
        self.__hashes.pop(user, None)

    def exists(self, user: Any) -> bool:
        return isinstance(user, str) and user in self.__hashes

    def check(self, user: Any, password: Any) -> bool:
        if not self.exists(user) or not isinstance(password, str):
            return False
        salt, digest = self.__hashes[user]
        return hmac.compare_digest(digest, hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS))


def forge(claims: dict[str, Any]) -> Session:
    """A session an attacker made up: the right shape, a signature made without the key."""
    frozen = tuple(sorted({"kid": 1, **claims}.items()))
    return Session(frozen, hashlib.sha256(canonical_json(dict(frozen)).encode()).hexdigest())


def malformed(kind: str) -> Any:
    """A malformed session of one of the shapes attackers send (``issuer_list``, ``claims_none``,
    ``nan_exp``, ``bytes_signature``, ``not_a_session``)."""
    good = (("exp", 99.0), ("issuer", "server-1"), ("kid", 1), ("node", "client-1"), ("user", "u1"))
    if kind == "issuer_list":
        return Session((("exp", 99.0), ("issuer", ["server-1"]), ("kid", 1), ("node", "x"), ("user", "u1")), "0" * 64)
    if kind == "claims_none":
        return Session(None, "0" * 64)  # type: ignore[arg-type]
    if kind == "nan_exp":
        return Session((("exp", float("nan")),) + good[1:], "0" * 64)
    if kind == "bytes_signature":
        return Session(good, b"\x00" * 64)  # type: ignore[arg-type]
    return {"claims": "u1", "signature": None}
