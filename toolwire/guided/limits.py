"""Schemas refused before they are compiled: too deep to compile safely, or asking for what no
reply can be.

- depth: at most MAX_JSON_DEPTH levels of JSON nesting (toolwire.protocol.limits), so compiling and
  the recursive schema code stay far from Python's recursion limit;
- size: `minLength`, `minItems`, `minProperties` and `minContains` at most MAX_SIZE_BOUND (a
  value that large would not fit in any reply this server can generate);
- contradictions: a minimum above its maximum (`minLength` > `maxLength`, `minItems` > `maxItems`,
  `minProperties` > `maxProperties`, `minimum` > `maximum`), an empty `enum`, and `type`s that no
  value has at once (`allOf` of a string and an integer).

Other unsatisfiable schemas exist (deciding satisfiability in general is out of reach); these are
the ones a client writes by mistake.
"""

from __future__ import annotations

from typing import Any

from toolwire.guided.errors import GuidedDecodingError
from toolwire.protocol.limits import JsonLimitError, check_json_value

MAX_SIZE_BOUND = 100_000
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minContains")
_MIN_MAX = (("minLength", "maxLength"), ("minItems", "maxItems"), ("minProperties", "maxProperties"),
            ("minimum", "maximum"))

# Keywords whose value is one subschema, or a list / map of subschemas.
_ONE = ("items", "additionalItems", "additionalProperties", "contains", "not", "if", "then", "else",
        "propertyNames", "unevaluatedItems", "unevaluatedProperties")
_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")

# JSON Schema's types as sets of kinds of value: an integer is a number.
_KINDS = {"null": {"null"}, "boolean": {"boolean"}, "object": {"object"}, "array": {"array"},
          "string": {"string"}, "integer": {"integer"}, "number": {"integer", "fraction"}}


def check_schema(schema: Any, param: str, tool: str | None = None) -> None:
    """Raise GuidedDecodingError (naming `param`, and `tool` when the schema is a tool's parameters)
    if `schema` is refused."""
    prefix = f"tool {tool!r}: parameters" if tool else "the schema"
    try:
        check_json_value(schema)
    except JsonLimitError as exc:
        where = f" at {exc.where}" if exc.where else ""
        raise GuidedDecodingError(f"{prefix}{where}: {exc.problem}", tool=tool, param=param) from None
    for where, subschema in _subschemas(schema, ""):
        problem = _problem(subschema)
        if problem:
            at = f" at {where}" if where else ""
            raise GuidedDecodingError(f"{prefix}{at}: {problem}", tool=tool, param=param)


def _problem(schema: dict[str, Any]) -> str | None:
    for key in _LOWER_BOUNDS:
        value = schema.get(key)
        if _is_number(value) and value > MAX_SIZE_BOUND:
            return (f"{key} {value} is above this server's limit of {MAX_SIZE_BOUND}: no reply could hold "
                    "a value that large")
    for low, high in _MIN_MAX:
        if _is_number(schema.get(low)) and _is_number(schema.get(high)) and schema[low] > schema[high]:
            return f"{low} {schema[low]} is greater than {high} {schema[high]}: no value satisfies the schema"
    if schema.get("enum") == []:
        return "enum is empty: no value satisfies the schema"
    if _kinds(schema) == set():
        return f"no value has all the types it requires ({', '.join(_types_required(schema))})"
    return None


def _kinds(schema: Any) -> set[str] | None:
    """The kinds of value `schema` allows by its `type` and those of its `allOf` members (None: any)."""
    if not isinstance(schema, dict):
        return None
    kinds = None
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else None
    if names is not None and all(name in _KINDS for name in names):
        kinds = set().union(*(_KINDS[name] for name in names))
    for member in schema["allOf"] if isinstance(schema.get("allOf"), list) else ():
        member_kinds = _kinds(member)
        if member_kinds is not None:
            kinds = member_kinds if kinds is None else kinds & member_kinds
    return kinds


def _types_required(schema: dict[str, Any]) -> list[str]:
    found = [schema["type"]] if "type" in schema else []
    for member in schema["allOf"] if isinstance(schema.get("allOf"), list) else ():
        if isinstance(member, dict):
            found += _types_required(member)
    return [str(t) for t in found]


def _subschemas(schema: Any, where: str):
    """(path, subschema) for `schema` and every schema inside it."""
    if not isinstance(schema, dict):
        return
    yield where, schema
    for key in _ONE:
        yield from _subschemas(schema.get(key), _join(where, key))
    for key in _LIST:
        if isinstance(schema.get(key), list):
            for i, member in enumerate(schema[key]):
                yield from _subschemas(member, f"{_join(where, key)}[{i}]")
    for key in _MAP:
        if isinstance(schema.get(key), dict):
            for name, member in schema[key].items():
                yield from _subschemas(member, _join(_join(where, key), name))


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
