"""A reply that stops right after a call's last `}` (several models never write the closing marker),
or inside the closing marker: the call is returned all the same, whole and streamed alike, and no
marker text leaks into the content. `parse` checks every chunking against the whole result."""

import pytest

from tests.formats.format_checks import make_request, parse, stream_deltas
from toolwire.formats.registry import ToolParserManager

WEATHER = ("get_weather", '{"city": "Paris"}')
SEARCH = ("search", '{"q": "x"}')

DS_BEGIN, DS_CALL, DS_SEP = "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>"
DS_CALL_END, DS_END = "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>"
V3_CALL = f'{DS_CALL}function{DS_SEP}get_weather\n```json\n{{"city": "Paris"}}\n```'
V31_CALL = f'{DS_CALL}get_weather{DS_SEP}{{"city": "Paris"}}'

# (parser, the reply with its closing marker, the closing marker)
CLOSED_REPLIES = {
    "hermes": ("hermes", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
               "</tool_call>"),
    "internlm": ("internlm", '<|action_start|><|plugin|>\n{"name": "get_weather", "parameters": {"city": "Paris"}}'
                 "<|action_end|>", "<|action_end|>"),
    "jamba": ("jamba", ' <tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_calls>',
              "</tool_calls>"),
    "deepseekv3": ("deepseekv3", DS_BEGIN + V3_CALL + DS_CALL_END + DS_END, DS_END),
    "deepseekv3 call end": ("deepseekv3", DS_BEGIN + V3_CALL + DS_CALL_END + DS_END, DS_CALL_END + DS_END),
    "deepseekv31": ("deepseekv31", DS_BEGIN + V31_CALL + DS_CALL_END + DS_END, DS_END),
    "deepseekv31 call end": ("deepseekv31", DS_BEGIN + V31_CALL + DS_CALL_END + DS_END, DS_CALL_END + DS_END),
    "llama4_pythonic": ("llama4_pythonic", '<|python_start|>[get_weather(city="Paris")]<|python_end|>',
                        "<|python_end|>"),
}


@pytest.mark.parametrize("case", sorted(CLOSED_REPLIES))
def test_reply_ending_without_its_closing_marker_is_a_call(case):
    parser, text, closing = CLOSED_REPLIES[case]
    assert text.endswith(closing)
    assert parse(parser, text) == ("", [WEATHER])
    unclosed = text[: -len(closing)]
    assert parse(parser, unclosed) == ("", [WEATHER])
    assert parse(parser, unclosed + "\n") == ("", [WEATHER])


@pytest.mark.parametrize("case", sorted(CLOSED_REPLIES))
def test_closing_marker_cut_off_by_the_end_of_output_is_not_content(case):
    parser, text, closing = CLOSED_REPLIES[case]
    unclosed = text[: -len(closing)]
    for kept in range(1, len(closing)):
        assert parse(parser, unclosed + closing[:kept]) == ("", [WEATHER]), closing[:kept]


def test_hermes_reported_reply_through_the_public_methods():
    # The report's reply, through exactly the methods the server calls.
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}'
    parser_class = ToolParserManager.get_tool_parser("hermes")
    info = parser_class(None).extract_tool_calls(text, make_request())
    assert info.tools_called
    assert [(c.function.name, c.function.arguments) for c in info.tool_calls] == [WEATHER]
    assert info.content is None

    deltas = [d for d in stream_deltas("hermes", [text[:12], text[12:40], text[40:]]) if d is not None]
    assert "".join(d.content or "" for d in deltas) == ""
    streamed = [call for d in deltas for call in d.tool_calls]
    assert streamed[0].function.name == "get_weather"
    assert "".join(call.function.arguments or "" for call in streamed) == WEATHER[1]


def test_content_before_and_two_calls_without_closing_marker():
    text = 'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}, ' \
           '{"name": "search", "arguments": {"q": "x"}}'
    assert parse("hermes", text) == ("Checking.\n", [WEATHER, SEARCH])


def test_text_after_an_unclosed_call_is_content():
    text = '<|action_start|><|plugin|>\n{"name": "get_weather", "parameters": {"city": "Paris"}}\nDone.'
    assert parse("internlm", text) == ("\nDone.", [WEATHER])


@pytest.mark.parametrize("tail", ["]", ""], ids=["array closed", "array cut"])
def test_jamba_array_cut_after_complete_calls(tail):
    text = ('<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}, '
            '{"name": "search", "arguments": {"q": "x"}}' + tail)
    assert parse("jamba", text) == ("", [WEATHER, SEARCH])


def test_cut_json_object_is_left_as_before():
    # Not a complete object: an uncommitted call stays content (this fix does not change that).
    text = '<tool_call>\n{"na'
    assert parse("hermes", text) == (text, [])
