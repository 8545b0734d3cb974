"""xLAM-2: a JSON list of calls, bare or wrapped, and the real xLAM-2 chat templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.formats.format_checks import parse
from toolwire.chat.parser_detection import detect_tool_parser
from toolwire.chat.prompt import render_prompt
from toolwire.chat.template_capabilities import tool_support
from toolwire.formats.registry import tool_call_family

TEMPLATES = Path(__file__).parent / "templates"
XLAM_TEMPLATES = ["Salesforce-Llama-xLAM-2-8b-fc-r.jinja", "Salesforce-xLAM-2-32b-fc-r.jinja"]

# The shape xLAM-2's model card and its template's instruction show.
LIST = '[{"name": "get_weather", "arguments": {"city": "San Francisco"}}, {"name": "search", "arguments": {"q": "]```"}}]'
CALLS = [("get_weather", '{"city": "San Francisco"}'), ("search", '{"q": "]```"}')]


@pytest.mark.parametrize("text", [
    LIST,
    "```json\n" + LIST + "\n```",
    "```\n" + LIST + "\n```",
    "[TOOL_CALLS]" + LIST,
    "<tool_call>" + LIST + "</tool_call>",
    "\n" + LIST + "\n",
])
def test_the_list_bare_or_wrapped(text):
    assert parse("xlam", text) == ("", CALLS)


def test_a_single_object_and_parameters_for_arguments():
    assert parse("xlam", '{"name": "get_weather", "arguments": {"city": "San Francisco"}}') == ("", CALLS[:1])
    assert parse("xlam", '[{"name": "get_weather", "parameters": {"city": "San Francisco"}}]') == ("", CALLS[:1])


def test_content_before_the_calls_stays_content():
    assert parse("xlam", "<think>The user wants weather.</think>\n" + LIST) == (
        "<think>The user wants weather.</think>\n", CALLS)
    assert parse("xlam", "Let me look that up.\n```json\n" + LIST + "\n```\nDone.") == (
        "Let me look that up.\n\nDone.", CALLS)


@pytest.mark.parametrize("text", [
    "It is sunny [citation needed].",
    "Use [1, 2, 3] or {} or [].",
    "```python\nprint([1])\n```",
    '[{"name": "not_offered", "arguments": {}}]',
    "[TOOL_CALLS] no calls here",
    "[TOOL",
])
def test_brackets_and_fences_that_hold_no_calls_stay_content(text):
    assert parse("xlam", text) == (text, [])


def test_a_partial_wrapper_is_held_back_until_it_is_decided():
    from tests.formats.format_checks import stream_deltas

    deltas = stream_deltas("xlam", ["Sure ```js", "on\n[", '{"name": "search", "arguments": {}}]'])
    assert deltas[0].content == "Sure "
    assert deltas[1] is None
    assert deltas[2].tool_calls and not deltas[2].content


def test_rendering_and_grammar_write_the_bare_list():
    family = tool_call_family("xlam")
    assert family.render_calls([("get_weather", {"city": "San Francisco"})]) == (
        '[{"name": "get_weather", "arguments": {"city": "San Francisco"}}]')
    grammar = family.calls_grammar([("get_weather", {"type": "object"})], parallel=True)
    assert (grammar.trigger, grammar.bare_start) == ("", "[")


# ---------------------------------------------------------------- the real templates

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city.",
                                             "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                            "required": ["city"]}}}
CONVERSATION = [
    {"role": "user", "content": "Coat today in San Francisco?"},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": '{"city":"San Francisco"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "22 degrees"},
]


@pytest.mark.parametrize("name", XLAM_TEMPLATES)
def test_templates_detect_xlam_and_render_tools_calls_and_results(name):
    template = (TEMPLATES / name).read_text()
    choice = detect_tool_parser(template)
    assert choice.name == "xlam"
    support = tool_support(template)
    assert support.renders_tools and support.renders_tool_calls and support.renders_tool_results
    prompt = render_prompt(CONVERSATION, template, tools=[WEATHER], family=choice.family,
                           special_tokens={"bos_token": "<|begin_of_text|>"})
    before_user = prompt[: prompt.index("Coat today")]
    assert "make calls in a single JSON array" in before_user and '"get_weather"' in before_user
    # the template writes an earlier call exactly as the family renders it, and the parser reads it back
    shown = tool_call_family("xlam").render_calls([("get_weather", {"city": "San Francisco"})])
    assert shown in prompt[prompt.index("Coat today"):]
    assert parse("xlam", shown) == ("", CALLS[:1])
    assert "22 degrees" in prompt[prompt.index(shown):]
