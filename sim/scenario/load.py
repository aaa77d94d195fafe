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
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from sim.errors import ConfigError
from sim.scenario.errors import ScenarioError
from sim.scenario.schema import SCENARIO_SCHEMA

__all__ = ["Scenario"]

Path_ = tuple[str | int, ...]

_TYPE_NAMES = {
    "integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
    "object": "a mapping", "array": "a list", "null": "nothing",
}


def _lines(node: yaml.Node, path: Path_, into: dict[Path_, int]) -> None:
    into[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            _lines(value_node, (*path, key), into)
            # An error about a key points at the key's line, not where its value starts.
            into[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), into)


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
    return error.message


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

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path) -> Scenario:
        file = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise ScenarioError(file, None, (), "a readable scenario file", f"<{error.strerror}>") from None
        return cls.from_yaml_text(text, file)

    @classmethod
    def from_yaml_text(cls, text: str, source: str = "<string>") -> Scenario:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else None
            raise ScenarioError(source, line, (), "valid YAML", f"<{error.problem or error}>") from None
        lines: dict[Path_, int] = {}
        if node is not None:
            _lines(node, (), lines)
        return cls.from_dict(data if data is not None else {}, source, lines)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<python>", lines: dict[Path_, int] | None = None) -> Scenario:
        """Validate ``data`` (as loaded from YAML, or built in Python) against the schema."""
        scenario = cls({}, source, lines or {})
        if not isinstance(data, dict):
            raise scenario.error((), "a mapping of scenario settings", data)
        validator = jsonschema.Draft202012Validator(SCENARIO_SCHEMA)
        errors = sorted(validator.iter_errors(data), key=lambda e: (scenario.line(tuple(e.absolute_path)) or 0))
        if errors:
            error = _best(errors[0])
            path = tuple(error.absolute_path)
            if error.validator == "additionalProperties":
                allowed = sorted(error.schema.get("properties", {}))
                unknown = sorted(set(error.instance) - set(allowed))[0]
                raise scenario.error((*path, unknown), f"a known key (one of {allowed})", unknown)
            raise scenario.error(path, _expected(error), error.instance)
        scenario.data = copy.deepcopy(data)
        return scenario

    # -- access -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        default = Path(self.source).stem if self.source.endswith((".yaml", ".yml")) else "scenario"
        return str(self.data.get("name", default))

    @property
    def seed(self) -> int:
        return int(self.data.get("seed", 0))

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def with_seed(self, seed: int) -> Scenario:
        return Scenario({**copy.deepcopy(self.data), "seed": seed}, self.source, self.lines)

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, path: Path_, expected: str, found: Any) -> ScenarioError:
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
        for token in reversed(re.split(r"[^A-Za-z_]+", param)):
            node = self._at_path(path)
            if isinstance(node, dict) and token in node:
                return (*path, token)
        return path

    def _at_path(self, path: Path_) -> Any:
        node: Any = self.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node
