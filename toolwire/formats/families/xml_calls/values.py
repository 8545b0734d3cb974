"""Parameter values of XML-style calls: raw text, typed by the tool's JSON schema into JSON.

The model writes every value as text (`<parameter=days>\n3\n</parameter>`); what JSON it stands for
is the parameter's schema's business:

- `string`: the text as it is, even when it looks like a number, `null` or JSON.
- `integer` / `number` / `boolean` / `null`: the text (blanks around it ignored) read as JSON; booleans
  and null also as Python writes them (`True`, `None`), since some templates show them that way.
- `object` / `array`: JSON text, or a Python literal of that kind (`{'a': 1}`), which models write too.
- `enum` / `const`: the listed value the text (blanks ignored) spells, else as the type says.
- several types (a list, `anyOf` / `oneOf`): `null` first when the text says it, then each type in
  the schema's order; a string fits anything.
- a value that fits none of its types is kept as the string it is: never dropped.
- a parameter the schema does not describe (or a tool without a schema): JSON when the text parses as
  JSON, else the string.

`ValueType.of(schema)` reads a schema once per parameter; `ValueType.json_text(raw)` types one value.
"""

from __future__ import annotations

import ast
import json
import math
import warnings
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

# Type names some tool definitions use instead of JSON Schema's (BFCL's, Python's).
_TYPE_ALIASES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean", "dict": "object",
                 "list": "array", "tuple": "array"}
_JSON_TYPES = ("string", "integer", "number", "boolean", "null", "object", "array")
# The first characters a JSON value may have (after blanks): any other makes the value a string.
JSON_START = frozenset('{["-0123456789tfn')
_MISSING = object()
_MAX_REF_DEPTH = 16


def json_string(text: str) -> str:
    """`text` as a JSON string literal (quotes included)."""
    return encode_basestring(text)


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise ValueError(f"{text} has no JSON value")
    return value


def parse_json(text: str) -> Any:
    """The JSON value of `text`, or _MISSING (NaN, Infinity and numbers too large for a float are not JSON)."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return _MISSING


def _python_literal(text: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = ast.literal_eval(text)
        json_dumps(value)
    except Exception:  # SyntaxError, ValueError, TypeError, RecursionError, MemoryError
        return _MISSING
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read(kind: str, text: str) -> Any:
    """`text` (stripped) as a value of JSON type `kind`, or _MISSING."""
    if kind == "null":
        return None if text in ("null", "None") else _MISSING
    if kind == "boolean":
        return {"true": True, "false": False, "True": True, "False": False}.get(text, _MISSING)
    if kind in ("integer", "number"):
        value = parse_json(text)
        if not _is_number(value) or (kind == "integer" and not isinstance(value, int)):
            return _MISSING
        return value
    container = dict if kind == "object" else list
    value = parse_json(text)
    if isinstance(value, container):
        return value
    value = _python_literal(text) if text[:1] in "{[(" else _MISSING
    if isinstance(value, tuple) and kind == "array":
        value = list(value)
    return value if isinstance(value, container) else _MISSING


@dataclass(frozen=True)
class ValueType:
    """What a parameter's schema says its values are. `types` empty: nothing (any JSON, else a string)."""

    types: tuple[str, ...] = ()
    choices: tuple[Any, ...] | None = None  # enum / const values

    @property
    def is_plain_string(self) -> bool:
        """Every value is its raw text: it can be sent on before it ends."""
        return self.types == ("string",) and self.choices is None

    @classmethod
    def of(cls, schema: Any, root: Any = None, depth: int = 0) -> ValueType:
        if not isinstance(schema, dict) or depth > _MAX_REF_DEPTH:
            return UNTYPED
        if isinstance(schema.get("$ref"), str):
            return cls.of(_resolve(schema["$ref"], root), root, depth + 1)
        choices = None
        if "const" in schema:
            choices = (schema["const"],)
        elif isinstance(schema.get("enum"), list) and schema["enum"]:
            choices = tuple(schema["enum"])
        types = _types(schema, root, depth)
        if not types and choices is not None:
            types = tuple(dict.fromkeys(_type_of(value) for value in choices))
        return cls(types, choices)

    def json_text(self, raw: str) -> str:
        """The JSON text of a value written as `raw`."""
        stripped = raw.strip()
        if self.choices is not None:
            for choice in self.choices:
                if stripped == choice if isinstance(choice, str) else _same(parse_json(stripped), choice):
                    return json_dumps(choice)
        if not self.types:
            value = parse_json(raw)
            return json_string(raw) if value is _MISSING else json_dumps(value)
        if "null" in self.types and stripped in ("null", "None"):
            return "null"
        for kind in self.types:
            if kind == "string":
                return json_string(raw)
            value = _read(kind, stripped)
            if value is not _MISSING:
                return json_dumps(value)
        return json_string(raw)


UNTYPED = ValueType()


def _same(value: Any, choice: Any) -> bool:
    return value is not _MISSING and type(value) is type(choice) and value == choice


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types(schema: dict, root: Any, depth: int) -> tuple[str, ...]:
    kind = schema.get("type")
    if isinstance(kind, str):
        kind = _TYPE_ALIASES.get(kind, kind)
        return (kind,) if kind in _JSON_TYPES else ()
    if isinstance(kind, list):
        names = [_TYPE_ALIASES.get(k, k) for k in kind if isinstance(k, str)]
        return tuple(dict.fromkeys(k for k in names if k in _JSON_TYPES))
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            collected: list[str] = []
            for option in options:
                option_types = ValueType.of(option, root, depth + 1).types
                if not option_types:
                    return ()  # one alternative admits anything: so does the whole
                collected.extend(option_types)
            return tuple(dict.fromkeys(collected))
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        return ValueType.of(all_of[0], root, depth + 1).types
    if "properties" in schema:
        return ("object",)
    if "items" in schema:
        return ("array",)
    return ()


def _resolve(ref: str, root: Any) -> Any:
    if not ref.startswith("#/") or not isinstance(root, dict):
        return None
    target: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return None
        target = target[part]
    return target


class ToolSchemas:
    """The value types of each offered tool's parameters, read from the request once."""

    def __init__(self, tools: Any):
        self._properties: dict[str, tuple[dict, dict]] = {}
        self._cache: dict[tuple[str, str], ValueType] = {}
        for tool in tools or ():
            function = getattr(tool, "function", None)
            parameters = getattr(function, "parameters", None)
            if function is None or not isinstance(parameters, dict):
                continue
            properties = parameters.get("properties")
            if isinstance(properties, dict):
                self._properties[function.name] = (properties, parameters)

    def value_type(self, tool: str, parameter: str) -> ValueType:
        key = (tool, parameter)
        found = self._cache.get(key)
        if found is None:
            properties, root = self._properties.get(tool, ({}, {}))
            found = self._cache[key] = ValueType.of(properties[parameter], root) if parameter in properties \
                else UNTYPED
        return found
