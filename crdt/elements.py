"""What may be a set element, a map key or a register value: the one check every type uses.

An element must have a canonical encoding (:func:`crdt.codec.encode_element`) that every
process reads back the same: ``None``, ``bool``, ``int``, a finite ``float``, a ``str`` that is
valid Unicode, or a tuple of elements (nested tuples too). Lists, dicts and sets are refused
(they are not hashable, or have no canonical order), and so are NaN and the infinities (JSON
has no spelling for them), lone surrogates (they cannot be written as UTF-8) and ints longer
than the JSON text of an int may be.

>>> check_element("GSet", "add", ("a", (1, 2.5), None, True))
('a', (1, 2.5), None, True)
>>> check_element("GSet", "add", float("inf"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
crdt.errors.InvalidOperationError: GSet.add: elements must be None, bool, int ..., found inf
"""

from __future__ import annotations

import sys
from typing import Any

from crdt.codec import canonical_json, decode_element, encode_element
from crdt.errors import DecodeError, InvalidOperationError

__all__ = ["ELEMENT_RULE", "check_element", "decode_element_checked"]


def _int_rule() -> str:
    digits = sys.get_int_max_str_digits()
    return f"int (up to {digits} digits)" if digits else "int"


#: what an element may be, as every refusal says it
ELEMENT_RULE = (
    f"elements must be None, bool, {_int_rule()}, a finite float, a str of valid Unicode "
    "(no lone surrogates) or a tuple of elements (nested tuples too)"
)

# An int below this many bits has fewer than 4,000 decimal digits: always encodable.
_SHORT_INT_BITS = 13_000


def check_element(type_name: str, operation: str, element: object) -> Any:
    """``element`` if it can be an element, else :class:`~crdt.errors.InvalidOperationError`
    naming ``type_name.operation``, :data:`ELEMENT_RULE` and the element."""
    # the common elements, without encoding them (this runs on every add and set)
    if type(element) is int and element.bit_length() < _SHORT_INT_BITS:
        return element
    if type(element) is str and element.isascii():
        return element
    try:
        # canonical_json refuses what encode_element lets through: an int too long for JSON text
        canonical_json(encode_element(element))
    except (DecodeError, ValueError):
        raise InvalidOperationError(type_name, operation, ELEMENT_RULE, _shown(element)) from None
    return element


class _Shown:
    """Stands for a value whose ``repr`` would fail (an int too long for decimal text)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _shown(element: object) -> object:
    if isinstance(element, int) and element.bit_length() >= _SHORT_INT_BITS:
        return _Shown(f"an int of {element.bit_length()} bits")
    return element


def decode_element_checked(type_name: str, data: Any) -> Any:
    """Decode one element, raising :class:`~crdt.errors.DecodeError` naming ``type_name`` when
    it is not a valid one."""
    try:
        return check_element(type_name, "from_data", decode_element(data))
    except (DecodeError, InvalidOperationError):
        raise DecodeError(type_name, ELEMENT_RULE, data) from None
