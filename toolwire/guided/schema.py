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
    if spec.allow_extra_properties and tool.strict is not True:
        schema = _allow_extra_properties(schema)
    return schema


def _allow_extra_properties(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _ONE:
        if key in out:
            out[key] = _allow_extra_properties(out[key])
    for key in _LIST:
        if isinstance(out.get(key), list):
            out[key] = [_allow_extra_properties(s) for s in out[key]]
    for key in _MAP:
        if isinstance(out.get(key), dict):
            out[key] = {name: _allow_extra_properties(s) for name, s in out[key].items()}
    if ("properties" in out or out.get("type") == "object") and "additionalProperties" not in out:
        out["additionalProperties"] = True
    return out
