"""minimax_m2 (MiniMax-M2): `<minimax:tool_call>\\n<invoke name="f">\\n<parameter name="k">V</parameter>...`."""

from tests.formats.streaming_harness import assert_stream_matches_whole
from toolwire.formats.families.xml_calls import MINIMAX_M2, MinimaxM2ToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.protocol.chat import ChatCompletionRequest

REQUEST = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=[
    {"type": "function", "function": {"name": "search_web", "parameters": {"type": "object", "properties": {
        "query_tag": {"type": "array", "items": {"type": "string"}},
        "query_list": {"type": "array", "items": {"type": "string"}}}}}},
])


def both_ways(text: str):
    result = None
    for sizes in ("whole", 1, 2, 5, "random"):
        result = assert_stream_matches_whole(MinimaxM2ToolParser, text, REQUEST, sizes)
    return result


def test_names():
    assert ToolParserManager.get_tool_parser("minimax_m2").family is MINIMAX_M2
    assert ToolParserManager.get_tool_parser("minimax-m2").family is MINIMAX_M2  # SGLang's spelling


def test_the_tool_calling_guides_example_two_invokes_in_one_block():
    text = ('<minimax:tool_call>\n<invoke name="search_web">\n<parameter name="query_tag">["technology", "events"]'
            '</parameter>\n<parameter name="query_list">["\\"OpenAI\\" \\"latest\\" \\"release\\""]</parameter>\n'
            '</invoke>\n<invoke name="search_web">\n<parameter name="query_tag">["technology", "events"]</parameter>\n'
            '<parameter name="query_list">["\\"Gemini\\" \\"latest\\" \\"release\\""]</parameter>\n</invoke>\n'
            '</minimax:tool_call>')
    tags = '"query_tag": ["technology", "events"]'
    assert both_ways(text) == ("", [
        ("search_web", '{%s, "query_list": ["\\"OpenAI\\" \\"latest\\" \\"release\\""]}' % tags),
        ("search_web", '{%s, "query_list": ["\\"Gemini\\" \\"latest\\" \\"release\\""]}' % tags),
    ])


def test_content_before_and_after():
    text = ('Searching now.\n<minimax:tool_call>\n<invoke name="search_web">\n<parameter name="query_tag">["news"]'
            '</parameter>\n</invoke>\n</minimax:tool_call>\nI will report back.')
    assert both_ways(text) == ("Searching now.\n\nI will report back.", [("search_web", '{"query_tag": ["news"]}')])


def test_rendering_is_the_templates_form():
    assert MINIMAX_M2.render_calls([("search_web", {"query_tag": ["a"]}), ("search_web", {})]) == (
        '<minimax:tool_call>\n<invoke name="search_web">\n<parameter name="query_tag">["a"]</parameter>\n</invoke>\n'
        '<invoke name="search_web">\n</invoke>\n</minimax:tool_call>')
