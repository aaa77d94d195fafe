"""Canonical encoding of CRDT values and operations, and their size on the wire.

The encoding is JSON with sorted keys and no spaces, so the same value gives the same bytes in
any process; the simulator counts message sizes with :func:`size`. :func:`canonical_encoder` is
the one canonical JSON encoder of the project: the trace and the event journals use it too.

>>> from crdt import GCounter
>>> c = GCounter().increment("b", 2).increment("a", 1)
>>> to_bytes(c)
b'{"state":{"a":1,"b":2},"type":"GCounter"}'
>>> decode(encode(c)) == c
True
>>> size(c)
41
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from json.encoder import encode_basestring as _encode_str
from typing import Any

from crdt.base import Crdt, Op
from crdt.errors import DecodeError

# The type registry lives in crdt.registry; the codec decodes by it and offers its decorator.
from crdt.registry import register, registered_types, type_named

__all__ = [
    "register",
    "registered_types",
    "type_named",
    "encode",
    "decode",
    "encode_op",
    "decode_op",
    "canonical_json",
    "canonical_encoder",
    "to_bytes",
    "from_bytes",
    "size",
    "fingerprint",
    "encode_element",
    "decode_element",
    "element_sort_key",
]

def encode(value: Crdt[Any]) -> dict[str, Any]:
    """``value`` as plain data naming its type, ``{"type": ..., "state": ...}``; :func:`decode` inverts it.

    >>> from crdt import GSet
    >>> encode(GSet().add("a", "milk"))
    {'type': 'GSet', 'state': ['milk']}
    """
    return {"type": value.type_name, "state": value.to_data()}


def decode(data: Any) -> Crdt[Any]:
    """The value :func:`encode` gave ``data`` for, of any registered type; :class:`DecodeError` otherwise.

    >>> decode({"type": "GCounter", "state": {"a": 2}}).value()
    2
    """
    if not isinstance(data, dict) or set(data) != {"type", "state"}:
        raise DecodeError("codec", "expected {type: name, state: ...}", data)
    return type_named(data["type"]).from_data(data["state"])


def encode_op(type_name: str, op: Op) -> dict[str, Any]:
    return {"type": type_name, "op": op.to_data()}


def decode_op(data: Any) -> Op:
    if not isinstance(data, dict) or set(data) != {"type", "op"}:
        raise DecodeError("codec", "expected {type: name, op: ...}", data)
    return type_named(data["type"]).op_from_data(data["op"])


def canonical_encoder(*, ascii: bool = False, default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """The canonical JSON encoder: keys sorted, no whitespace, NaN and the infinities refused
    (``ValueError``), so equal data gives equal text in any process.

    Two spellings of the same JSON, chosen by what the text is for:

    * ``ascii=False`` (:func:`canonical_json`): non-ASCII characters as they are; the text is
      meant to be written as UTF-8, which is what the size of a CRDT value counts. CRDT values
      refuse strings that UTF-8 cannot hold (lone surrogates), so this is always writable.
    * ``ascii=True``: every non-ASCII character escaped (``\\u00e9``); the text is ASCII, its
      length is its byte count and it can hold any ``str``, lone surrogates included. For open
      data the simulator stores or hashes: event payloads and snapshots in journals, trace
      events.

    ``default`` turns a value JSON has no form for into one it has (as :func:`json.dumps`).

    >>> print(canonical_encoder(ascii=True)({"b": "café", "a": [1, 2.5]}))
    {"a":[1,2.5],"b":"caf\\u00e9"}
    >>> print(canonical_json({"b": "café", "a": [1, 2.5]}))
    {"a":[1,2.5],"b":"café"}
    """
    # One encoder per set of options: json.dumps would build a new JSONEncoder on every call.
    return json.JSONEncoder(
        sort_keys=True, separators=(",", ":"), ensure_ascii=ascii, allow_nan=False, default=default
    ).encode


_encode = canonical_encoder()
_encode_ascii = canonical_encoder(ascii=True)


def canonical_json(data: Any, ascii: bool = False) -> str:
    """The canonical JSON text of ``data`` (see :func:`canonical_encoder`)."""
    return _encode_ascii(data) if ascii else _encode(data)


def to_bytes(value: Crdt[Any]) -> bytes:
    """The canonical encoding (computed once per value: values are immutable)."""
    try:
        return value._encoded
    except AttributeError:
        raw = canonical_json(encode(value)).encode()
        object.__setattr__(value, "_encoded", raw)
        return raw


def fingerprint(value: Crdt[Any]) -> str:
    """16 hex digits identifying the value: equal values have equal fingerprints, and distinct
    values distinct ones but with negligible probability. Computed once per value, or kept
    incrementally by the type; only equality of fingerprints means anything.

    >>> from crdt import GCounter
    >>> a, b = GCounter({"a": 1}).increment("b", 2), GCounter({"b": 2, "a": 1})
    >>> fingerprint(a) == fingerprint(b) != fingerprint(GCounter({"a": 1}))
    True
    """
    # getattr with a default: most values are asked once (a new state per change), and a
    # missing slot costs a third of a caught AttributeError
    digest: str | None = getattr(value, "_fingerprint", None)
    if digest is None:
        digest = value._quick_fingerprint() or hashlib.sha256(to_bytes(value)).hexdigest()[:16]
        object.__setattr__(value, "_fingerprint", digest)
    return digest


def from_bytes(raw: bytes) -> Crdt[Any]:
    """The value whose canonical encoding (:func:`to_bytes`) is ``raw``; :class:`DecodeError` otherwise.

    >>> from crdt import PNCounter
    >>> c = PNCounter().increment("a", 3).decrement("b", 1)
    >>> from_bytes(to_bytes(c)) == c
    True
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise DecodeError("codec", f"not valid JSON ({error})", raw) from None
    return decode(data)


