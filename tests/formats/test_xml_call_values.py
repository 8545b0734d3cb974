"""Values of XML-style calls: raw text, typed by the parameter's JSON schema."""

import json

import pytest

from toolwire.formats.families.xml_calls.values import ToolSchemas, ValueType
from toolwire.protocol.chat import ChatCompletionRequest


def typed(schema, raw: str):
    return json.loads(ValueType.of(schema).json_text(raw))


@pytest.mark.parametrize("schema,raw,value", [
    ({"type": "string"}, "123", "123"),
    ({"type": "string"}, " null ", " null "),
    ({"type": "integer"}, "123", 123),
    ({"type": "integer"}, " 7 ", 7),
    ({"type": "integer"}, "abc", "abc"),
    ({"type": "integer"}, "2.5", "2.5"),
    ({"type": "number"}, "2.5", 2.5),
    ({"type": "number"}, "NaN", "NaN"),
    ({"type": "boolean"}, "True", True),
    ({"type": "boolean"}, "false", False),
    ({"type": "null"}, "None", None),
    ({"type": "object"}, '{"a": [1, null]}', {"a": [1, None]}),
    ({"type": "object"}, "{'a': (1, None)}", {"a": [1, None]}),
    ({"type": "object"}, "[1]", "[1]"),
    ({"type": "array"}, "('x', 'y')", ["x", "y"]),
    ({"type": "dict"}, '{"b": 1}', {"b": 1}),  # BFCL's type names
    ({"type": ["integer", "string"]}, "12", 12),
    ({"type": ["string", "integer"]}, "12", "12"),
    ({"type": ["string", "null"]}, "null", None),
    ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, "x", "x"),
    ({"enum": ["celsius", "fahrenheit"]}, "\ncelsius ", "celsius"),
    ({"enum": [1, 2]}, "2", 2),
    ({"properties": {}}, '{"k": 1}', {"k": 1}),
    ({}, "[1, 2]", [1, 2]),
    ({}, "plain text", "plain text"),
    ({}, '"quoted"', "quoted"),
    ({}, "1e400", "1e400"),
])
def test_typing(schema, raw, value):
    assert typed(schema, raw) == value


def test_plain_strings_stream_and_nothing_else_does():
    assert ValueType.of({"type": "string"}).is_plain_string
    for schema in ({"type": "integer"}, {"type": ["string", "null"]}, {"enum": ["a"]}, {}):
        assert not ValueType.of(schema).is_plain_string


def test_local_refs_are_followed():
    parameters = {"type": "object", "$defs": {"n": {"type": "integer"}}, "properties": {"n": {"$ref": "#/$defs/n"}}}
    tool = {"type": "function", "function": {"name": "f", "parameters": parameters}}
    tools = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=[tool]).tools
    schemas = ToolSchemas(tools)
    assert schemas.value_type("f", "n").types == ("integer",)
    assert schemas.value_type("f", "other").types == ()
    assert schemas.value_type("g", "n").types == ()
