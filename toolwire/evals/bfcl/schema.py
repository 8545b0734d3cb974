"""BFCL function documents as OpenAI tools.

BFCL writes parameter types with its own names (`dict`, `float`, `tuple`, `any`) and, in the Java
and JavaScript categories, the source language's (`String`, `HashMap`, `long`, ...). They become JSON
Schema types here, recursively through `properties`, `items` and `additionalProperties`:

    dict, HashMap, object          -> object
    float, double, number          -> number
    tuple, array, Array, ArrayList -> array
    integer, int, long, short      -> integer
    boolean, Boolean               -> boolean
    string, String, char, any      -> string   (also an empty or unknown type name)

BFCL's non-standard `optional` flag is dropped (`required` already says it). Function names with dots
(`math.factorial`) are sent with `_` in place of each `.`, and any other character that the OpenAI
name rule `^[a-zA-Z0-9_-]{1,64}$` forbids becomes `_` too; `ToolNames` maps the sent names back.
"""

from __future__ import annotations

import copy
import re
from typing import Any

TYPE_NAMES = {
    "dict": "object", "hashmap": "object", "object": "object", "map": "object",
    "float": "number", "double": "number", "number": "number",
    "tuple": "array", "array": "array", "arraylist": "array", "list": "array",
    "integer": "integer", "int": "integer", "long": "integer", "short": "integer", "byte": "integer",
    "boolean": "boolean", "bool": "boolean",
    "string": "string", "str": "string", "char": "string", "any": "string",
}
_DROPPED_KEYS = frozenset({"optional"})
_NAME_FORBIDDEN = re.compile(r"[^a-zA-Z0-9_-]")


def json_type(bfcl_type: Any) -> str:
    """The JSON Schema type for a BFCL type name (`string` for an empty or unknown one)."""
    if isinstance(bfcl_type, str):
        return TYPE_NAMES.get(bfcl_type.strip().lower(), "string")
    return "string"


def convert_schema(schema: Any) -> Any:
    """A BFCL parameter schema as JSON Schema (a new object; the input is left alone)."""
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "type":
            out["type"] = [json_type(t) for t in value] if isinstance(value, list) else json_type(value)
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {name: convert_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = convert_schema(value)
        elif key == "items" and isinstance(value, list):  # tuple-style items
            out["items"] = [convert_schema(sub) for sub in value]
        else:
            out[key] = copy.deepcopy(value)
    return out


def openai_name(name: str) -> str:
    """A BFCL function name as an OpenAI function name (dots and other forbidden characters -> `_`)."""
    return _NAME_FORBIDDEN.sub("_", name)[:64] or "_"


class ToolNames:
    """The names sent for one entry's functions and the way back. Two BFCL names that would be sent
    the same (`a.b` and `a_b`) get distinct sent names (`a_b`, `a_b_2`)."""

    def __init__(self, names: list[str]):
        self.sent: dict[str, str] = {}  # BFCL name -> sent name
        self.original: dict[str, str] = {}  # sent name -> BFCL name
        for name in names:
            sent = openai_name(name)
            candidate, n = sent, 2
            while candidate in self.original:
                suffix = f"_{n}"
                candidate, n = sent[:64 - len(suffix)] + suffix, n + 1
            self.sent[name] = candidate
            self.original[candidate] = name

    def to_bfcl(self, sent_name: str) -> str:
        """The BFCL name behind a name the model called; a name that is already a BFCL name (a server
        that echoes the dotted form) or unknown comes back unchanged."""
        return self.original.get(sent_name, sent_name)


def to_openai_tools(functions: list[dict[str, Any]], *, strict: bool = False) -> tuple[list[dict[str, Any]], ToolNames]:
    """The `tools` array for a request, and the name map."""
    names = ToolNames([f["name"] for f in functions])
    tools = []
    for function in functions:
        parameters = convert_schema(function.get("parameters") or {"type": "dict", "properties": {}})
        parameters.setdefault("type", "object")
        if parameters.get("type") == "object":
            parameters.setdefault("properties", {})
        spec: dict[str, Any] = {"name": names.sent[function["name"]], "parameters": parameters}
        if function.get("description"):
            spec["description"] = function["description"]
        if strict:
            spec["strict"] = True
        tools.append({"type": "function", "function": spec})
    return tools, names
