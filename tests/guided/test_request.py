"""From a ChatCompletionRequest (+ the tool parser's family) to the spec; and what the argument schemas admit."""

from __future__ import annotations

import pytest

from toolwire.formats.families.think import DeepSeekR1ReasoningParser, Qwen3ReasoningParser
from toolwire.formats.family import UndeclaredFamily
from toolwire.formats.registry import tool_call_family
from toolwire.guided import (
    ChoiceSpec, GrammarSpec, GuidedDecodingError, JsonSpec, Reasoning, RegexSpec, Tool, ToolCallsSpec,
    spec_from_request,
)
from toolwire.protocol.chat import ChatCompletionRequest

HERMES, MISTRAL = tool_call_family("hermes"), tool_call_family("mistral")
NO_GRAMMAR = UndeclaredFamily("no_such", shown_as=HERMES)  # a plugin that declares no family

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}, "strict": True}}


def request(**fields) -> ChatCompletionRequest:
    return ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], **fields)


def test_no_tools_no_format_is_unconstrained():
    assert spec_from_request(request(), HERMES) is None
    assert spec_from_request(request(tools=[WEATHER], tool_choice="none"), HERMES) is None


def test_required_and_named():
    spec = spec_from_request(request(tools=[WEATHER, TIME], tool_choice="required", parallel_tool_calls=False),
                             HERMES)
    assert isinstance(spec, ToolCallsSpec) and spec.mode == "required" and not spec.parallel
    assert [t.name for t in spec.tools] == ["get_weather", "get_time"] and spec.tools[1].strict is True
    named = spec_from_request(request(tools=[WEATHER, TIME],
                                      tool_choice={"type": "function", "function": {"name": "get_time"}}), MISTRAL)
    assert named.mode == "named" and named.name == "get_time" and named.format is MISTRAL
    assert [t.name for t in named.callable_tools] == ["get_time"]


def test_named_tool_that_was_not_offered_is_a_400():
    with pytest.raises(GuidedDecodingError) as error:
        spec_from_request(request(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "x"}}),
                          HERMES)
    assert error.value.param == "tool_choice"


def test_required_needs_tools_and_a_parser():
    with pytest.raises(GuidedDecodingError):
        spec_from_request(request(tool_choice="required"), HERMES)
    with pytest.raises(GuidedDecodingError, match="tool-call-parser"):
        spec_from_request(request(tools=[WEATHER], tool_choice="required"), None)
    with pytest.raises(GuidedDecodingError, match="no_such"):
        spec_from_request(request(tools=[WEATHER], tool_choice="required"), NO_GRAMMAR)


def test_auto():
    spec = spec_from_request(request(tools=[WEATHER]), HERMES)
    assert spec.mode == "auto" and spec.enforce_arguments and spec.content is None
    loose = spec_from_request(request(tools=[WEATHER]), HERMES, enforce_auto_arguments=False)
    assert not loose.enforce_arguments
    assert spec_from_request(request(tools=[WEATHER]), HERMES, constrain_auto=False) is None
    assert spec_from_request(request(tools=[WEATHER]), None) is None  # no parser: calls are not read
    assert spec_from_request(request(tools=[WEATHER]), NO_GRAMMAR) is None  # not constrainable: free


def test_auto_with_a_response_format_is_calls_or_that_format():
    spec = spec_from_request(request(tools=[WEATHER], response_format={"type": "json_object"}), HERMES)
    assert spec.mode == "auto" and spec.content == JsonSpec(None)
    required = spec_from_request(request(tools=[WEATHER], tool_choice="required",
                                         response_format={"type": "json_object"}), HERMES)
    assert required.content is None  # the reply is calls; response_format shapes text replies only