def size(value: Crdt[Any] | Op, type_name: str | None = None) -> int:
    """Bytes of the canonical encoding of a value, or of an op of type ``type_name``."""
    # (a value's own figure first: isinstance of an ABC such as Crdt is a Python call)
    quick_size = getattr(value, "_quick_size", None)
    quick = None if quick_size is None else quick_size()
    if quick is not None:
        return quick
    if isinstance(value, Crdt):
        return len(to_bytes(value))
    return len(canonical_json(encode_op(type_name or "", value)).encode())


# -- elements: the members of sets and keys of maps ---------------------------------------------
# Elements are JSON scalars or tuples of elements (tuples encode as lists and decode back to
# tuples, so they stay hashable). Python treats 1, 1.0 and True as one dict key, so sets and
# maps do too; mixing them in one collection makes which spelling is kept depend on merge order.

_SCALARS = (str, int, float, bool, type(None))


def encode_element(element: Any) -> Any:
    kind = type(element)
    # the common elements, ahead of the general checks
    if kind is int or (kind is str and element.isascii()):
        return element
    if isinstance(element, tuple):
        return [encode_element(e) for e in element]
    if isinstance(element, _SCALARS):
        if isinstance(element, float) and not math.isfinite(element):
            raise DecodeError("codec", "elements must be finite numbers (JSON has no NaN or infinity)", element)
        if isinstance(element, str) and not element.isascii() and not _is_utf8(element):
            raise DecodeError("codec", "element strings must be valid Unicode (no lone surrogates)", element)
        return element
    raise DecodeError("codec", "elements must be str, int, float, bool, None or tuples of them", element)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_element(data: Any) -> Any:
    if isinstance(data, list):
        return tuple(decode_element(d) for d in data)
    if isinstance(data, _SCALARS):
        return data
    raise DecodeError("codec", "expected a JSON scalar or list as an element", data)


def element_sort_key(element: Any) -> str:
    """A total order over mixed elements: by canonical JSON text (independent of hashing).

    >>> element_sort_key("tea"), element_sort_key(("a", 1))
    ('"tea"', '["a",1]')
    """
    kind = type(element)
    if kind is str:
        return _encode_str(element)  # what canonical_json gives for a str, without the detour
    if kind is int:
        return int.__repr__(element)  # as json encodes an int
    return canonical_json(encode_element(element))
