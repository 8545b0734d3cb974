"""qwen3_coder (Qwen3-Coder, Qwen3.5): `<tool_call>\\n<function=f>\\n<parameter=k>\\nV\\n</parameter>...`."""

from tests.formats.streaming_harness import assert_stream_matches_whole
from toolwire.formats.families.xml_calls import QWEN3_CODER, Qwen3CoderToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.protocol.chat import ChatCompletionRequest

REQUEST = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=[
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "write_file", "parameters": {"type": "object", "properties": {
        "path": {"type": "string"}, "content": {"type": "string"}}}}},
])


def both_ways(text: str):
    result = None
    for sizes in ("whole", 1, 2, 5, "random"):
        result = assert_stream_matches_whole(Qwen3CoderToolParser, text, REQUEST, sizes)
    return result


def test_names():
    assert ToolParserManager.get_tool_parser("qwen3_coder").family is QWEN3_CODER
    assert ToolParserManager.get_tool_parser("qwen3_xml").family is QWEN3_CODER  # vLLM's other name


def test_the_model_cards_example():
    text = ("I'll check the weather in San Francisco for you.\n\n<tool_call>\n<function=get_weather>\n"
            "<parameter=city>\nSan Francisco\n</parameter>\n<parameter=unit>\ncelsius\n</parameter>\n"
            "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>")
    assert both_ways(text) == ("I'll check the weather in San Francisco for you.\n\n",
                               [("get_weather", '{"city": "San Francisco", "unit": "celsius", "days": 3}')])


def test_one_newline_each_side_of_a_value_is_layout():
    text = ("<tool_call>\n<function=write_file>\n<parameter=path>\nmain.py\n</parameter>\n<parameter=content>\n"
            "\nimport os\n\nprint(os.getcwd())\n\n</parameter>\n</function>\n</tool_call>")
    assert both_ways(text)[1] == [
        ("write_file", '{"path": "main.py", "content": "\\nimport os\\n\\nprint(os.getcwd())\\n"}')]
    inline = "<tool_call><function=write_file><parameter=path>main.py</parameter></function></tool_call>"
    assert both_ways(inline)[1] == [("write_file", '{"path": "main.py"}')]


def test_a_value_may_hold_the_formats_other_markers():
    text = ("<tool_call>\n<function=write_file>\n<parameter=content>\n<tool_call>\n<function=x>\n</function>\n"
            "</tool_call>\n</parameter>\n</function>\n</tool_call>")
    assert both_ways(text)[1] == [
        ("write_file", '{"content": "<tool_call>\\n<function=x>\\n</function>\\n</tool_call>"}')]


def test_a_missing_function_end_and_block_end():
    text = "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</tool_call>\nDone."
    assert both_ways(text) == ("\nDone.", [("get_weather", '{"city": "Oslo"}')])
    assert both_ways(text[: text.index("</tool_call>")]) == ("", [("get_weather", '{"city": "Oslo"}')])


def test_rendering_is_the_templates_form():
    assert QWEN3_CODER.render_calls([("get_weather", {"city": "Paris", "days": 3})]) == (
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n3\n"
        "</parameter>\n</function>\n</tool_call>")