def test_response_format_and_guided_fields():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert spec_from_request(request(response_format={"type": "json_object"}), None) == JsonSpec(None)
    assert spec_from_request(request(response_format={"type": "json_schema", "json_schema": {
        "name": "x", "schema": schema}}), None) == JsonSpec(schema)
    assert spec_from_request(request(response_format={"type": "text"}), None) is None
    assert spec_from_request(request(guided_json=schema), None) == JsonSpec(schema)
    assert spec_from_request(request(guided_json='{"type": "object"}'), None) == JsonSpec({"type": "object"})
    assert spec_from_request(request(guided_regex="[0-9]+"), None) == RegexSpec("[0-9]+")
    assert spec_from_request(request(guided_choice=["a", "b"]), None) == ChoiceSpec(("a", "b"))
    assert spec_from_request(request(guided_grammar='root ::= "x"'), None) == GrammarSpec('root ::= "x"')
    assert GrammarSpec('root ::= "x"').syntax == "ebnf" and GrammarSpec('start: "x"').syntax == "lark"


@pytest.mark.parametrize("fields", [
    {"guided_regex": "a", "guided_choice": ["a"]},
    {"guided_regex": "a", "response_format": {"type": "json_object"}},
    {"guided_json": "{not json"},
    {"response_format": {"type": "json_schema"}},
    {"guided_regex": "a", "tools": [WEATHER], "tool_choice": "required"},
])
def test_conflicting_or_malformed_fields_are_400s(fields):
    with pytest.raises(GuidedDecodingError):
        spec_from_request(request(**fields), HERMES)


def test_reasoning_is_carried_into_every_spec():
    think = Reasoning()
    assert spec_from_request(request(guided_regex="a"), None, reasoning=think).reasoning == think
    assert spec_from_request(request(tools=[WEATHER], tool_choice="required"), HERMES,
                             reasoning=think).reasoning == think


def test_reasoning_region_of_the_think_families():
    plain = request()
    r1, qwen3 = DeepSeekR1ReasoningParser(), Qwen3ReasoningParser()
    assert r1.reasoning_region(plain, None) == Reasoning(opened_in_prompt=True)
    assert qwen3.reasoning_region(plain, "<|im_start|>assistant\n<think>\n") == Reasoning(opened_in_prompt=True)
    assert qwen3.reasoning_region(plain, "<|im_start|>assistant\n") == Reasoning(opened_in_prompt=False, optional=True)
    assert qwen3.reasoning_region(plain, "assistant\n<think>\n\n</think>\n\n") is None
    for switched_off in (False, "false", "False", "0", "no"):  # the parsers read the same switch
        off = request(chat_template_kwargs={"enable_thinking": switched_off})
        assert qwen3.reasoning_region(off, None) is None and r1.reasoning_region(off, None) is None
        assert r1.extract_reasoning_content("no thoughts", off) == (None, "no thoughts")


def test_extra_properties_policy(guided, tokenizer):
    """Unlisted properties are rejected (strict or not) unless the schema or the server allows them."""
    params = {"type": "object", "properties": {"a": {"type": "integer"}}}
    tools = (Tool("loose", params), Tool("tight", params, strict=True))

    def accepts(spec, text):
        constraint = guided.compile(spec)()
        return all(constraint.accept_token(t) for t in tokenizer.encode(text, add_special_tokens=False))

    forbid = ToolCallsSpec(format="hermes", tools=tools, mode="required")
    allow = ToolCallsSpec(format="hermes", tools=tools, mode="required", allow_extra_properties=True)
    call = '<tool_call>\n{"name": "%s", "arguments": {"a": 1, "zz": 2}}\n</tool_call>'
    assert not accepts(forbid, call % "loose") and not accepts(forbid, call % "tight")
    assert accepts(allow, call % "loose") and not accepts(allow, call % "tight")
    assert accepts(forbid, call.replace(', "zz": 2', "") % "tight")
    opted_in = (Tool("open", {**params, "additionalProperties": True}),)
    assert accepts(ToolCallsSpec(format="hermes", tools=opted_in, mode="required"), call % "open")

