"""The real chat templates of the XML-style models (tests/formats/templates/): rendered the way
toolwire.chat renders them, they show the tools, earlier calls and their results; what a template
writes for a call is read back by the family's parser; and detection picks the family from each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolwire.chat.parser_detection import detect_tool_parser
from toolwire.chat.prompt import render_prompt
from toolwire.chat.template_capabilities import tool_support
from toolwire.formats.registry import ToolParserManager
from toolwire.protocol.chat import ChatCompletionRequest

TEMPLATES = Path(__file__).parent / "templates"
CASES = {  # template file: (the family detection must pick, the text the template writes a call with)
    "Qwen-Qwen3-Coder-30B-A3B-Instruct.jinja": ("qwen3_coder", "<function=get_weather>\n<parameter=city>\nParis"),
    # llama.cpp's copy trims the newline after the name (GLM's own GLM-4.6 template keeps it)
    "zai-org-GLM-4.5.jinja": ("glm45", "<tool_call>get_weather<arg_key>city</arg_key>\n<arg_value>Paris"),
    "zai-org-GLM-4.7-Flash.jinja": ("glm47", "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Paris"),
    "unsloth-MiniMax-M2.jinja": ("minimax_m2", '<invoke name="get_weather">\n<parameter name="city">Paris'),
}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                                                   "hourly": {"type": "boolean"}}, "required": ["city"]}}}]
ARGUMENTS = {"city": "Paris", "days": 3, "hourly": True}
MESSAGES = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": json.dumps(ARGUMENTS)}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 degrees"},
]


def template(file: str) -> str:
    return (TEMPLATES / file).read_text(encoding="utf-8")


@pytest.mark.parametrize("file", CASES)
def test_detection_picks_the_family(file):
    assert detect_tool_parser(template(file)).name == CASES[file][0]


@pytest.mark.parametrize("file", CASES)
def test_the_template_renders_tools_calls_and_results(file):
    family = ToolParserManager.get_tool_parser(CASES[file][0]).family
    support = tool_support(template(file))
    assert support.renders_tools and support.renders_tool_calls and support.renders_tool_results
    prompt = render_prompt(MESSAGES, template(file), tools=TOOLS, family=family)
    assert "Current weather in a city." in prompt
    assert CASES[file][1] in prompt
    assert "sunny, 21 degrees" in prompt


@pytest.mark.parametrize("file", CASES)
def test_the_parser_reads_back_the_call_the_template_wrote(file):
    """The template shows the model its earlier call; written that way now, it is the same call."""
    parser_name = CASES[file][0]
    family = ToolParserManager.get_tool_parser(parser_name).family
    without_call = render_prompt(MESSAGES[:1], template(file), tools=TOOLS, family=family,
                                 add_generation_prompt=False)
    with_call = render_prompt(MESSAGES[:2], template(file), tools=TOOLS, family=family, add_generation_prompt=False)
    start = with_call.index(family.syntax.block_start, len(without_call) - 20)
    end = with_call.rindex(family.syntax.block_end) + len(family.syntax.block_end)
    request = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=TOOLS)
    result = ToolParserManager.get_tool_parser(parser_name)().extract_tool_calls(with_call[start:end], request)
    assert [(c.function.name, json.loads(c.function.arguments)) for c in result.tool_calls] == [
        ("get_weather", ARGUMENTS)]
