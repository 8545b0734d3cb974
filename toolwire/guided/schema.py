"""The JSON schema a tool call's arguments are held to.

Policy on properties a schema does not list: rejected, for strict and non-strict tools alike, unless
the schema allows them itself (`additionalProperties: true` or a schema). A small model steered by a
schema that admits anything tends to invent keys; clients expect arguments that validate. A server
may relax this for non-strict tools (`ToolCallsSpec.allow_extra_properties`): every object in their
schema that says nothing about extra properties then admits them.
"""

from __future__ import annotations

from typing import Any

from toolwire.guided.specs import Tool, ToolCallsSpec

ANY_OBJECT: dict[str, Any] = {"type": "object"}

# Keywords whose value is one subschema, or a list / map of subschemas.
_ONE = ("items", "additionalItems", "contains", "not", "if", "then", "else", "propertyNames",
        "unevaluatedItems")
_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def arguments_schema(tool: Tool, spec: ToolCallsSpec) -> dict[str, Any]:
    if not spec.enforce_arguments or tool.parameters is None:
        return dict(ANY_OBJECT)
    schema = dict(tool.parameters)
    schema.setdefault("type", "object")
    schema = _each_subschema(schema, _declare_required)
    if spec.allow_extra_properties and tool.strict is not True:
        schema = _each_subschema(schema, _admit_extra_properties)
    return schema


def _declare_required(schema: dict[str, Any]) -> dict[str, Any]:
    """`required` names that `properties` does not list get an any-value property: the grammar
    compiler only writes listed properties, so it would otherwise allow no way to satisfy them."""
    required = schema.get("required")
    properties = schema.get("properties")
    if not isinstance(required, list) or (properties is not None and not isinstance(properties, dict)):
        return schema
    missing = [name for name in required if isinstance(name, str) and name not in (properties or {})]
    if not missing:
        return schema
    return {**schema, "properties": {**(properties or {}), **{name: {} for name in missing}}}


def _admit_extra_properties(schema: dict[str, Any]) -> dict[str, Any]:
    if ("properties" in schema or schema.get("type") == "object") and "additionalProperties" not in schema:
        return {**schema, "additionalProperties": True}
    return schema


def _each_subschema(schema: Any, change) -> Any:
    """`change` applied to every (sub)schema, innermost first; the input is not modified."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _ONE:
        if key in out:
            out[key] = _each_subschema(out[key], change)
    for key in _LIST:
        if isinstance(out.get(key), list):
            out[key] = [_each_subschema(s, change) for s in out[key]]
    for key in _MAP:
        if isinstance(out.get(key), dict):
            out[key] = {name: _each_subschema(s, change) for name, s in out[key].items()}
    return change(out)
