"""Harmony text for the prompt, where a chat template does not write it: calls, tool results and the
tool list (the TypeScript-like `namespace functions { ... }` gpt-oss was trained on)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from toolwire.formats.family import Call
from toolwire.formats.families.harmony.messages import CALL, CHANNEL, CONSTRAIN, END, MESSAGE, START


def harmony_calls_text(calls: Sequence[Call]) -> str:
    """The calls as gpt-oss writes them after the prompt's `<|start|>assistant`: one message each."""
    messages = [f"{CHANNEL}commentary to=functions.{name} {CONSTRAIN}json{MESSAGE}"
                f"{json.dumps(dict(arguments), ensure_ascii=False)}{CALL}" for name, arguments in calls]
    return f"{START}assistant".join(messages)


def harmony_tool_result(name: str, content: str) -> str:
    """A tool's result, as the message the tool sends back to the assistant."""
    return f"{START}functions.{name} to=assistant{CHANNEL}commentary{MESSAGE}{content}{END}"


def functions_namespace(tools: Sequence[Mapping[str, Any]]) -> str:
    """The tools (OpenAI `{"type": "function", "function": {...}}` dicts) as harmony's tool section."""
    lines = ["## functions", "", "namespace functions {", ""]
    for tool in tools:
        function = tool.get("function", tool)
        if function.get("description"):
            lines.extend(f"// {line}" for line in str(function["description"]).splitlines())
        parameters = function.get("parameters") or {}
        properties = parameters.get("properties") or {}
        if not properties:
            lines.extend([f"type {function['name']} = () => any;", ""])
            continue
        lines.append(f"type {function['name']} = (_: {{")
        required = set(parameters.get("required") or ())
        for name, schema in properties.items():
            lines.extend(_property_lines(name, schema, name in required))
        lines.extend(["}) => any;", ""])
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _property_lines(name: str, schema: Any, required: bool) -> list[str]:
    schema = schema if isinstance(schema, Mapping) else {}
    lines = [f"// {line}" for line in str(schema.get("description", "")).splitlines() if line]
    line = f"{name}{'' if required else '?'}: {typescript_type(schema)},"
    if "default" in schema:
        line += f" // default: {json.dumps(schema['default'], ensure_ascii=False)}"
    return [*lines, line]


def typescript_type(schema: Any) -> str:
    """A JSON schema as a TypeScript type, as harmony shows argument types."""
    if not isinstance(schema, Mapping):
        return "any"
    if "enum" in schema:
        return " | ".join(json.dumps(value, ensure_ascii=False) for value in schema["enum"]) or "never"
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return " | ".join(typescript_type(variant) for variant in schema[key]) or "any"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(typescript_type({**schema, "type": each}) for each in kind) or "any"
    if kind in ("number", "integer"):
        text = "number"
    elif kind in ("string", "boolean", "null"):
        text = kind
    elif kind == "array":
        items = typescript_type(schema.get("items", {}))
        text = f"({items})[]" if " | " in items else f"{items}[]"
    elif kind == "object":
        properties = schema.get("properties") or {}
        if not properties:
            return "object"
        required = set(schema.get("required") or ())
        fields = [f"{name}{'' if name in required else '?'}: {typescript_type(value)}" for name, value in properties.items()]
        text = "{ " + ", ".join(fields) + " }"
    else:
        return "any"
    return text + (" | null" if schema.get("nullable") else "")
