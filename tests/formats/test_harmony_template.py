"""gpt-oss's real chat template (tests/formats/templates/openai-gpt-oss-120b.jinja): detection picks
the `openai` parser, it renders tools, calls and results, and the calls it shows read back as calls.
Where a template shows no tools, toolwire's own harmony rendering teaches the format."""

from __future__ import annotations

import json
from pathlib import Path

from toolwire.chat.parser_detection import detect_tool_parser
from toolwire.chat.prompt import render_prompt
from toolwire.chat.template_capabilities import tool_support
from toolwire.formats.registry import ToolParserManager, tool_call_family
from toolwire.plugins import ChatCompletionRequest

TEMPLATE = (Path(__file__).parent / "templates" / "openai-gpt-oss-120b.jinja").read_text(encoding="utf-8")
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "The city."},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}]
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": json.dumps({"city": "Paris", "unit": "celsius"})}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"},
]


def test_detection_picks_openai():
    assert detect_tool_parser(TEMPLATE).name == "openai"


def test_the_template_renders_tools_calls_and_results():
    support = tool_support(TEMPLATE)
    assert support.renders_tools and support.renders_tool_calls and support.renders_tool_results
    prompt = render_prompt(CONVERSATION, TEMPLATE, tools=TOOLS, family=tool_call_family("openai"))
    assert "<|start|>developer<|message|># Instructions\n\nBe brief.\n\n# Tools\n\n## functions\n\nnamespace functions {" in prompt
    assert "// Current weather in a city.\ntype get_weather = (_: {\n// The city.\ncity: string,\n" in prompt
    call = ('<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>'
            '{"city": "Paris", "unit": "celsius"}<|call|>')
    assert call in prompt
    assert '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>"18 C, sunny"<|end|>' in prompt
    assert prompt.endswith("<|start|>assistant")


def test_the_calls_the_template_shows_read_back_as_calls():
    """The model copies the form it sees: what follows `<|start|>assistant` in the history parses."""
    prompt = render_prompt(CONVERSATION, TEMPLATE, tools=TOOLS, family=tool_call_family("openai"))
    shown = prompt.split("<|start|>assistant", 1)[1].split("<|start|>functions.", 1)[0]
    request = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=TOOLS)
    result = ToolParserManager.get("openai")().extract_tool_calls(shown, request)
    assert [(c.function.name, json.loads(c.function.arguments)) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"})]
    assert result.content is None


def test_a_template_without_tools_gets_the_harmony_tool_list():
    template = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
    prompt = render_prompt(CONVERSATION, template, tools=TOOLS, family=tool_call_family("openai"))
    assert ("namespace functions {\n\n// Current weather in a city.\ntype get_weather = (_: {\n// The city.\n"
            'city: string,\nunit?: "celsius" | "fahrenheit",\n}) => any;\n\n} // namespace functions') in prompt
    assert ('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>'
            '{"city": "Paris", "unit": "celsius"}<|call|>') in prompt  # the earlier call, as the model writes it


def test_toolwire_writes_results_and_calls_as_the_template_does():
    from toolwire.formats.families.harmony.rendering import harmony_tool_result

    prompt = render_prompt(CONVERSATION, TEMPLATE, tools=TOOLS, family=tool_call_family("openai"))
    assert harmony_tool_result("get_weather", json.dumps("18 C, sunny")) in prompt
