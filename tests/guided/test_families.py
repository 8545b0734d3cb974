"""One family, one truth: what the prompt shows the model, what the grammar holds it to and what the
parser reads back agree, for every registered family."""

from __future__ import annotations

import json

import pytest

from toolwire.chat.prompt import render_prompt
from toolwire.formats.registry import ToolParserManager, registered_families
from toolwire.guided import Tool, ToolCallsSpec
from toolwire.protocol.chat import ChatCompletionRequest

WEATHER = Tool("get_weather", {"type": "object", "properties": {
    "city": {"type": "string"}, "days": {"type": "integer"}, "hourly": {"type": "boolean"}}, "required": ["city"]})
TIME = Tool("get_time", {"type": "object", "properties": {"zone": {"type": "string"}}})
CALLS = [("get_weather", {"city": "Paris", "days": 3, "hourly": False}), ("get_time", {"zone": "Europe/Paris"})]
FAMILIES = registered_families()


def parser_of(family):
    return next(cls for cls in ToolParserManager.parsers.values() if getattr(cls, "family", None) is family)


def request_with_tools() -> ChatCompletionRequest:
    tools = [{"type": "function", "function": {"name": t.name, "parameters": t.parameters}} for t in (WEATHER, TIME)]
    return ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=tools)


def test_every_builtin_family_is_registered():
    names = {family.name for family in FAMILIES}
    assert {"hermes", "mistral", "llama3_json", "llama3", "granite", "granite-20b-fc", "internlm", "jamba",
            "deepseekv3", "deepseekv31", "pythonic", "llama4_pythonic"} <= names


@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.name)
def test_rendered_calls_are_read_back_and_held_by_the_grammar(family, guided, vocab, tokenizer):
    text = family.render_calls(CALLS)
    result = parser_of(family)().extract_tool_calls(text, request_with_tools())
    assert [(c.function.name, json.loads(c.function.arguments)) for c in result.tool_calls] == CALLS, text
    assert not (result.content or "").strip()

    constraint = guided.compile(ToolCallsSpec(format=family, tools=(WEATHER, TIME), mode="required"))()
    for token_id in tokenizer.encode(text, add_special_tokens=False):
        assert constraint.accept_token(token_id), f"{family.name}: the grammar refuses its own rendering {text!r}"
    assert constraint.accept_token(vocab.stop_token_ids[0]) and constraint.is_terminated()


@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.name)
def test_the_tool_prompt_teaches_the_family_format(family):
    """SmolLM2's template shows no tools: the injected prompt's example is the family's own rendering."""
    template = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
    prompt = render_prompt([{"role": "user", "content": "hi"}], template, tools=request_with_tools().tools,
                           family=family)
    assert family.render_calls([("function_name", {"argument_name": "value"})]) in prompt
    assert family.instruction in prompt
