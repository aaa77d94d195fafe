"""A quick yes to "does this data fit the scenario schema?", so a valid file skips jsonschema.

Importing jsonschema and building its validator costs more CPU than reading and checking most
scenario files, and nearly every file a run reads is valid. :func:`conforms` implements the
JSON Schema 2020-12 keywords our schemas use, with jsonschema's meaning, and answers

* ``True``: the data is valid (the loader then skips jsonschema);
* ``False``: it is not, or this module cannot tell (a keyword or a ``$ref`` it does not know):
  the loader asks jsonschema, which finds and explains the first error.

Only ``True`` is trusted, so a gap here costs time, never a wrong acceptance; the tests compare
the two on every bundled scenario and on many broken ones.

>>> schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}},
...           "additionalProperties": False}
>>> conforms(schema, {"n": 3}), conforms(schema, {"n": 0}), conforms(schema, {"m": 1})
(True, False, False)
>>> conforms({"if": {"type": "string"}}, "x")  # a keyword it does not know: ask jsonschema
False
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["conforms", "knows_every_keyword"]

Schema = Mapping[str, Any] | bool

#: keywords that only annotate: they never make an instance invalid (``format`` too, as
#: jsonschema does not assert formats unless asked to)
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "default",
                          "examples", "deprecated", "readOnly", "writeOnly", "format"})


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": _is_number,
    "integer": lambda x: _is_number(x) and (isinstance(x, int) or (math.isfinite(x) and x.is_integer())),
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema has it: ``true`` is not ``1``; ``1`` is ``1.0``."""
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    return bool(a == b)


class _Unknown(Exception):
    """The schema uses something this module does not implement."""


@lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _check(schema: Schema, x: Any, root: Mapping[str, Any]) -> bool:
    if schema is True:
        return True
    if schema is False:
        return False
    if not isinstance(schema, Mapping):
        raise _Unknown(schema)
    for keyword, arg in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(keyword)
        if check is None:
            raise _Unknown(keyword)
        if not check(arg, x, schema, root):
            return False
    return True


def _ref(ref: Any, x: Any, _schema: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise _Unknown(ref)
    target: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, Mapping) or part not in target:
            raise _Unknown(ref)
        target = target[part]
    return _check(target, x, root)


def _type(kind: Any, x: Any, *_: Any) -> bool:
    kinds = [kind] if isinstance(kind, str) else kind
    try:
        return any(_TYPES[k](x) for k in kinds)
    except (KeyError, TypeError) as unknown:
        raise _Unknown(kind) from unknown


def _properties(props: Mapping[str, Schema], x: Any, _schema: Any, root: Mapping[str, Any]) -> bool:
    return not isinstance(x, dict) or all(_check(s, x[k], root) for k, s in props.items() if k in x)


def _additional(extra: Schema, x: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    if not isinstance(x, dict):
        return True
    if "patternProperties" in schema:
        raise _Unknown("patternProperties")
    known = schema.get("properties", {})
    return all(_check(extra, v, root) for k, v in x.items() if k not in known)


def _length_check(kind: type[str] | type[list[Any]] | type[dict[Any, Any]],
                  measure: Callable[[int, int], bool]) -> Callable[..., bool]:
    return lambda bound, x, *_: not isinstance(x, kind) or measure(len(x), bound)


def _bound(measure: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    return lambda bound, x, *_: not _is_number(x) or measure(x, bound)


_KEYWORDS: dict[str, Callable[[Any, Any, Mapping[str, Any], Mapping[str, Any]], bool]] = {
    "$ref": _ref,
    "type": _type,
    "enum": lambda options, x, *_: any(_equal(x, o) for o in options),
    "const": lambda value, x, *_: _equal(x, value),
    "minimum": _bound(lambda x, b: x >= b),
    "maximum": _bound(lambda x, b: x <= b),
    "exclusiveMinimum": _bound(lambda x, b: x > b),
    "exclusiveMaximum": _bound(lambda x, b: x < b),
    "pattern": lambda p, x, *_: not isinstance(x, str) or _pattern(p).search(x) is not None,
    "minLength": _length_check(str, lambda n, b: n >= b),
    "maxLength": _length_check(str, lambda n, b: n <= b),
    "minItems": _length_check(list, lambda n, b: n >= b),
    "maxItems": _length_check(list, lambda n, b: n <= b),
    "minProperties": _length_check(dict, lambda n, b: n >= b),
    "maxProperties": _length_check(dict, lambda n, b: n <= b),
    "required": lambda keys, x, *_: not isinstance(x, dict) or all(k in x for k in keys),
    "properties": _properties,
    "additionalProperties": _additional,
    "propertyNames": lambda s, x, _schema, root: not isinstance(x, dict) or all(_check(s, k, root) for k in x),
    "items": lambda s, x, _schema, root: not isinstance(x, list) or all(_check(s, v, root) for v in x),
    "anyOf": lambda options, x, _schema, root: any(_check(s, x, root) for s in options),
    "allOf": lambda options, x, _schema, root: all(_check(s, x, root) for s in options),
    "not": lambda s, x, _schema, root: not _check(s, x, root),
}


def conforms(schema: Mapping[str, Any], data: Any) -> bool:
    """True only if ``data`` is valid under ``schema`` (False: invalid, or cannot tell)."""
    try:
        return _check(schema, data, schema)
    except _Unknown:
        return False


def knows_every_keyword(schema: Any) -> bool:
    """Whether every keyword in ``schema`` (at any depth) is one :func:`conforms` implements."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping):
        return False
    for keyword, arg in schema.items():
        if keyword in ("properties", "$defs"):
            if not all(knows_every_keyword(s) for s in arg.values()):
                return False
        elif keyword in ("anyOf", "allOf"):
            if not all(knows_every_keyword(s) for s in arg):
                return False
        elif keyword in ("items", "additionalProperties", "propertyNames", "not"):
            if not knows_every_keyword(arg):
                return False
        elif keyword not in _KEYWORDS and keyword not in _ANNOTATIONS:
            return False
    return True
