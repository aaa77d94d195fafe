"""Reading a scenario: YAML text -> data with a line number for every path -> schema check.

>>> s = Scenario.from_yaml_text("zones: {dc: 3}\\ndata: {keys: {hits: GCounter}}\\n")
>>> s.name, s.seed, s.get("zones")
('scenario', 0, {'dc': 3})
>>> Scenario.from_yaml_text("zones: {dc: 3}\\nseed: many\\n", "x.yaml")
Traceback (most recent call last):
...
sim.scenario.errors.ScenarioError: x.yaml:2: seed: expected an integer, found 'many'
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.deprecation import renamed
from sim.errors import ConfigError
from sim.scenario.app_schema import app_problems
from sim.scenario.errors import ScenarioError
from sim.scenario.feasibility import problems
from sim.scenario.limits import DEFAULT_LIMITS, Limits
from sim.scenario.read import load_yaml, read_text
from sim.scenario.schema import scenario_schema

if TYPE_CHECKING:
    import jsonschema

__all__ = ["Scenario"]

#: the compiled validator of each schema seen, by its identity (the schema is kept with it,
#: so the identity is never reused); schemas are built once per registry state
_FAST_VALIDATORS: dict[int, tuple[dict[str, Any], Any]] = {}


_WITHOUT_APP: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}


def _without_app(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``app`` section reduced to "a mapping": the same verdict on a
    scenario without an app, and a third of the compile time (the app model's schema is most
    of the scenario schema: 4.7 against 2.0 ms)."""
    known = _WITHOUT_APP.get(id(schema))
    if known is None or known[0] is not schema:
        lean = {**schema, "properties": {**schema["properties"], "app": {"type": "object"}}}
        known = _WITHOUT_APP[id(schema)] = (schema, lean)
    return known[1]


def _fast_validator(schema: dict[str, Any]) -> Any:
    """A compiled (``jsonschema_rs``) validator of ``schema``, kept for the next scenario."""
    known = _FAST_VALIDATORS.get(id(schema))
    if known is None or known[0] is not schema:
        import jsonschema_rs

        known = _FAST_VALIDATORS[id(schema)] = (schema, jsonschema_rs.validator_for(schema))
    return known[1]

Path_ = tuple[str | int, ...]

_TYPE_NAMES = {
    "integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
    "object": "a mapping", "array": "a list", "null": "nothing",
}


