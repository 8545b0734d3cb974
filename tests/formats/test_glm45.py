"""glm45 (GLM-4.5, 4.6) and glm47 (GLM-4.7): `<tool_call>f\\n<arg_key>k</arg_key>\\n<arg_value>V</arg_value>...`."""

import pytest

from tests.formats.streaming_harness import assert_stream_matches_whole
from toolwire.formats.families.xml_calls import GLM45, GLM47
from toolwire.formats.registry import ToolParserManager
from toolwire.protocol.chat import ChatCompletionRequest

REQUEST = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=[
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "date": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "ls", "parameters": {"type": "object", "properties": {
        "dirPath": {"type": "string"}}}}},
])


def both_ways(parser_name: str, text: str):
    parser_class = ToolParserManager.get_tool_parser(parser_name)
    result = None
    for sizes in ("whole", 1, 2, 5, "random"):
        result = assert_stream_matches_whole(parser_class, text, REQUEST, sizes)
    return result


def test_names():
    assert ToolParserManager.get_tool_parser("glm45").family is GLM45
    assert ToolParserManager.get_tool_parser("glm").family is GLM45  # SGLang's spelling
    assert ToolParserManager.get_tool_parser("glm47").family is GLM47


@pytest.mark.parametrize("parser_name", ["glm45", "glm47"])
def test_glm45_output(parser_name):
    text = ("I'll look up the weather.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
            "<arg_value>Beijing</arg_value>\n"
            "<arg_key>date</arg_key>\n<arg_value>2024-06-27</arg_value>\n</tool_call>")
    assert both_ways(parser_name, text) == (
        "I'll look up the weather.\n", [("get_weather", '{"city": "Beijing", "date": "2024-06-27"}')])


@pytest.mark.parametrize("parser_name", ["glm45", "glm47"])
def test_glm47_output_and_two_calls(parser_name):
    text = ("<tool_call>get_weather<arg_key>city</arg_key><arg_value>Tokyo</arg_value></tool_call>"
            "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Paris</arg_value></tool_call>")
    assert both_ways(parser_name, text) == (
        "", [("get_weather", '{"city": "Tokyo"}'), ("get_weather", '{"city": "Paris"}')])


def test_spaces_between_the_tags():
    """A GLM-4.5-Air output reported by users: blanks between the tags, which are layout."""
    text = "Let me search: <tool_call>ls <arg_key>dirPath</arg_key> <arg_value>backend</arg_value> </tool_call>"
    assert both_ways("glm45", text) == ("Let me search: ", [("ls", '{"dirPath": "backend"}')])


def test_a_call_without_arguments():
    assert both_ways("glm47", "<tool_call>ls</tool_call>") == ("", [("ls", "{}")])


def test_rendering_is_each_templates_form():
    call = [("get_weather", {"city": "Paris", "days": 3})]
    assert GLM45.render_calls(call) == (
        "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n<arg_key>days</arg_key>\n"
        "<arg_value>3</arg_value>\n</tool_call>")
    assert GLM47.render_calls(call) == (
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Paris</arg_value><arg_key>days</arg_key>"
        "<arg_value>3</arg_value></tool_call>")
