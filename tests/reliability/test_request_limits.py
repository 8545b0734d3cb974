"""The limits every request body is held to before any work starts (toolwire.protocol.limits), the
ranges of the sampling fields (toolwire.protocol.fields), and the schemas refused before compiling
(toolwire.guided.limits): in process, no server."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from toolwire.guided import GuidedDecodingError, JsonSpec, Tool, ToolCallsSpec
from toolwire.guided.limits import MAX_SIZE_BOUND
from toolwire.protocol.anthropic import MessagesRequest
from toolwire.protocol.chat import ChatCompletionRequest, CompletionRequest
from toolwire.protocol.limits import MAX_JSON_DEPTH, JsonLimitError, check_json_text, check_json_value
from toolwire.protocol.responses import ResponsesRequest

USER = [{"role": "user", "content": "Hi"}]


def levels(value) -> int:
    """Levels of nesting, counted the plain recursive way."""
    if isinstance(value, dict):
        return 1 + max(map(levels, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(levels, value), default=0)
    return 0


def has_surrogate(value) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(has_surrogate, value))
    return False


def nest(levels_: int, leaf=None):
    value = leaf
    for i in range(levels_):
        value = [value] if i % 2 else {"k": value}
    return value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.characters(min_codepoint=0, max_codepoint=0xE000)),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=json_values, extra_depth=st.integers(0, 70))
def test_a_value_passes_exactly_when_it_is_shallow_enough_and_valid_unicode(value, extra_depth):
    value = nest(extra_depth, value)
    refused = levels(value) > MAX_JSON_DEPTH or has_surrogate(value)
    try:
        check_json_value(value)
    except JsonLimitError:
        assert refused
    else:
        assert not refused


def test_depth_is_checked_without_recursion():
    with pytest.raises(JsonLimitError, match=f"limit is {MAX_JSON_DEPTH}"):
        check_json_value(nest(100_000))
    check_json_value(nest(MAX_JSON_DEPTH, "leaf"))


def test_paired_surrogates_are_text_and_lone_ones_are_not():
    check_json_value(json.loads('{"emoji": "\\ud83d\\ude00"}'))  # one character, U+1F600
    for text in ('"\\ud83d"', '"\\ude00"', '"a\\ude00\\ud83d"', '{"\\udfff": 1}'):
        with pytest.raises(JsonLimitError, match="surrogate"):
            check_json_value(json.loads(text))


def test_json_in_a_string_is_held_to_the_same_limits():
    check_json_text('{"a": ' + "[" * 40 + "]" * 40 + "}")
    check_json_text("not json at all")  # left for the caller to report
    for text in ("[" * 65 + "]" * 65, "[" * 5000 + "]" * 5000, '{"a": "\\ud800"}'):
        with pytest.raises(JsonLimitError):
            check_json_text(text, "function.arguments")


def limit_error(exc: ValidationError) -> dict:
    error = exc.errors()[0]
    assert error["type"] == "request_limit", error
    return error


def test_a_request_body_at_the_limit_is_accepted_and_one_level_more_is_not():
    # The body, messages, a message, content and a part are 4 levels; the rest is in `x`.
    ChatCompletionRequest.model_validate({"messages": USER, "x": nest(MAX_JSON_DEPTH - 1)})
    with pytest.raises(ValidationError) as caught:
        ChatCompletionRequest.model_validate({"messages": USER, "x": nest(MAX_JSON_DEPTH)})
    assert limit_error(caught.value)["ctx"]["param"].startswith("x")


@pytest.mark.parametrize("model,body,param", [
    (ChatCompletionRequest, {"messages": [{"role": "user", "content": "a\ud800"}]}, "messages[0].content"),
    (CompletionRequest, {"prompt": ["ok", "\udc00"]}, "prompt[1]"),
    (ResponsesRequest, {"input": "\ud800"}, "input"),
    (MessagesRequest, {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "\ud800"}]},
     "messages[0].content"),
])
def test_every_request_refuses_lone_surrogates_naming_the_field(model, body, param):
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    assert limit_error(caught.value)["ctx"]["param"] == param


@pytest.mark.parametrize("field,value", [
    ("temperature", math.nan), ("temperature", math.inf), ("temperature", -0.1), ("temperature", 2.5),
    ("top_p", 0.0), ("min_p", 1.01), ("repetition_penalty", 5e-324), ("repetition_penalty", 101),
    ("presence_penalty", -2.5), ("seed", 2**63), ("seed", -(2**63) - 1),
    ("max_tokens", "8"), ("max_tokens", 8.0), ("n", True), ("logprobs", "yes"), ("logprobs", 1), ("stream", "true"),
    ("temperature", "0.5"), ("top_k", -2),
])
def test_sampling_fields_out_of_range_or_of_another_type_are_refused(field, value):
    with pytest.raises(ValidationError) as caught:
        ChatCompletionRequest.model_validate({"messages": USER, field: value})
    assert caught.value.errors()[0]["loc"][0] == field


def test_non_finite_numbers_are_told_the_range():
    with pytest.raises(ValidationError, match=r"must be a finite number in \[0.0, 2.0\], got nan"):
        ChatCompletionRequest.model_validate({"messages": USER, "temperature": math.nan})


@pytest.mark.parametrize("field,value", [
    ("temperature", 0), ("temperature", 2), ("top_p", 1), ("repetition_penalty", 0.01), ("repetition_penalty", 100),
    ("seed", 2**63 - 1), ("seed", -(2**63)), ("top_k", -1), ("top_k", 0), ("min_p", 0),
])
def test_the_ends_of_each_range_are_accepted(field, value):
    assert getattr(ChatCompletionRequest.model_validate({"messages": USER, field: value}), field) == value


def test_other_apis_hold_their_own_ranges():
    with pytest.raises(ValidationError):
        ResponsesRequest.model_validate({"input": "x", "temperature": math.nan})
    with pytest.raises(ValidationError):
        ResponsesRequest.model_validate({"input": "x", "max_output_tokens": "8"})
    with pytest.raises(ValidationError):  # Anthropic's temperature ends at 1
        MessagesRequest.model_validate({"model": "m", "max_tokens": 1, "messages": USER, "temperature": 1.5})
    with pytest.raises(ValidationError):
        CompletionRequest.model_validate({"prompt": "x", "logprobs": True})


# ---------------------------------------------------------------- schemas


def nested_schema(levels_: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels_):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize("schema,says", [
    ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "string, integer"),
    ({"type": "string", "allOf": [{"type": ["integer", "null"]}]}, "no value"),
    ({"type": "string", "minLength": 10**8}, str(MAX_SIZE_BOUND)),
    ({"type": "array", "items": {"type": "integer"}, "minItems": 10**6}, str(MAX_SIZE_BOUND)),
    ({"type": "object", "properties": {"x": {"type": "object", "minProperties": 10**6}}}, "at properties.x"),
    ({"type": "integer", "minimum": 5, "maximum": 1}, "greater than"),
    ({"type": "array", "minItems": 3, "maxItems": 2}, "greater than"),
    ({"anyOf": [{"enum": []}, {"type": "string"}]}, "at anyOf[0]: enum is empty"),
    (nested_schema(40), f"limit is {MAX_JSON_DEPTH}"),
])
def test_schemas_no_reply_can_satisfy_are_refused_before_compiling(schema, says):
    with pytest.raises(GuidedDecodingError, match=says.replace("[", r"\[").replace("]", r"\]")) as caught:
        JsonSpec(schema)
    assert caught.value.param == "response_format"
    parameters = {"type": "object", "properties": {"x": schema}}
    with pytest.raises(GuidedDecodingError) as caught:
        ToolCallsSpec(format="hermes", tools=(Tool("f", parameters),), mode="required")
    assert caught.value.tool == "f" and caught.value.param == "tools" and "tool 'f'" in str(caught.value)


@pytest.mark.parametrize("schema", [
    {"allOf": [{"type": "number"}, {"type": "integer"}]},
    {"type": ["string", "null"], "allOf": [{"type": "null"}]},
    {"type": "string", "minLength": MAX_SIZE_BOUND, "maxLength": MAX_SIZE_BOUND},
    {"type": "object", "properties": {"minLength": {"type": "string"}, "enum": {"type": "integer"}}},
    {"enum": [1, 2]},
    nested_schema(30),
])
def test_satisfiable_schemas_pass(schema):
    JsonSpec(schema)