def _not_finite(data: Any, path: Path_ = ()) -> Path_ | None:
    """The path of the first NaN or infinity in ``data`` (the schema's ranges cannot see them)."""
    stack: list[tuple[Any, Path_]] = [(data, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return where
        if isinstance(value, dict):
            stack.extend((v, (*where, k)) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((v, (*where, i)) for i, v in reversed(list(enumerate(value))))
    return None


def _expected(error: jsonschema.ValidationError) -> str:
    schema, validator = error.schema, error.validator
    if isinstance(schema, Mapping) and "description" in schema and validator in ("anyOf", "oneOf"):
        return str(schema["description"])
    if validator == "type":
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)
    if validator == "enum":
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if validator == "const":
        return repr(schema["const"])
    if validator == "required":
        return f"the key {error.message.split()[0]}"
    if validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[str(validator)]
        return f"a number {op} {error.validator_value}"
    if validator in ("minItems", "minProperties"):
        return f"at least {error.validator_value} entries"
    if validator == "maxItems":
        return f"at most {error.validator_value} entries"
    if validator == "pattern":
        return str(schema.get("description", f"text matching {schema['pattern']}"))
    if validator in ("anyOf", "oneOf"):
        return "one of the allowed forms (see `crdtsim schema`)"
    if validator in ("maxLength", "minLength"):
        return f"a text of {'at most' if validator == 'maxLength' else 'at least'} {error.validator_value} characters"
    if validator == "maxProperties":
        return f"at most {error.validator_value} entries"
    if isinstance(schema, Mapping) and "description" in schema:
        return str(schema["description"])
    return " ".join(error.message.split())[:200]


def _best(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    # For "anyOf", prefer the alternative that got furthest into the value (the user's intent).
    if error.validator in ("anyOf", "oneOf") and error.context:
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return _best(deepest)
        if not (isinstance(error.schema, Mapping) and "description" in error.schema):
            mapping_forms = [e for e in error.context if e.validator == "additionalProperties"]
            if mapping_forms and isinstance(error.instance, Mapping):
                return mapping_forms[0]
    return error


@dataclass
class Scenario:
    """A validated scenario: its data, where it came from, and the line of every path."""

    data: dict[str, Any]
    source: str = "<python>"
    lines: dict[Path_, int] = field(default_factory=dict)
    #: the bounds this scenario was checked against (``--limit`` raises them)
    limits: Limits = DEFAULT_LIMITS

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Scenario:
        """Read and validate the scenario file at ``path`` (see :mod:`sim.scenario.read`)."""
        file = str(path)
        return cls.from_yaml_text(read_text(path, limits), file, limits)

    @classmethod
    def from_yaml_text(cls, text: str, source: str = "<string>", limits: Limits = DEFAULT_LIMITS) -> Scenario:
        """Load and validate a scenario from YAML text; ``source`` names it in error messages."""
        if len(text) > limits.file_bytes:
            raise ScenarioError(source, None, (), f"a text of at most {limits.file_bytes:,} characters "
                                "(raise with --limit file_bytes=N)", f"<{len(text):,} characters>")
        data, lines = load_yaml(text, source, limits)
        return cls.from_data(data if data is not None else {}, source, lines, limits)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<python>", lines: dict[Path_, int] | None = None,
                  limits: Limits = DEFAULT_LIMITS) -> Scenario:
        """Deprecated name of :meth:`from_data`."""
        renamed("Scenario.from_dict", "Scenario.from_data")
        return cls.from_data(data, source, lines, limits)

    @classmethod
    def from_data(cls, data: Any, source: str = "<python>", lines: dict[Path_, int] | None = None,
                  limits: Limits = DEFAULT_LIMITS) -> Scenario:
        """Validate ``data`` (as loaded from YAML, or built in Python): schema, meaning, then size."""
        scenario = cls({}, source, lines or {}, limits)
        if not isinstance(data, dict):
            raise scenario.error((), "a mapping of scenario settings", data)
        bad_number = _not_finite(data)
        if bad_number is not None:
            raise scenario.error(bad_number, "a finite number", scenario._at_path_in(data, bad_number))
        schema = scenario_schema()
        scenario._raise_schema_error(schema, data)
        for where, expected, found in (*app_problems(data.get("app") or {}), *problems(data, limits)):
            raise scenario.error(where, expected, found)
        scenario.data = copy.deepcopy(data)
        return scenario

    def _raise_schema_error(self, schema: dict[str, Any], data: dict[str, Any]) -> None:
        """Raise the error for the first line of ``data`` that ``schema`` rejects, if any.

        A compiled validator answers whether ``data`` is valid (what almost every scenario is)
        in microseconds; only a scenario it rejects goes to ``jsonschema``, whose errors carry
        what the message needs (paths, the failing keyword, its sub-schema) but whose import
        alone took about 0.1 of the 1.3 CPU s of gossip-1000. tests/scenarios/test_schema_validators.py holds
        the two to the same verdicts."""
        try:
            if _fast_validator(schema if "app" in data else _without_app(schema)).is_valid(data):
                return
        except ValueError:
            pass  # a value JSON has no type for (a date, an integer key): jsonschema decides
        import jsonschema  # imported here: only a rejected scenario pays for it

        scenario = self
        validator = jsonschema.Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(data), key=lambda e: (scenario.line(tuple(e.absolute_path)) or 0))
        if errors:
            error = _best(errors[0])
            path = tuple(error.absolute_path)
            if error.validator == "additionalProperties":
                allowed = sorted(error.schema.get("properties", {}))
                unknown = sorted(set(error.instance) - set(allowed), key=str)[0]
                raise scenario.error((*path, unknown), f"a known key (one of {allowed})", unknown)
            if "propertyNames" in error.absolute_schema_path:  # the instance is the bad key itself
                raise scenario.error((*path, error.instance), _expected(error), error.instance)
            raise scenario.error(path, _expected(error), error.instance)

    # -- access -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The scenario's ``name``, else its file's stem, else ``scenario``."""
        default = Path(self.source).stem if self.source.endswith((".yaml", ".yml")) else "scenario"
        return str(self.data.get("name", default))

    @property
    def seed(self) -> int:
        """The scenario's seed (0 when it names none)."""
        return int(self.data.get("seed", 0))

    def get(self, key: str, default: Any = None) -> Any:
        """The top-level setting ``key`` as validated, or ``default``."""
        return self.data.get(key, default)

    def with_seed(self, seed: int) -> Scenario:
        """The same scenario under another seed (a copy)."""
        return Scenario({**copy.deepcopy(self.data), "seed": seed}, self.source, self.lines, self.limits)

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, path: Path_, expected: str, found: Any) -> ScenarioError:
        """The error for the value at ``path``, naming its file and line when known."""
        return ScenarioError(self.source, self.line(path), path, expected, found)

    @contextmanager
    def at(self, *path: str | int) -> Iterator[None]:
        """Report a ConfigError raised while building ``path`` as a ScenarioError there."""
        try:
            yield
        except ConfigError as error:
            # Engine messages read "<param> must be <what>"; here: "expected <what> (<param>)".
            expected = str(error.expected)
            if expected.startswith("must be "):
                expected = expected.removeprefix("must be ")
            elif expected.startswith("must "):
                expected = "to " + expected.removeprefix("must ")
            where = self._refine(tuple(path), error.param)
            raise self.error(where, f"{expected} ({error.param})", error.found) from None

    def _refine(self, path: Path_, param: str) -> Path_:
        """Narrow ``path`` with what the engine's parameter name says (``faults[2]``, ``latency``)."""
        index = re.search(r"\[(\d+)\]", param)
        if index and path and isinstance(self._at_path(path), list):
            path = (*path, int(index.group(1)))
        node = self._at_path(path)
        for token in reversed(re.split(r"[^A-Za-z_]+", param)):
            if isinstance(node, dict) and token in node:
                return (*path, token)
        for token in reversed(re.split(r"[^A-Za-z_]+", param)):  # one level down: topology[0].params.d
            for key, child in (node.items() if isinstance(node, dict) else ()):
                if isinstance(child, dict) and token in child:
                    return (*path, key, token)
        return path

    def _at_path(self, path: Path_) -> Any:
        return self._at_path_in(self.data, path)

    @staticmethod
    def _at_path_in(data: Any, path: Path_) -> Any:
        node: Any = data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node
