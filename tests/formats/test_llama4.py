"""Llama 4: pythonic calls (`llama4_pythonic`, the markers optional) and JSON calls (`llama4_json`) as
Meta's chat template teaches and shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.formats.format_checks import parse
from toolwire.chat.parser_detection import detect_tool_parser
from toolwire.chat.prompt import render_prompt
from toolwire.formats.registry import tool_call_family

TEMPLATES = Path(__file__).parent / "templates"
META_TEMPLATE = TEMPLATES / "meta-llama-Llama-4-Scout-17B-16E-Instruct.jinja"
PYTHONIC_CALLS = [("get_weather", '{"city": "Boston"}'), ("search", '{"q": "New York"}')]


@pytest.mark.parametrize("text", [
    '<|python_start|>[get_weather(city="Boston"), search(q="New York")]<|python_end|>',
    '[get_weather(city="Boston"), search(q="New York")]',
    '<|python_start|>\n[get_weather(city="Boston"), search(q="New York")]\n<|python_end|>',
    '<|python_start|>[get_weather(city="Boston"), search(q="New York")]',  # the end marker missing
])
def test_llama4_pythonic_with_or_without_its_markers(text):
    assert parse("llama4_pythonic", text) == ("", PYTHONIC_CALLS)


def test_llama4_pythonic_renders_with_its_markers():
    assert tool_call_family("llama4_pythonic").render_calls([("f", {"a": 1})]) == (
        "<|python_start|>[f(a=1)]<|python_end|>")


JSON_CALL = '{"name": "get_weather", "parameters": {"city": "Boston"}}'


@pytest.mark.parametrize("text", [
    JSON_CALL,
    "<|python_start|><|python_end|>" + JSON_CALL,  # as Meta's template shows an earlier call
    "<|python_start|>" + JSON_CALL + "<|python_end|>",
    '{"type": "function", "name": "get_weather", "parameters": {"city": "Boston"}}',  # seen from Llama 4 Scout
    "<|python_tag|>" + JSON_CALL,
])
def test_llama4_json_shapes(text):
    assert parse("llama4_json", text) == ("", [("get_weather", '{"city": "Boston"}')])


def test_llama4_json_several_calls_and_text_that_is_no_call():
    second = '{"name": "search", "parameters": {"q": "New York"}}'
    assert parse("llama4_json", JSON_CALL + second) == ("", [("get_weather", '{"city": "Boston"}'),
                                                            ("search", '{"q": "New York"}')])
    for text in ["<|python_start|>print(1)<|python_end|>", "Use {braces}.", "<|python_start|>"]:
        assert parse("llama4_json", text) == (text, [])


def test_metas_template_is_detected_as_json_and_its_history_reads_back():
    template = META_TEMPLATE.read_text()
    choice = detect_tool_parser(template)
    assert choice.name == "llama4_json"
    conversation = [
        {"role": "user", "content": "Weather in Boston?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city":"Boston"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "22 degrees"},
    ]
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}
    prompt = render_prompt(conversation, template, tools=[weather], family=choice.family,
                           chat_template_kwargs={"date_string": "26 Jul 2024"},
                           special_tokens={"bos_token": "<|begin_of_text|>"})
    assert 'Respond in the format {"name": function name, "parameters": dictionary' in prompt
    shown = prompt[prompt.index("<|header_start|>assistant<|header_end|>\n\n") + 41: prompt.index("<|eot|><|header_start|>ipython")]
    assert shown == "<|python_start|><|python_end|>" + JSON_CALL
    assert parse("llama4_json", shown) == ("", [("get_weather", '{"city": "Boston"}')])
    assert prompt.endswith('<|header_start|>ipython<|header_end|>\n\n"22 degrees"<|eot|>'
                           "<|header_start|>assistant<|header_end|>\n\n")
